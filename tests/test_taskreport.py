"""The task's entry point: requirements per implementation, report.json against its schema, the patch."""

from __future__ import annotations

import json
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
