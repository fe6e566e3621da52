"""``try``: a candidate rewrite in one step: parity against the legacy version, then the bench beside
the optimized version, with plans, plan regret and memory, into a new results directory.

Nothing is measured or written before the candidate has run once and agreed with the legacy
version everywhere: a candidate that fails is refused with one line naming its file.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import psycopg

from perfkit.commands._options import (
    Command,
    add_output,
    add_quick,
    add_statement_timeout,
    add_subject,
    print_checks,
)
from perfkit.commands.bench import BenchConfig, BenchRun, judged_against, run_bench
from perfkit.data import server
from perfkit.data.candidates import Candidate, list_candidates, load_candidate, shown
from perfkit.data.datasets import candidate_reader, grant_reading
from perfkit.data.implementations import apply_settings, prepare_session
from perfkit.data.instances import Instance, list_instances, read_instance
from perfkit.errors import CandidateError, KitError, ParityError
from perfkit.judge.candidates import CandidateOutcome, parity_check
from perfkit.measure.containment import Containment, Watchdog, refusals
from perfkit.measure.parity import check_parity, first_difference, random_instances
from perfkit.measure.timing import DECISION_MIN_SAMPLES
from perfkit.measure.variants import Variant, candidate_variants, subject_variants
from perfkit.paths import RESULTS_DIR
from perfkit.subject import Subject, load_subject

Connection = psycopg.Connection[Any]

REFERENCE_VARIANTS = {
    ("after", None), ("rewrite", None), ("floor", None),
    ("scan_floor", None), ("scan_floor", "no_seqscan"), ("scan_floor", "no_index"),
}  # fmt: skip
"""Timed beside a candidate (by role and forced alternative): what its figures are read against."""
CANDIDATE_MIN_SAMPLES = DECISION_MIN_SAMPLES
"""A candidate is judged, like the DISTINCT rewrite, by the ratio of its median to the optimized
version's: it is sampled until that ratio is clearly below or above 1, its median is settled or its
budget spent (not to 100 samples for a p99 nobody judges), and at least this often."""
CANDIDATE_ALTERNATIVE_MIN_SAMPLES = 3
"""A candidate's plan regret is information, not a target: a few samples of each forced alternative
tell a plan that is slower by half from one that is not."""


def try_candidate(
    target: server.ServerTarget,
    name_or_path: str | Path,
    results_base: Path,
    *,
    quick: bool,
    statement_timeout_ms: int = 60_000,
    progress: bool = True,
    subject: Subject | None = None,
    log: Callable[[str], None] = print,
) -> tuple[Candidate, int, BenchRun]:
    """Load, check and bench one candidate; return it, the number of users parity covered, and the run."""
    candidate, users = check_candidate(
        target, name_or_path, quick=quick, statement_timeout_ms=statement_timeout_ms, subject=subject
    )
    log(f"try: {candidate.name}: parity holds for {users} users")
    run = bench_candidates(
        target, [candidate], results_base, quick=quick, statement_timeout_ms=statement_timeout_ms,
        progress=progress, log=log,
    )  # fmt: skip
    return candidate, users, run


def check_candidate(
    target: server.ServerTarget,
    name_or_path: str | Path,
    *,
    quick: bool,
    statement_timeout_ms: int = 60_000,
    subject: Subject | None = None,
) -> tuple[Candidate, int]:
    """Load a candidate of ``subject`` and check its parity with the legacy version (`candidate_parity`);
    return it and how many keys agreed."""
    candidate = load_candidate(name_or_path, subject)
    with (
        server.connect(target.dsn, autocommit=True, application_name="perfkit-try") as conn,
        server.connect(target.dsn, autocommit=True, application_name="perfkit-try") as observer,
        _reader_session(target, observer) as reader,
    ):
        apply_settings(conn, {"statement_timeout": str(statement_timeout_ms)})
        users = candidate_parity(
            conn, observer, candidate, quick=quick, time_limit=statement_timeout_ms / 1000, reader=reader
        )
    return candidate, users


def bench_candidates(
    target: server.ServerTarget,
    candidates: Sequence[Candidate],
    results_base: Path,
    *,
    quick: bool,
    grid: Sequence[int] = (),
    statement_timeout_ms: int = 60_000,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> BenchRun:
    """One bench of the candidates beside the optimized version and its references (`with_candidates`),
    at the subject's trial grid and the headline at full scale (or at ``grid``): what ``try`` runs when no
    scaling bench does."""
    subject = candidates[0].subject
    scale = subject.scale
    base = BenchConfig.quick_config(subject) if quick else replace(BenchConfig.full(subject), grid=scale.trial_grid)
    base = replace(
        base,
        memory_implementations=("after",),
        client_implementations=(),  # a candidate's Python work shows in its memray allocations
        flamegraphs=False,
        statement_timeout_ms=statement_timeout_ms,
        prefix=f"try-{candidates[0].name}" if len(candidates) == 1 else "try-candidates",
    ).on_grid(grid)
    config, variants = with_candidates(base, candidates)
    references = {
        name for name, v in subject_variants(subject).items() if (v.role, v.alternative) in REFERENCE_VARIANTS
    }
    kept = {*references, *variants}
    config = replace(config, plans={name: plan for name, plan in config.plans.items() if name in kept})
    instance = read_instance(scale.quick_instance if quick else scale.instance, subject)
    return run_bench(target, instance, config, results_base, variants=variants, progress=progress, log=log)


def with_candidates(config: BenchConfig, candidates: Sequence[Candidate]) -> tuple[BenchConfig, dict[str, Variant]]:
    """``config`` timing the candidates too, in the same interleaved rounds as every other variant, so
    that each variant is timed once and the candidates' ratios to the optimized version are comparable
    with one another. Each candidate is sampled until it is clearly faster or slower than the optimized
    version, its median is settled or half the DISTINCT rewrite's budget is spent (six candidates
    share a run), and at least `CANDIDATE_MIN_SAMPLES` times; its forced alternatives, whose plan
    regret is information, at the requirement's scale only (the headline, else the largest N), until
    they are clearly slower than the candidate or settled, on a quarter of the references' budget
    and at least `CANDIDATE_ALTERNATIVE_MIN_SAMPLES` times. Its memory is measured at the ends of the
    grid, and its backend instructions counted where the optimized version's are."""
    variants: dict[str, Variant] = {}
    plans = dict(config.plans)
    rewrite = config.subject.reference("rewrite")
    reference, distinct = config.plans["after[no_seqscan]"], config.plans[rewrite.name if rewrite else "after"]
    alternative = replace(
        reference,
        min_samples=CANDIDATE_ALTERNATIVE_MIN_SAMPLES,
        time_budget=reference.time_budget / 4,
        every_scenario=False,
    )
    for candidate in candidates:
        own = candidate_variants(candidate)
        variants |= own
        plans[candidate.name] = judged_against(
            replace(distinct, min_samples=CANDIDATE_MIN_SAMPLES, time_budget=distinct.time_budget / 2),
            "after",
            own[candidate.name],
            config.subject.goals,
        )
        plans |= {
            name: judged_against(alternative, candidate.name, variant, config.subject.goals)
            for name, variant in own.items()
            if name != candidate.name
        }
    timed = replace(
        config,
        plans=plans,
        candidates=tuple(candidate.name for candidate in candidates),
        memory_implementations=(*config.memory_implementations, *(str(c.path) for c in candidates)),
    )
    return timed, variants


