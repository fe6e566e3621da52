"""The task's entry point: requirements per implementation, report.json against its schema, the patch."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from perfkit.commands.evaluate import task_report
from perfkit.judge.outcome import Check
from perfkit.measure.results import BenchRecord, LatencySeries
from perfkit.paths import PATCH, TASK_REPORT_SCHEMA
from perfkit.render.patch import render_patch

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_patch_is_the_diff_of_the_two_implementations() -> None:
    assert PATCH.read_text() == render_patch(), "patches/diff.patch is stale: run `make patch`"
    assert "+++ b/repository_after/summary.py" in PATCH.read_text()


def _outcome(requirement: str, implementation: str, passed: bool) -> Check:
    return Check.judged(requirement, "the requirement", "measured", passed, subject=implementation)


def test_requirements_sort_into_fail_to_pass_and_pass_to_pass() -> None:
    outcomes = [
        _outcome("parity_reference", "before", True),
        _outcome("parity_reference", "after", True),
        _outcome("parity_generated", "before", True),
        _outcome("parity_generated", "after", True),
        _outcome("memory_constant", "before", False),
        _outcome("memory_constant", "after", True),
    ]
    record = BenchRecord(environment={}, parameters={})
    record.latency += [LatencySeries("before", 1000, 7, [0.030] * 3), LatencySeries("after", 1000, 7, [0.002] * 100)]
    record.latency += [LatencySeries("after", 3000, 8, [0.004] * 100)]
    document = task_report(outcomes, record, ["before", "after"], started=datetime.now(UTC), quick=True)
    jsonschema.validate(document, json.loads(TASK_REPORT_SCHEMA.read_text()))
    assert [entry["name"] for entry in document["test_results"]["before_tests"]] == [
        "parity_reference",
        "parity_generated",
        "memory_constant",
    ]
    before_latency = document["performance_benchmarks"]["before"]["latency"]
    assert before_latency[0]["p99_interval_reason"].startswith("fewer samples")  # 3 samples carry no p99
    (after_at_1000,) = [row for row in document["performance_benchmarks"]["after"]["latency"] if row["n"] == 1000]
    assert after_at_1000["p99_interval_ms"] == pytest.approx([2.0, 2.0])
    assert document["not_measured"] == {}
    assert document["fail_to_pass"] == ["memory_constant"]
    assert document["pass_to_pass"] == ["parity_reference", "parity_generated"]
    assert document["summary"]["functional_parity_passed"] is True
    improvements = document["summary"]["performance_improvements"]
    assert improvements["7"]["speedup"] == pytest.approx(15.0)
    assert improvements["8"] == {
        "n": 3000,
        "before_median_ms": None,
        "after_median_ms": pytest.approx(4.0),
        "speedup": None,
        "reason": "one of the implementations was not timed at this size",
        "samples": {"before": 0, "after": 100},
    }


@pytest.mark.db
@pytest.mark.slow
def test_the_script_writes_a_report_that_follows_the_schema(tmp_path: Path) -> None:
    # Run as the harness runs it, from inside the package's folder, where `evaluation` would
    # name the script itself if anything put that folder first on sys.path.
    completed = subprocess.run(
        [sys.executable, "evaluation.py", "--output", str(tmp_path)],
        cwd=ROOT / "evaluation",
        capture_output=True,
        text=True,
        check=False,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    (report,) = tmp_path.glob("*/*/report.json")
    document = json.loads(report.read_text())
    jsonschema.validate(document, json.loads(TASK_REPORT_SCHEMA.read_text()))
    assert document["summary"]["functional_parity_passed"] is True
    harness = ("evaluation_id", "timestamp", "environment", "test_results", "performance_benchmarks")
    assert set(harness) | {"scalability_results", "summary"} <= set(document)
    assert set(document["test_results"]) == {"before_tests", "after_tests"}
    assert set(document["scalability_results"]["after"]["peak_bytes_by_n"]) == {"1000", "30000"}
    # Margins that leave no doubt: the legacy call allocates per event, the optimized one does not.
    assert {"memory_constant", "no_per_event_python_work"} <= set(document["fail_to_pass"])
    # The figures that reproduce on any machine: the legacy client works per event, the optimized one does not.
    instructions = {impl: document["performance_benchmarks"][impl]["instructions"] for impl in ("before", "after")}
    if "not_counted" not in instructions["after"]:
        assert instructions["before"]["client_per_event"] > 1_000 > abs(instructions["after"]["client_per_event"])
        assert set(instructions["after"]["backend_by_n"]) == {"1000", "3000", "10000", "30000"}
        assert {c["name"] for c in document["deterministic_checks"]} >= {"backend instructions linear in N, optimized"}
    assert {"parity_reference", "parity_generated", "one_round_trip"} <= set(document["pass_to_pass"])
    # Under concurrent calls: the optimized query at every client count, and its capacity beside the scan floor's.
    loaded = document["performance_benchmarks"]["after"]["under_load"]
    assert [row["clients"] for row in loaded] == sorted({1, *(c * (os.cpu_count() or 1) for c in (1, 2, 4))})
    assert all(row["calls_per_second"] > 0 and row["samples"] > 0 for row in loaded)
    assert document["performance_benchmarks"]["before"]["under_load"] == []
    capacity = {c["name"] for c in document["capacity"]}
    assert {"capacity within the p99 goal, after", "capacity within the p99 goal, scan_floor"} <= capacity
    assert "fail to pass:" in completed.stdout
