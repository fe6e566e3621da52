"""The load test: statistics on synthetic runs, and a short real run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from perfkit.commands.loadtest import LoadConfig, run_load_test
from perfkit.data.server import ServerTarget
from perfkit.judge.load import load_checks
from perfkit.measure.load.analysis import LoadRun
from perfkit.subject import load_subject

MB = 1024 * 1024


def _run(rss_per_event: float, limit: bool = False) -> LoadRun:
    run = LoadRun("after", workers=2, duration=10.0, memory_limit_mb=100 if limit else None)
    run.requests = [
        {"start": float(i), "end": float(i) + 0.9, "key": i, "rows": rows, "error": None}
        for i, rows in enumerate([1_000, 1_000_000, 10, 100_000, 1_000_000, 1, 10_000, 1_000, 100, 1_000_000])
    ]
    if limit:
        run.requests[-1]["error"] = "MemoryError"
    run.rss = [(t / 10, int(40 * MB + rss_per_event * run.in_flight_rows(t / 10))) for t in range(0, 100)]
    return run


def test_flat_memory_has_zero_slope_and_passes() -> None:
    summary = _run(0.0).summary()
    assert summary["rss_slope_mb_per_million_events"] == pytest.approx(0.0, abs=1e-9)
    assert summary["max_rss_mb"] == pytest.approx(40.0)
    assert summary["rss_growth_once_warm_mb"] == pytest.approx(0.0)
    assert summary["rss_rise_mb_per_million_events_per_request"] == pytest.approx(0.0, abs=1e-9)
    assert summary["requests"] == 10
    checks = load_checks({"after": summary}, load_subject().goals)
    assert [check.result for check in checks] == ["pass"] * 4, checks


def test_memory_tracking_events_is_measured_and_the_limit_reported() -> None:
    legacy = _run(2_000.0, limit=True)
    legacy.implementation = "before"
    summary = legacy.summary()
    assert summary["rss_slope_mb_per_million_events"] == pytest.approx(2_000.0 * 1_000_000 / MB, rel=1e-6)
    assert summary["rss_slope_r_squared"] == pytest.approx(1.0)
    assert summary["limit_hit"] == "before exceeded 100 MB at 1,000,000 rows"
    assert summary["rss_rise_mb_per_million_events_per_request"] > 1_000
    assert summary["errors"] == 1
    both = {"after": _run(0.0).summary(), "before": summary}
    checks = {check.name: check for check in load_checks(both, load_subject().goals)}
    legacy = checks["serving RSS, legacy, above optimized"]
    assert legacy.passed is True
    assert legacy.note == "before exceeded 100 MB at 1,000,000 rows"


def test_latency_percentiles_carry_sample_counts() -> None:
    latency = _run(0.0).summary()["latency_ms_by_events"]
    assert latency["1000000"]["p99"]["label"] == "p99 unsupported: max of n=3 (needs n>=100)"
    assert latency["1000000"]["p50"]["ms"] == pytest.approx(900.0)


@pytest.mark.db
@pytest.mark.slow
def test_short_load_end_to_end(server: ServerTarget, tmp_path: Path) -> None:
    config = LoadConfig(instance="quick", duration=3.0, legacy_duration=2.0, workers=2, legacy_limit_mb=3072)
    result = run_load_test(server, config, tmp_path, log=lambda _: None)
    document = json.loads((result.directory / "load.json").read_text())
    assert (document["schema_version"], document["kind"]) == (3, "load")
    for name in ("after", "before"):
        summary = document["summaries"][name]
        for field in ("throughput_per_s", "max_rss_mb", "rss_growth_once_warm_mb", "rss_slope_mb_per_million_events"):
            assert isinstance(summary[field], float), (name, field)
        assert summary["requests"] > 0
        assert document["runs"][name]["rss"], "RSS must be sampled"
    checks = {check["name"]: check for check in document["checks"]}
    assert checks["serving RSS, optimized"]["passed"] is True  # tens of MB against 128: no doubt
    assert checks["failed requests, optimized"]["passed"] is True
    assert {p.name for p in result.directory.iterdir()} >= {
        "load.json",
        "rss_over_time.png",
        "rss_over_time.svg",
        "latency_under_load.png",
        "latency_under_load.svg",
    }