@contextmanager
def _reader_session(target: server.ServerTarget, admin: psycopg.Connection[Any]) -> Iterator[Connection | None]:
    """A session as the role that may only read the datasets (`candidate_reader`), where the kit may
    create it; None elsewhere."""
    dsn = candidate_reader(admin, target.dsn, []) if target.embedded else None
    if dsn is None:
        yield None
        return
    with server.connect(dsn, autocommit=True, application_name="perfkit-try") as reader:
        yield reader


def candidate_parity(
    conn: Connection,
    observer: Connection,
    candidate: Candidate,
    *,
    quick: bool,
    time_limit: float,
    reader: Connection | None = None,
) -> int:
    """The candidate against the legacy version (`check_parity`) on every shipped instance with
    hand-checked summaries and on random datasets, as the parity notebook checks the optimized
    version, each call bounded and checked (`Containment`); raises `ParityError` naming the first
    difference. Returns how many users agreed.

    The candidate is called on ``reader`` when given (a session of a role that may only read the
    datasets, granted each as parity reaches it), else inside the kit's read-only transaction."""
    subject = candidate.subject
    shipped = [read_instance(name, subject) for name in list_instances(subject)]
    shipped = [instance for instance in shipped if instance.expected]
    generated = random_instances(3 if quick else 20, 300 if quick else 5000, 0, subject)
    users = 0
    watchdog = Watchdog(time_limit)
    own = conn if reader is None else reader
    if reader is not None:
        apply_settings(reader, {"statement_timeout": str(round(time_limit * 1000))})
    containment = Containment(shown(candidate.path), own, observer, watchdog)
    dataset = None

    def contained(session: Connection, key: int) -> dict[str, Any]:
        nonlocal dataset
        assert session is conn
        if reader is not None:
            row = session.execute("SELECT current_schema()", prepare=False).fetchone()
            assert row is not None
            if row[0] != dataset:
                dataset = str(row[0])
                grant_reading(observer, [dataset])
                prepare_session(reader, dataset)
        result: dict[str, Any] = containment.call(candidate.fetch, key)
        return result

    with refusals(shown(candidate.path)), closing(watchdog):
        for instances, keep in ((shipped, True), (generated, False)):
            reports = check_parity(
                conn, instances, implementation=contained, keep_datasets=keep, stop_at_first_difference=True
            )
            for report in reports:
                difference = first_difference(report.rows, subject=candidate.name, key=subject.words.key)
                if difference is not None:
                    raise ParityError(f"{shown(candidate.path)}: differs from the legacy version: {difference}")
                users += len(report.rows)
    return users


