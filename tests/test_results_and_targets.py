"""The result record round-trips, never overwrites, and the target checks read it correctly."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from perfkit.errors import ConfigurationError, MeasurementError
from perfkit.judge.bench import INSTRUCTION_TARGETS, bench_checks, p99_check
from perfkit.judge.outcome import Check, Result
from perfkit.measure.results import FRESH, BenchRecord, LatencySeries, tidy
from perfkit.record.format import load_bench, read_record, save_bench
from perfkit.record.runs import new_run_directory
from perfkit.render.summary import render_summary

MB = 1024 * 1024


def _memory(implementation: str, n: int, peak: int, max_rss: int) -> dict[str, Any]:
    return {
        "implementation": implementation,
        "n": n,
        "key": n,
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


def _plan(node: str, hits: int = 10) -> list[dict[str, Any]]:
    return [{"Plan": {"Node Type": node, "Shared Hit Blocks": hits, "Shared Read Blocks": 0}, "Execution Time": 1.0}]


def _captured(node: str, start: str | None = None, kind: str = "custom") -> dict[str, Any]:
    return {
        "kind": kind,
        "prepared": False,
        "plan": _plan(node),
        "generic_plans": 0,
        "custom_plans": 0,
        "shape": node,
        "start_shape": start or node,
        "start_kind": kind,
        "calls_on_connection": 30,
    }


def _record(embedded: bool = True) -> BenchRecord:
    record = BenchRecord(environment={"server": {"embedded": embedded}}, parameters={"instance": "synthetic"})
    for n in (1_000, 1_000_000):
        scale = n / 1_000
        after = 0.010 * (1 + scale / 1000)
        record.latency += [
            LatencySeries("after", n, n, [after] * 100),
            LatencySeries("after[no_seqscan]", n, n, [after * 1.5] * 20),
            LatencySeries("after", n, n, [after] * 20, connection=FRESH),
            LatencySeries("floor", n, n, [0.005 * (1 + scale / 1000)] * 100),
            LatencySeries("scan_floor", n, n, [after / 1.2] * 20),
            LatencySeries("before", n, n, [1.0 * scale / 100] * 2),
            LatencySeries("distinct", n, n, [0.050 * (1 + scale / 1000)] * 5),
        ]
        record.plans[f"grid N={n:,}"] = {"after": _captured("Seq Scan"), "after@fresh": _captured("Seq Scan")}
        record.memory += [
            _memory("after", n, 6_588, 36 * MB),
            _memory("before", n, int(2_400 * n), int(36 * MB + 2_400 * n)),
        ]
    record.complete = True
    return record


def _by_name(checks: list[Check], at: str) -> dict[str, Check]:
    return {check.name: check for check in checks if check.at == at}


def test_record_round_trips_through_json(tmp_path: Path) -> None:
    record = _record()
    paths = save_bench(record, tmp_path, bench_checks(record))
    loaded = load_bench(paths["json"])
    assert loaded.latency == record.latency
    assert loaded.memory == record.memory
    assert loaded.plans == record.plans
    document = json.loads(paths["json"].read_text())
    assert (document["schema_version"], document["kind"]) == (3, "bench")
    assert document["derived"]["memory_fits"]["before"]["verdict"] == "linear in N"
    assert [Check.from_json(c) for c in document["derived"]["checks"]] == bench_checks(record)
    assert paths["csv"].read_text().startswith("scope,implementation,n,metric,value,unit,samples,label")


def test_results_are_never_overwritten(tmp_path: Path) -> None:
    save_bench(_record(), tmp_path, [])
    with pytest.raises(MeasurementError, match="never overwritten"):
        save_bench(_record(), tmp_path, [])
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    first = new_run_directory(tmp_path, "bench", when)
    (first / "results.json").write_text("{}")
    assert first.name == "bench-20260102T030405Z"
    assert new_run_directory(tmp_path, "bench", when).name == "bench-20260102T030405Z-2"
    assert (first / "results.json").read_text() == "{}"


def test_unknown_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text(json.dumps({"schema_version": 99, "kind": "bench"}))
    with pytest.raises(ConfigurationError, match="schema version 99"):
        read_record(path, "bench")


def test_a_record_of_another_kind_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "load.json"
    path.write_text(json.dumps({"schema_version": 3, "kind": "load"}))
    with pytest.raises(ConfigurationError, match="a load record where a bench record was expected"):
        read_record(path, "bench")


def test_a_schema_2_record_is_read_by_its_file_name(tmp_path: Path) -> None:
    """Curated evidence predates the record's kind: its file name says it."""
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": 2, "targets": []}))
    assert read_record(path, "report")["targets"] == []
    with pytest.raises(ConfigurationError, match="a report record where a bench record was expected"):
        read_record(path, "bench")


