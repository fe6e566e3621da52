"""``evaluate``: the task's evaluation report: each requirement's check per implementation, a quick
bench, and a summary, written to ``evaluation/reports/<YYYY-MM-DD>/<HH-MM-SS>/report.json``.

The file follows the task's schema, ``evaluation/task_report.schema.json``, not the kit's record
format. Speedups are ratios of medians measured side by side in one interleaved run; where one
cannot be computed it is ``null`` with the reason.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from perfkit.commands._options import Command, add_output, add_scale
from perfkit.commands.bench import BenchConfig, run_bench
from perfkit.data import server
from perfkit.data.environment import collect_environment
from perfkit.data.instances import read_instance
from perfkit.judge import goals
from perfkit.judge.bench import bench_checks
from perfkit.judge.capacity import CAPACITY, THROUGHPUT, loaded
from perfkit.judge.outcome import Check, Result
from perfkit.judge.requirements import REQUIREMENTS, Scale, run_requirements
from perfkit.measure.results import BenchRecord
from perfkit.measure.timing import describe, median, percentile_interval
from perfkit.paths import TASK_REPORTS_DIR
from perfkit.record.runs import mark_complete, new_run_directory, write_new
from perfkit.subject import IMPLEMENTATIONS

TASK_REPORT_SCHEMA_VERSION = 2
FAIL_TO_PASS = (Result.FAIL, Result.PASS)
PASS_TO_PASS = (Result.PASS, Result.PASS)
TEST_OUTCOMES = {
    Result.PASS: "passed",
    Result.FAIL: "failed",
    Result.INCONCLUSIVE: "inconclusive",
    Result.INFO: "failed",
}
PARITY_REQUIREMENTS = ("parity_reference", "parity_generated")


def run_task_evaluation(
    target: server.ServerTarget,
    implementations: Sequence[str],
    *,
    quick: bool,
    reports_base: Path = TASK_REPORTS_DIR,
    log: Callable[[str], None] = print,
) -> tuple[Path, dict[str, Any]]:
    """Run every requirement against each implementation, then a quick bench; write report.json."""
    started = datetime.now(UTC)
    directory = new_run_directory(reports_base / started.strftime("%Y-%m-%d"), "", started, stamp="%H-%M-%S")
    log(f"evaluation: {', '.join(implementations)} ({'quick' if quick else 'requirement'} scale) into {directory}")
    outcomes = run_requirements(target, implementations, Scale.quick() if quick else Scale.full(), directory, log=log)
    log("evaluation: quick bench of both implementations")
    config = replace(BenchConfig.quick_config(), memory=False, first_calls=0)
    bench = run_bench(target, read_instance("quick"), config, directory, progress=False, log=lambda _: None)
    with server.connect(target.dsn) as conn:
        environment = collect_environment(conn, dsn=target.dsn, embedded=target.embedded)
    document = task_report(outcomes, bench.record, implementations, started=started, quick=quick)
    document["environment"] = environment
    document["bench_directory"] = str(bench.directory.relative_to(directory))
    write_new(directory / "report.json", json.dumps(document, indent=2, allow_nan=False) + "\n")
    mark_complete(directory)
    return directory, document


def task_report(
    outcomes: Sequence[Check],
    record: BenchRecord,
    implementations: Sequence[str],
    *,
    started: datetime,
    quick: bool,
) -> dict[str, Any]:
    """The report's fields from the outcomes and the bench record (no environment: the caller adds it).

    The harness's fields come first (``evaluation_id``, ``timestamp``, ``environment``,
    ``test_results``, ``performance_benchmarks``, ``scalability_results``, ``summary``), with the
    kit's content under them; the kit's own fields follow. A figure that was not measured is absent,
    and ``not_measured`` says why.
    """
    by_requirement: dict[str, dict[str, Result]] = {}
    for outcome in outcomes:
        by_requirement.setdefault(outcome.name, {})[outcome.subject] = outcome.result
    both = [name for name, result in by_requirement.items() if {"before", "after"} <= set(result)]
    checks = bench_checks(record)
    not_run = {
        impl: f"--impl left {impl} out: no tests, benchmarks or scalability results"
        for impl in IMPLEMENTATIONS
        if impl not in implementations
    }
    return {
        "evaluation_id": started.strftime("%Y-%m-%d/%H-%M-%S"),
        "timestamp": started.isoformat(timespec="seconds"),
        "environment": {},
        "test_results": {
            f"{impl}_tests": [_test_entry(o) for o in outcomes if o.subject == impl] for impl in implementations
        },
        "performance_benchmarks": {
            impl: {
                "latency": _benchmarks(record, impl),
                "memory_at_scale": _figures_of(outcomes, "rss_at_scale", impl),
                "instructions": _instructions(record, impl),
                "under_load": _under_load(record, impl),
            }
            for impl in implementations
        },
        "scalability_results": {impl: _scalability(outcomes, impl) for impl in implementations},
        "summary": {
            "functional_parity_passed": _all_passed(by_requirement, PARITY_REQUIREMENTS, implementations),
            "performance_improvements": _improvements(record),
            "scalability_targets_met": _all_passed(
                by_requirement, [n for n in REQUIREMENTS if n not in PARITY_REQUIREMENTS], ["after"]
            )
            if "after" in implementations
            else None,
        },
        "not_measured": not_run,
        "schema_version": TASK_REPORT_SCHEMA_VERSION,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "requirements": {name: description for name, (description, _) in REQUIREMENTS.items()},
        "deterministic_checks": [c.to_json() for c in checks if "instructions" in c.name],
        "capacity": [c.to_json() for c in checks if c.name.startswith(CAPACITY) or c.name == THROUGHPUT],
        "fail_to_pass": [n for n in both if (by_requirement[n]["before"], by_requirement[n]["after"]) == FAIL_TO_PASS],
        "pass_to_pass": [n for n in both if (by_requirement[n]["before"], by_requirement[n]["after"]) == PASS_TO_PASS],
    }


def _figures_of(outcomes: Sequence[Check], requirement: str, implementation: str) -> dict[str, Any]:
    return next((o.figures for o in outcomes if (o.name, o.subject) == (requirement, implementation)), {})


def _scalability(outcomes: Sequence[Check], implementation: str) -> dict[str, Any]:
    """One call's memory against N: memray peak and allocation count per size, and the log-log slope."""
    memory = _figures_of(outcomes, "memory_constant", implementation)
    allocations = _figures_of(outcomes, "no_per_event_python_work", implementation)
    return {
        "peak_bytes_by_n": memory.get("peak_bytes", {}),
        "log_log_slope": memory.get("slope"),
        "allocations_by_n": allocations.get("allocations", {}),
    }