def try_candidates(
    target: server.ServerTarget,
    names: Sequence[str] | str,
    results_base: Path,
    *,
    quick: bool,
    grid: Sequence[int] = (),
    subject: Subject | None = None,
    log: Callable[[str], None] = print,
) -> list[CandidateOutcome]:
    """Try each candidate (``"all"``: every one shipped in candidates/): parity one by one, then one
    bench of those that agree (`bench_candidates`, at ``grid`` when given); a refusal is an outcome,
    not an error."""

    def bench(agreed: list[Candidate]) -> BenchRun | None:
        if not agreed:
            return None
        return bench_candidates(target, agreed, results_base, quick=quick, grid=grid, progress=False, log=log)

    outcomes, _ = _screen_then_bench(target, names, load_subject(subject), quick=quick, bench=bench, log=log)
    return outcomes


def bench_with_candidates(
    target: server.ServerTarget,
    instance: Instance,
    config: BenchConfig,
    names: Sequence[str] | str,
    results_base: Path,
    *,
    under_load: Sequence[str] | str = "all",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> tuple[BenchRun, list[CandidateOutcome]]:
    """The bench of ``config`` with every candidate that agrees with the legacy version timed in it
    (`with_candidates`): what the report's scaling notebook runs, so that the optimized version and its
    references are timed once for the whole report, not again beside the candidates. The candidates
    ``under_load`` are also timed under concurrent calls (each adds minutes at full scale)."""
    if under_load != "all":
        config = replace(config, loaded_candidates=tuple(under_load))

    def bench(agreed: list[Candidate]) -> BenchRun:
        timed, variants = with_candidates(config, agreed)
        return run_bench(target, instance, timed, results_base, variants=variants, progress=progress, log=log)

    outcomes, run = _screen_then_bench(target, names, config.subject, quick=config.quick, bench=bench, log=log)
    assert run is not None
    return run, outcomes


def _screen_then_bench(
    target: server.ServerTarget,
    names: Sequence[str] | str,
    subject: Subject,
    *,
    quick: bool,
    bench: Callable[[list[Candidate]], BenchRun | None],
    log: Callable[[str], None],
) -> tuple[list[CandidateOutcome], BenchRun | None]:
    """Parity of each candidate, then ``bench`` of those that agree; one refused while timed is an
    outcome, and the bench runs again without it."""
    outcomes: dict[str, CandidateOutcome] = {}
    agreed: dict[str, tuple[Candidate, int]] = {}
    order = list_candidates(subject) if names == "all" else list(names)
    for name in order:
        try:
            agreed[name] = check_candidate(target, name, quick=quick, subject=subject)
        except (ParityError, CandidateError) as exc:
            outcomes[name] = CandidateOutcome(name, _description(name, subject), [parity_check(name, refusal=str(exc))])
            continue
        log(f"try: {agreed[name][0].name}: parity holds for {agreed[name][1]} users")
    while True:
        try:
            run = bench([candidate for candidate, _ in agreed.values()])
        except CandidateError as exc:
            culprit = next((name for name, (c, _) in agreed.items() if shown(c.path) == exc.path), None)
            if culprit is None:
                raise
            candidate, _ = agreed.pop(culprit)
            outcomes[culprit] = CandidateOutcome(
                candidate.name, candidate.description, [parity_check(candidate.name, refusal=str(exc))]
            )
            continue
        break
    for name, (candidate, users) in agreed.items():
        assert run is not None
        checks = [parity_check(candidate.name, users=users), *(c for c in run.checks if c.subject == candidate.name)]
        outcomes[name] = CandidateOutcome(candidate.name, candidate.description, checks, str(run.directory))
    return [outcomes[name] for name in order], run


def _description(name: str, subject: Subject) -> str:
    try:
        return load_candidate(name, subject).description
    except KitError:
        return ""


class TryCommand(Command):
    name = "try"
    help = "a candidate rewrite in one step: parity with the legacy version, then timed beside the optimized one"
    group = "investigate"
    example = "try candidates/fenced_price.sql --quick"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("candidate", help="a name from candidates/ or the path of a .py or .sql file")
        add_quick(parser, "the quick instance and grid: about a minute")
        add_output(parser, RESULTS_DIR)
        add_statement_timeout(parser, "statement_timeout of every query the candidate runs", default=60_000)
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        candidate, users, run = try_candidate(
            server.resolve_server(),
            args.candidate,
            args.output,
            quick=args.quick,
            statement_timeout_ms=args.statement_timeout,
            progress=sys.stderr.isatty(),
            subject=load_subject(args.subject),
        )
        print(f"{candidate.name}: {candidate.description.splitlines()[0]}")
        print(f"parity: the legacy and {candidate.name} agree for all {users} users")
        print_checks([c for c in run.checks if c.subject == candidate.name])
        print(f"try: summary in {run.files['summary']}")
        return 0
