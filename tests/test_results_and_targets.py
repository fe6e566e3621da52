"""The result record round-trips, never overwrites, and the target checks read it correctly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from evaluation.checks import bench_checks
from evaluation.errors import MeasurementError
from evaluation.outputs import new_run_directory
from evaluation.results import BenchRecord, LatencySeries, read_record, save_record, tidy
from evaluation.summary import render_summary

MB = 1024 * 1024


def _memory(implementation: str, n: int, peak: int, max_rss: int) -> dict[str, Any]:
    return {
        "implementation": implementation,
        "n": n,
        "user_id": n,
        "peak_bytes": peak,
        "total_allocations": 10,
        "rss_before_bytes": 30 * MB,
        "rss_after_bytes": 30 * MB,
        "max_rss_bytes": max_rss,
        "seconds_untracked": 0.1,
        "seconds_tracked": 0.2,
        "capture": "",
        "limit_hit": False,
        "rss_growth_bytes": max_rss - 30 * MB,
    }


def _record() -> BenchRecord:
    record = BenchRecord(environment={"server": {}}, parameters={"instance": "synthetic"})
    for n in (1_000, 1_000_000):
        scale = n / 1_000
        record.latency += [
            LatencySeries("after", n, n, [0.010 * (1 + scale / 1000)] * 100),
            LatencySeries("floor", n, n, [0.005 * (1 + scale / 1000)] * 100),
            LatencySeries("before", n, n, [1.0 * scale / 100] * 2),
            LatencySeries("distinct", n, n, [0.050 * (1 + scale / 1000)] * 5),
        ]
        record.memory += [
            _memory("after", n, 6_588, 36 * MB),
            _memory("before", n, int(2_400 * n), int(36 * MB + 2_400 * n)),
        ]
    record.complete = True
    return record


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    record = _record()
    paths = save_record(record, tmp_path)
    loaded = read_record(paths["json"])
    assert loaded.latency == record.latency
    assert loaded.memory == record.memory
    document = json.loads(paths["json"].read_text())
    assert document["schema_version"] == 1
    assert document["derived"]["memory_fits"]["before"]["verdict"] == "linear in N"
    assert paths["csv"].read_text().startswith("scope,implementation,n,metric,value,unit,samples,label")


def test_results_are_never_overwritten(tmp_path: Path) -> None:
    save_record(_record(), tmp_path)
    with pytest.raises(MeasurementError, match="never overwritten"):
        save_record(_record(), tmp_path)
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = new_run_directory(tmp_path, "bench", when)
    (first / "results.json").write_text("{}")
    assert first.name == "bench-20260102T030405Z"
    assert new_run_directory(tmp_path, "bench", when).name == "bench-20260102T030405Z-2"
    assert (first / "results.json").read_text() == "{}"


def test_unknown_schema_version_is_refused() -> None:
    with pytest.raises(MeasurementError, match="schema version 99"):
        BenchRecord.from_json({"schema_version": 99})


def test_tidy_has_one_row_per_implementation_n_metric() -> None:
    frame = tidy(_record())
    assert not frame.duplicated(["implementation", "n", "metric"]).any()
    p99 = frame[(frame.implementation == "before") & (frame.metric == "latency_p99")]
    assert set(p99.label) == {"p99 unsupported: max of n=2 (needs n>=100)"}


def test_targets_read_the_record() -> None:
    checks = {check.name: check for check in bench_checks(_record())}
    assert checks["p99 latency, optimized"].passed is True  # 20 ms at 1M
    assert checks["median over the count(*) floor"].measured.startswith("2.00×")
    assert checks["speedup over legacy (median)"].passed is True  # 10 s / 20 ms
    assert checks["speedup over the DISTINCT rewrite (median)"].passed is True  # 5×
    assert checks["peak RSS, optimized"].passed is True
    assert checks["memory reduction vs legacy (memray peak)"].passed is True
    assert checks["memory slope, optimized (log-log)"].passed is True
    assert checks["memory growth, optimized"].measured == "+0.000 MB (memray peak)"


def test_a_missed_target_fails_and_the_summary_says_so() -> None:
    record = _record()
    record.latency[4] = LatencySeries("after", 1_000_000, 1, [0.5] * 100)
    checks = bench_checks(record)
    failed = [check.name for check in checks if check.passed is False]
    assert "p99 latency, optimized" in failed
    summary = render_summary(record, checks, {"latency_vs_n": "latency_vs_n.png"})
    row = next(line for line in summary.splitlines() if line.startswith("| p99 latency, optimized "))
    assert [cell.strip() for cell in row.strip("|").split("|")][:4] == [
        "p99 latency, optimized",
        "< 200 ms at N=1,000,000",
        "500.0 ms (p99 (n=100))",
        "FAIL",
    ]
    assert "![latency_vs_n](latency_vs_n.png)" in summary


def test_latency_targets_are_judged_on_the_headline_scenario() -> None:
    record = _record()
    record.parameters["headline"] = {"table_rows": 1_000_000, "n": 500_000}
    record.latency += [
        LatencySeries("after", 500_000, 1, [0.150] * 100, scope="headline"),
        LatencySeries("floor", 500_000, 1, [0.050] * 100, scope="headline"),
        LatencySeries("scan_floor", 500_000, 1, [0.100] * 100, scope="headline"),
    ]
    checks = {check.name: check for check in bench_checks(record)}
    p99 = checks["p99 latency, optimized"]
    assert p99.goal == "< 200 ms at N=500,000 in a 1,000,000-row table"
    assert p99.passed is True
    assert checks["median over the count(*) floor"].measured.startswith("3.00×")
    assert checks["median over the count(*) floor"].passed is False
    assert checks["median over the count(metadata) scan floor"].passed is None
    assert checks["median over the count(metadata) scan floor"].status == "info"
    assert checks["p99 latency, optimized, largest N of the grid"].measured.startswith("20.0 ms")
    assert "speedup over legacy (median)" not in checks  # no legacy samples in the headline


def _plan(node: str, hits: int) -> list[dict[str, Any]]:
    return [{"Plan": {"Node Type": node, "Shared Hit Blocks": hits, "Shared Read Blocks": 0}, "Execution Time": 1.0}]


def test_a_missed_latency_target_comes_with_its_evidence() -> None:
    record = _record()
    record.parameters["headline"] = {"table_rows": 1_000_000, "n": 500_000}
    record.environment = {"cpu_count": 2, "server": {"settings": {"jit": "off", "shared_buffers": "1GB"}}}
    record.latency += [
        LatencySeries("after", 500_000, 1, [0.300] * 100, scope="headline"),
        LatencySeries("floor", 500_000, 1, [0.050] * 100, scope="headline"),
        LatencySeries("scan_floor", 500_000, 1, [0.100] * 100, scope="headline"),
    ]
    record.plans["headline N=500,000"] = _plan("Seq Scan", 33_000)
    record.floor_plans["headline N=500,000"] = _plan("Index Only Scan", 3_300)
    checks = bench_checks(record)
    summary = render_summary(record, checks, {})
    assert "## Evidence behind the missed latency targets" in summary
    assert "Index Only Scan; 3,300 shared buffers (10.0× fewer than the optimized query)" in summary
    assert "median 100.0 ms; optimized median 300.0 ms (3.00×)" in summary
    assert "settings: jit=off, shared_buffers=1GB; 2 CPUs" in summary
    assert "## Evidence" not in render_summary(_record(), bench_checks(_record()), {})