def _test_entry(check: Check) -> dict[str, Any]:
    """A requirement's check as the task's schema has a test: passed, failed or (a timing the machine
    could not settle) inconclusive, with its figures."""
    passed = check.result is Result.PASS
    return {
        "name": check.name,
        "requirement": check.name,
        "implementation": check.subject,
        "passed": passed,
        "measured": check.measured,
        "figures": check.figures,
        "outcome": TEST_OUTCOMES[check.result],
    }


def _all_passed(
    by_requirement: dict[str, dict[str, Result]], requirements: Sequence[str], implementations: Sequence[str]
) -> bool | None:
    """Whether every requirement named passed for every implementation named; None when none was run."""
    results = [
        by_requirement[name][impl] is Result.PASS
        for name in requirements
        for impl in implementations
        if impl in by_requirement.get(name, {})
    ]
    return all(results) if results else None


def _instructions(record: BenchRecord, implementation: str) -> dict[str, Any]:
    """The figures that reproduce on any machine: instructions of one warm call by N, the backend's
    (for the implementation's query) and the client's, and what one more event adds to each."""
    if "unavailable" in record.counting:
        return {"not_counted": record.counting["unavailable"]}
    figures: dict[str, Any] = {}
    for side, client in (("backend", False), ("client", True)):
        counts = (
            record.instruction_counts(implementation, client=True)
            if client
            else record.instruction_counts(implementation)
        )
        figures[f"{side}_by_n"] = {str(n): count for n, count in counts.items()}
        fit = record.instruction_fit(implementation, client=client)
        if fit is not None:
            figures[f"{side}_per_event"] = fit.slope
    return figures