def test_a_check_round_trips_with_its_result() -> None:
    check = Check.judged("p99", "< 200 ms", "150 ms", True, subject="after", figures={"ms": 150.0})
    assert check.result is Result.PASS
    assert Check.from_json(check.to_json()) == check
    assert Check.from_json({**check.to_json(), "subject": None} | {"subject": ""}).subject == ""


def test_tidy_has_one_row_per_scope_implementation_n_metric() -> None:
    frame = tidy(_record())
    assert not frame.duplicated(["scope", "implementation", "n", "metric"]).any()
    p99 = frame[(frame.implementation == "before") & (frame.metric == "latency_p99")]
    assert set(p99.label) == {"p99 unsupported: max of n=2 (needs n>=100)"}
    assert "grid, first call" in set(frame.scope)


def test_targets_are_judged_at_every_n() -> None:
    checks = bench_checks(_record())
    small, large = _by_name(checks, "N=1,000"), _by_name(checks, "N=1,000,000")
    assert large["p99 latency, optimized"].result == "pass"  # 20 ms
    assert large["plan regret, optimized"].measured.startswith("0.67×")
    assert large["plan regret, optimized"].result == "pass"
    assert large["median over the scan floor"].measured.startswith("1.20×")
    assert large["speedup over legacy"].result == "pass"  # 10 s / 20 ms
    assert large["speedup over the DISTINCT rewrite"].result == "pass"  # 5×
    assert large["same plan on call 1 and on a pooled connection"].result == "pass"
    assert small["speedup over legacy"].result == "info"  # judged from N=100,000 only
    assert small["speedup over the DISTINCT rewrite"].result == "info"  # judged from N=10,000 only
    assert small["median over count(*)"].result == "info"
    memory = {check.name: check for check in checks if check.at == "N=1,000 to 1,000,000"}
    assert memory["memory growth, optimized"].measured == "+0.000 MB (memray peak)"
    assert memory["memory reduction vs legacy (memray peak)"].result == "pass"


def test_p99_is_pass_fail_or_inconclusive_by_its_interval() -> None:
    assert p99_check([0.150] * 100, "N=1", 200.0).result == "pass"
    assert p99_check([0.250] * 100, "N=1", 200.0).result == "FAIL"
    straddling = [0.150] * 97 + [0.190, 0.210, 0.230]
    check = p99_check(straddling, "N=1", 200.0)
    assert check.result == "inconclusive", check.measured
    assert "95% CI" in check.measured
    assert p99_check([0.150] * 20, "N=1", 200.0).result == "info"  # 20 samples carry no p99


def test_a_plan_the_planner_should_not_have_chosen_is_regret() -> None:
    record = _record()
    slow = next(s for s in record.latency if (s.variant, s.n) == ("after[no_seqscan]", 1_000))
    slow.seconds = [0.004] * 20  # the index path, forced, is 2.5× faster than the chosen plan
    record.plans["grid N=1,000"]["after[no_seqscan]"] = _captured("Index Scan")
    regret = _by_name(bench_checks(record), "N=1,000")["plan regret, optimized"]
    assert regret.result == "FAIL"
    assert regret.measured == "2.50× (fastest other plan: after[no_seqscan], 4.0 ms, Index Scan)"
    foreign = _record(embedded=False)
    next(s for s in foreign.latency if (s.variant, s.n) == ("after[no_seqscan]", 1_000)).seconds = [0.004] * 20
    foreign.plans["grid N=1,000"]["after[no_seqscan]"] = _captured("Index Scan")
    advice = _by_name(bench_checks(foreign), "N=1,000")["plan regret, optimized"]
    assert advice.result == "info"  # another server's settings are never judged, only advised on
    assert "random_page_cost = 1.1" in advice.note


