"""The kit's one record format, and the one loader every reader goes through.

Every JSON file the kit writes as a result (a bench's ``results.json``, a load test's ``load.json``,
``parity.json``, ``candidates.json``, a report's ``report.json``, ``diff.json``) is a record: one
object with ``schema_version``, ``kind``, ``created_at`` and ``environment`` (``null`` where a run had
no connection to describe), then the fields of its kind. `read_record` checks the kind and the
version before anything reads a field; records of schema 2 (no ``kind``, which their file name
gave) are read as well, so curated evidence stays readable. The task's own ``report.json`` follows
the harness's schema instead and lives in its own folder.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from perfkit.errors import ConfigurationError
from perfkit.judge.bench import growth_verdict
from perfkit.judge.candidates import CandidateOutcome
from perfkit.judge.diff import Run
from perfkit.judge.outcome import Check
from perfkit.measure.parity import DifferenceOutcome, ParityReport
from perfkit.measure.results import BenchRecord, LatencySeries, latency_table, tidy
from perfkit.paths import unwritable
from perfkit.record.runs import INCOMPLETE, write_new

RECORD_SCHEMA_VERSION = 3
READABLE_VERSIONS = (2, RECORD_SCHEMA_VERSION)
Kind = Literal["bench", "load", "parity", "candidates", "report", "diff"]
FILE_NAMES: dict[str, Kind] = {
    "results.json": "bench",
    "load.json": "load",
    "parity.json": "parity",
    "candidates.json": "candidates",
    "report.json": "report",
    "diff.json": "diff",
}
"""Where each kind is written, and how a record of schema 2 (which had no ``kind``) is told apart."""


def record_document(kind: Kind, body: dict[str, Any], *, environment: dict[str, Any] | None) -> dict[str, Any]:
    """``body`` inside the record envelope (a ``created_at`` in ``body`` is kept)."""
    return {
        "schema_version": RECORD_SCHEMA_VERSION,
        "kind": kind,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "environment": environment,
        **body,
    }


def write_record(
    directory: Path, kind: Kind, body: dict[str, Any], *, environment: dict[str, Any] | None = None
) -> Path:
    """The record ``kind`` in ``directory`` under its own file name; never overwrites."""
    name = next(name for name, known in FILE_NAMES.items() if known == kind)
    document = record_document(kind, body, environment=environment)
    return write_new(directory / name, json.dumps(document, indent=2, allow_nan=True) + "\n")


def read_record(path: Path, kind: Kind) -> dict[str, Any]:
    """The record at ``path``, refused in one line when it is not a record of ``kind`` this kit reads."""
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such record") from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(f"{path}: not a JSON record ({exc})") from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{path}: not a record (a JSON object with schema_version and kind)")
    version = document.get("schema_version")
    if version not in READABLE_VERSIONS:
        raise ConfigurationError(
            f"{path}: record schema version {version!r} is not supported (this kit reads {list(READABLE_VERSIONS)})"
        )
    found = document.get("kind", FILE_NAMES.get(path.name)) if version == 2 else document.get("kind")
    if found != kind:
        raise ConfigurationError(f"{path}: a {found or 'unknown'} record where a {kind} record was expected")
    return document


# --- bench records ----------------------------------------------------------------------------


def bench_body(record: BenchRecord, checks: list[Check]) -> dict[str, Any]:
    """The record's fields, then what is derived from them (the checks, the latency table, the fits)."""
    body = asdict(record)
    body.pop("environment")
    body["derived"] = {
        "checks": [check.to_json() for check in checks],
        "latency": latency_table(record).to_dict(orient="records"),
        "memory_fits": {
            impl: asdict(fit) | {"verdict": growth_verdict(fit)}
            for impl in ("before", "after")
            if (fit := record.memory_fit(impl)) is not None
        },
    }
    return body


def save_bench(record: BenchRecord, directory: Path, checks: list[Check]) -> dict[str, Path]:
    """results.json (the record) and results.csv (its long form)."""
    return {
        "json": write_record(directory, "bench", bench_body(record, checks), environment=record.environment),
        "csv": write_new(directory / "results.csv", tidy(record).to_csv(index=False)),
    }