def _benchmarks(record: BenchRecord, implementation: str) -> list[dict[str, Any]]:
    rows = []
    for series in record.latency:
        if series.variant == implementation and series.connection == "pooled" and series.seconds:
            p99 = describe(series.seconds)["p99"]
            rows.append(
                {
                    "n": series.n,
                    "user_id": series.key,  # the task report's own field name
                    "samples": len(series.seconds),
                    "median_ms": median(series.seconds) * 1000,
                    "p99_ms": p99.value * 1000,
                    "p99_label": p99.label,
                    **_p99_interval(series.seconds),
                }
            )
    return rows


def _under_load(record: BenchRecord, implementation: str) -> list[dict[str, Any]]:
    """The implementation's calls under concurrent clients (the legacy version is not loaded: its calls
    are Python loops the kit's client threads would serialize)."""
    return [
        {"scope": scope, "n": n, **series.figures()}
        for (scope, n), variants in loaded(record).items()
        for series in sorted(variants.get(implementation, []), key=lambda s: s.clients)
    ]


def _p99_interval(seconds: list[float]) -> dict[str, Any]:
    """The p99's 95% bootstrap interval, or why there is none."""
    if not describe(seconds)["p99"].supported:
        return {"p99_interval_reason": "fewer samples than a p99 needs: the value is the maximum"}
    low, high = percentile_interval(seconds, 99.0, confidence=goals.P99_CONFIDENCE)
    return {"p99_interval_ms": [low * 1000, high * 1000]}


def _improvements(record: BenchRecord) -> dict[str, dict[str, Any]]:
    """Per user of the bench: both medians and their ratio, or null and why."""
    improvements = {}
    for n in record.grid:
        before, after = record.series("before", n), record.series("after", n)
        user = next((s.key for s in (after, before) if s is not None), n)
        before_ms = median(before.seconds) * 1000 if before and before.seconds else None
        after_ms = median(after.seconds) * 1000 if after and after.seconds else None
        speedup, reason = None, None
        if before_ms is None or after_ms is None:
            reason = "one of the implementations was not timed at this size"
        elif after_ms <= 0 or not math.isfinite(before_ms / after_ms):
            reason = "the optimized median is zero: no ratio"
        else:
            speedup = before_ms / after_ms
        improvements[str(user)] = {
            "n": n,
            "before_median_ms": before_ms,
            "after_median_ms": after_ms,
            "speedup": speedup,
            "reason": reason,
            "samples": {"before": len(before.seconds) if before else 0, "after": len(after.seconds) if after else 0},
        }
    return improvements


class EvaluateCommand(Command):
    name = "evaluate"
    help = "the task's requirements run against each implementation, a quick bench, and report.json"
    group = "main"
    example = "evaluate --impl after"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--impl",
            action="append",
            choices=IMPLEMENTATIONS,
            help="implementation to check (repeatable; default: both)",
        )
        add_scale(parser)
        add_output(parser, TASK_REPORTS_DIR, "parent of <date>/<time>/report.json")

    def run(self, args: argparse.Namespace) -> int:
        implementations = args.impl or list(IMPLEMENTATIONS)
        directory, document = run_task_evaluation(
            server.resolve_server(), implementations, quick=not args.full, reports_base=args.output
        )
        summary = document["summary"]
        print(f"functional parity passed: {summary['functional_parity_passed']}")
        print(f"scalability targets met (after): {summary['scalability_targets_met']}")
        print(f"fail to pass: {', '.join(document['fail_to_pass']) or 'none'}")
        print(f"pass to pass: {', '.join(document['pass_to_pass']) or 'none'}")
        for user, figures in summary["performance_improvements"].items():
            speedup = f"{figures['speedup']:.1f}×" if figures["speedup"] is not None else f"n/a ({figures['reason']})"
            print(f"user {user} (N={figures['n']:,}): {speedup}")
        print(f"evaluation: {directory / 'report.json'}")
        return 0