def test_an_alternative_that_ran_the_chosen_plan_is_not_a_rival() -> None:
    record = _record()
    same = next(s for s in record.latency if (s.variant, s.n) == ("after[no_seqscan]", 1_000))
    same.seconds = [0.004] * 20  # faster by noise alone: it ran the very plan the planner chose
    record.plans["grid N=1,000"]["after[no_seqscan]"] = _captured("Seq Scan")
    regret = _by_name(bench_checks(record), "N=1,000")["plan regret, optimized"]
    assert regret.result == "pass"
    assert regret.measured == "1.00× (every forced alternative ran the chosen plan)"


def test_a_plan_that_changes_on_a_pooled_connection_fails() -> None:
    record = _record()
    record.plans["grid N=1,000"]["after"] = _captured("Index Scan", start="Seq Scan", kind="generic")
    check = _by_name(bench_checks(record), "N=1,000")["same plan on call 1 and on a pooled connection"]
    assert check.result == "FAIL"
    assert "generic plan after 30 calls: Index Scan; first call: Seq Scan" in check.measured


def test_summary_has_the_target_table_and_the_plans() -> None:
    record = _record()
    record.latency[0] = LatencySeries("after", 1_000, 1_000, [0.5] * 100)
    checks = bench_checks(record)
    summary = render_summary(record, checks, {"latency_vs_n": "latency_vs_n.png"})
    row = next(line for line in summary.splitlines() if "| p99 latency, optimized " in line and "N=1,000 " in line)
    assert [cell.strip() for cell in row.strip("|").split("|")][:3] == ["N=1,000", "p99 latency, optimized", "< 200 ms"]
    assert "| FAIL " in row
    assert "## Plans that ran" in summary
    assert "![latency_vs_n](latency_vs_n.png)" in summary


def test_instruction_targets_are_listed_where_the_machine_cannot_count() -> None:
    record = BenchRecord(environment={}, parameters={}, counting={"unavailable": "valgrind is not installed"})
    listed = {c.name: c for c in bench_checks(record) if "instructions" in c.name}
    assert set(listed) == set(INSTRUCTION_TARGETS)
    assert all(c.result is Result.INFO and "valgrind is not installed" in c.measured for c in listed.values())
    assert not [c for c in bench_checks(BenchRecord(environment={}, parameters={})) if "instructions" in c.name]


def test_counts_on_a_line_pass_and_per_event_client_work_fails() -> None:
    record = BenchRecord(environment={}, parameters={}, counting={"sizes": [1_000, 3_000, 10_000]})
    for n in (1_000, 3_000, 10_000):
        record.instructions += [
            {"variant": "after", "n": n, "instructions": 12_000_000 + 2_700 * n, "plan_shape": "Index Scan"},
            {"variant": "scan_floor", "n": n, "instructions": 11_000_000 + 1_000 * n, "plan_shape": "Index Scan"},
        ]
    record.client_instructions = [
        {"implementation": "after", "n": n, "instructions": 200_000 + 60 * n} for n in (1_000, 3_000)
    ]
    checks = {c.name: c for c in bench_checks(record) if c.at.startswith("N=1,000 to")}
    assert checks["backend instructions linear in N, optimized"].result is Result.PASS
    assert "2,700 per event; 2.70× count(metadata)'s" in checks["backend instructions linear in N, optimized"].measured
    assert checks["client instructions per event, optimized"].result is Result.FAIL  # 60 per event: a Python loop


def test_a_record_written_before_subjects_is_read_with_its_fields_as_named_now(tmp_path: Path) -> None:
    record = _record()
    paths = save_bench(record, tmp_path, bench_checks(record))
    document = json.loads(paths["json"].read_text())
    for series in document["latency"] + document["memory"]:
        series["user_id"] = series.pop("key")
    paths["json"].write_text(json.dumps(document))
    loaded = load_bench(paths["json"])
    assert loaded.latency == record.latency
    assert loaded.memory == record.memory