LEGACY_FIELDS = {"user_id": "key"}
"""Fields of the entries of records written before subjects (all of the default subject), as named now:
the one place where the kit still says what the default subject called its key."""


def _renamed(entry: dict[str, Any]) -> dict[str, Any]:
    return {LEGACY_FIELDS.get(name, name): value for name, value in entry.items()}


def bench_record(document: dict[str, Any]) -> BenchRecord:
    """The bench record inside a bench document: its own fields, whatever the envelope adds, each entry's
    fields as named now (`LEGACY_FIELDS`)."""
    fields = {f.name: document[f.name] for f in dataclasses.fields(BenchRecord) if f.name in document}
    for listed in ("latency", "memory", "instructions", "concurrency"):
        if listed in fields:
            fields[listed] = [_renamed(entry) for entry in fields[listed]]
    fields["environment"] = fields.get("environment") or {}
    fields["latency"] = [LatencySeries(**s) for s in fields.get("latency", [])]
    return BenchRecord(**fields)


def bench_checks_of(document: dict[str, Any]) -> list[Check]:
    return [Check.from_json(check) for check in document.get("derived", {}).get("checks", [])]


def load_bench(path: Path) -> BenchRecord:
    """The bench record of a results.json."""
    return bench_record(read_record(path, "bench"))


def report_outputs(report: Path) -> dict[str, Path]:
    """What the notebooks of a report declared in their manifests: kind -> record path."""
    document = read_record(report / "report.json", "report")
    return {kind: report / path for notebook in document["notebooks"] for kind, path in notebook["outputs"].items()}


def load_run(path: Path) -> Run:
    """A report directory or a bench results directory, as the bench record and checks it holds."""
    path = path.resolve()
    if (path / INCOMPLETE).exists():
        raise ConfigurationError(
            f"{path} did not finish (it holds {INCOMPLETE}): its figures are partial; compare runs that ran to the end"
        )
    if (path / "results.json").is_file():
        results = path / "results.json"
    elif (path / "report.json").is_file():
        results = report_outputs(path).get("bench", Path())
        if not results.is_file():
            raise ConfigurationError(f"{path}: the report holds no bench results (did its scaling notebook finish?)")
    else:
        raise ConfigurationError(f"{path}: neither a report directory (report.json) nor a bench run (results.json)")
    document = read_record(results, "bench")
    return Run(path.name, bench_record(document), bench_checks_of(document))


# --- parity and candidates --------------------------------------------------------------------


def save_parity_reports(
    directory: Path,
    reports: list[ParityReport],
    *,
    differences: Sequence[DifferenceOutcome] = (),
    environment: dict[str, Any] | None = None,
) -> Path:
    """parity.json in ``directory`` (created if needed); refuses to overwrite."""
    with unwritable(directory):
        directory.mkdir(parents=True, exist_ok=True)
    body = {
        "all_agree": all(not report.mismatches for report in reports),
        "reports": [report.to_json() for report in reports],
        "differences": [outcome.to_json() for outcome in differences],
        "differences_confirmed": all(outcome.confirmed for outcome in differences),
        "words": asdict(reports[0].words) if reports else None,
        "subject": dict(reports[0].subject) if reports else None,
    }
    return write_record(directory, "parity", body, environment=environment)


def save_candidates(directory: Path, outcomes: Sequence[CandidateOutcome]) -> Path:
    """candidates.json in ``directory``, each run directory relative to it, as every path a report holds."""
    directory = directory.resolve()
    with unwritable(directory):
        directory.mkdir(parents=True, exist_ok=True)
    documents = [outcome.to_json() for outcome in outcomes]
    for document in documents:
        if document["directory"] and Path(document["directory"]).is_relative_to(directory):
            document["directory"] = str(Path(document["directory"]).relative_to(directory))
    return write_record(directory, "candidates", {"candidates": documents})


def load_candidates(directory: Path) -> list[CandidateOutcome]:
    """The outcomes `save_candidates` wrote in ``directory``, each run directory absolute again."""
    document = read_record(directory / "candidates.json", "candidates")
    outcomes = [CandidateOutcome.from_json(outcome) for outcome in document["candidates"]]
    return [replace(o, directory=str(directory / o.directory) if o.directory else "") for o in outcomes]
