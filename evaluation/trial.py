"""Trying a candidate rewrite in one step: parity against the legacy version, then the bench beside
the optimized version, with plans, plan regret and memory, into a new results directory.

Nothing is measured or written before the candidate has run once and agreed with the legacy
version everywhere: a candidate that fails is refused with one line naming its file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg

from evaluation import db
from evaluation.bench import BenchConfig, BenchRun, run_bench
from evaluation.candidates import Candidate, list_candidates, load_candidate, shown
from evaluation.checks import Check
from evaluation.datasets import drop_dataset_schema, seed_dataset, use_dataset
from evaluation.errors import CandidateError, KitError, ParityError
from evaluation.implementations import apply_settings
from evaluation.instances import list_instances, read_instance
from evaluation.outputs import write_new
from evaluation.parity import compare_users, first_difference, random_instances
from evaluation.variants import candidate_variants

REFERENCE_VARIANTS = ("after", "distinct", "floor", "scan_floor", "scan_floor[no_seqscan]", "scan_floor[no_index]")
TRIAL_GRID = (10_000, 1_000_000)
"""At full scale a candidate is timed at these N of the scaling instance and at the headline."""


def try_candidate(
    target: db.ServerTarget,
    name_or_path: str | Path,
    results_base: Path,
    *,
    quick: bool,
    statement_timeout_ms: int = 60_000,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> tuple[Candidate, int, BenchRun]:
    """Load, check and bench one candidate; return it, the number of users parity covered, and the run."""
    candidate = load_candidate(name_or_path)
    with db.connect(target.dsn, autocommit=True, application_name="perfkit-try") as conn:
        apply_settings(conn, {"statement_timeout": str(statement_timeout_ms)})
        users = check_parity(conn, candidate, quick=quick)
    log(f"try: {candidate.name}: parity holds for {users} users")
    base = BenchConfig.quick_config() if quick else replace(BenchConfig.full(), grid=TRIAL_GRID)
    variants = candidate_variants(candidate)
    plans = {name: base.plans[name] for name in REFERENCE_VARIANTS}
    plans[candidate.name] = base.plans["after"]  # as many samples as the optimized version: a real p99
    plans |= {name: base.plans["after[no_seqscan]"] for name in variants if name != candidate.name}
    config = replace(
        base,
        plans=plans,
        candidate=candidate.name,
        memory_implementations=("after", str(candidate.path)),
        flamegraphs=False,
        statement_timeout_ms=statement_timeout_ms,
        prefix=f"try-{candidate.name}",
    )
    run = run_bench(
        target,
        read_instance("quick" if quick else "scaling"),
        config,
        results_base,
        variants=variants,
        progress=progress,
        log=log,
    )
    return candidate, users, run


def check_parity(conn: psycopg.Connection[Any], candidate: Candidate, *, quick: bool) -> int:
    """The candidate against the legacy version, user by user, on every shipped instance with expected
    summaries and on random datasets, as the parity notebook checks the optimized version. Stops at the
    first difference, which it names; returns how many users agreed."""
    shipped = [instance for instance in map(read_instance, list_instances()) if instance.expected]
    generated = random_instances(3 if quick else 20, 300 if quick else 5000, 0)
    users = 0
    for instance in [*shipped, *generated]:
        dataset = seed_dataset(conn, instance, progress=False)
        try:
            use_dataset(conn, dataset.schema)
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                for user in instance.user_ids:
                    with _refusals(candidate):
                        rows = compare_users(
                            conn,
                            [user],
                            event_counts=instance.event_counts,
                            expected={user: dict(instance.expected[user])} if user in instance.expected else None,
                            subject=candidate.fetch,
                        )
                    difference = first_difference(rows, subject=candidate.name)
                    if difference is not None:
                        raise ParityError(f"{shown(candidate.path)}: differs from the legacy version: {difference}")
                    users += 1
        finally:
            if instance in generated:
                drop_dataset_schema(conn, dataset.schema)
    return users


@contextmanager
def _refusals(candidate: Candidate) -> Iterator[None]:
    """What a candidate can do wrong when it runs, as one line that names its file."""
    try:
        yield
    except CandidateError:
        raise
    except psycopg.errors.ReadOnlySqlTransaction:
        raise CandidateError(
            shown(candidate.path), "tried to write: candidates run in read-only transactions; a summary only reads"
        ) from None
    except psycopg.errors.QueryCanceled:
        raise CandidateError(
            shown(candidate.path), "ran past the statement timeout: make it faster or raise --statement-timeout"
        ) from None
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CandidateError(shown(candidate.path), f"failed in PostgreSQL: {first}") from None
    except Exception as exc:  # a Python candidate's own bug, named with its type
        raise CandidateError(shown(candidate.path), f"raised {type(exc).__name__}: {exc}") from None


@dataclass
class TrialOutcome:
    """One candidate tried: refused (and why), or timed against the optimized version at each N."""

    candidate: str
    description: str
    parity: str
    refused: bool
    verdicts: list[dict[str, Any]] = field(default_factory=list)
    directory: str = ""


def try_candidates(
    target: db.ServerTarget,
    names: Sequence[str] | str,
    results_base: Path,
    *,
    quick: bool,
    log: Callable[[str], None] = print,
) -> list[TrialOutcome]:
    """Try each candidate (``"all"``: every one shipped in candidates/); a refusal is an outcome, not an error."""
    outcomes = []
    for name in list_candidates() if names == "all" else list(names):
        try:
            candidate, users, run = try_candidate(target, name, results_base, quick=quick, progress=False, log=log)
        except (ParityError, CandidateError) as exc:
            description = _description(name)
            outcomes.append(TrialOutcome(name, description, f"refused: {exc}", True))
            continue
        verdicts = [_verdict(c) for c in run.checks if c.note == candidate.name]
        outcomes.append(
            TrialOutcome(
                candidate.name,
                candidate.description,
                f"agrees with the legacy version for all {users} users",
                False,
                verdicts,
                str(run.directory),
            )
        )
    return outcomes


def _description(name: str) -> str:
    try:
        return load_candidate(name).description
    except KitError:
        return ""


def _verdict(check: Check) -> dict[str, Any]:
    return {"at": check.at, "name": check.name, "measured": check.measured}


def candidates_frame(outcomes: Sequence[TrialOutcome]) -> pd.DataFrame:
    """One row per candidate and N: parity, then the ratio of medians to the optimized version."""
    rows = []
    for outcome in outcomes:
        speeds = [v for v in outcome.verdicts if v["name"] == "candidate / optimized (median)"]
        parity = "refused" if outcome.refused else "holds"
        cells = [(v["at"], v["measured"]) for v in speeds] or [("", outcome.parity)]
        rows += [
            {"candidate": outcome.candidate, "parity": parity, "at": at, "candidate / optimized": measured}
            for at, measured in cells
        ]
    return pd.DataFrame.from_records(rows, columns=["candidate", "parity", "at", "candidate / optimized"])


def save_trials(directory: Path, outcomes: Sequence[TrialOutcome]) -> Path:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    documents = [asdict(outcome) for outcome in outcomes]
    for document in documents:  # run directories relative to the file, as every path a report holds
        if document["directory"] and Path(document["directory"]).is_relative_to(directory):
            document["directory"] = str(Path(document["directory"]).relative_to(directory))
    document = {"schema_version": 1, "candidates": documents}
    return write_new(directory / "candidates.json", json.dumps(document, indent=2) + "\n")
