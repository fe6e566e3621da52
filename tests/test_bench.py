"""`bench --quick` end to end on the real server: every output, every field, and the memory verdict."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from perfkit.commands.bench import SIDE_BY_SIDE
from perfkit.commands.cli import main
from perfkit.measure.timing import DECIDED, MAX_SAMPLES, SETTLED, TIME_BUDGET
from perfkit.subject import load_subject

pytestmark = [pytest.mark.db, pytest.mark.slow]

EXPECTED_FILES = {
    "results.json",
    "results.csv",
    "summary.md",
    *(
        f"{stem}.{ext}"
        for stem in ("latency_vs_n", "memory_vs_n", "ratios_vs_n", "concurrency")
        for ext in ("png", "svg")
    ),
    "flamegraph-before-30000.html",
    "flamegraph-after-30000.html",
}
STOPPING_REASONS = {SETTLED, DECIDED, MAX_SAMPLES, TIME_BUDGET}


@pytest.fixture(scope="module")
def bench_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("bench")
    assert main(["bench", "--quick", "--output", str(output)]) == 0
    (run_dir,) = output.iterdir()
    return run_dir


def test_every_output_is_written(bench_dir: Path) -> None:
    assert {p.name for p in bench_dir.iterdir()} >= EXPECTED_FILES
    assert all((bench_dir / name).stat().st_size > 0 for name in EXPECTED_FILES)


def test_results_json_has_raw_samples_environment_and_plans(bench_dir: Path) -> None:
    record = json.loads((bench_dir / "results.json").read_text())
    assert (record["schema_version"], record["kind"]) == (3, "bench")
    assert record["complete"] is True
    env = record["environment"]
    for key in ("python", "packages", "cpu_count", "machine", "git_commit"):
        assert key in env
    for setting in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit", "random_page_cost"):
        assert setting in env["server"]["settings"]
    assert record["parameters"]["grid"] == [1_000, 3_000, 10_000, 30_000]
    assert record["parameters"]["seed"] == 4400
    series = {(s["variant"], s["n"], s["connection"]): s for s in record["latency"]}
    for n in record["parameters"]["grid"]:
        assert len(series[("after", n, "pooled")]["seconds"]) == 100
        assert len(series[("after", n, "fresh")]["seconds"]) == 10
        assert series[("after", n, "pooled")]["stopped"] == "max samples"
        for variant in (
            "before",
            "distinct",
            "floor",
            "scan_floor",
            "price_floor",
            "after[no_seqscan]",
            "scan_floor[serial]",
        ):
            assert len(series[(variant, n, "pooled")]["seconds"]) >= 1, variant
            assert series[(variant, n, "pooled")]["stopped"] in STOPPING_REASONS, variant
        plans = record["plans"][f"grid N={n:,}"]
        assert set(plans) == {variant for variant, size, _ in series if size == n} | {"after@fresh"}
        after = plans["after"]
        assert (after["kind"], after["prepared"]) == ("custom", False)
        assert after["calls_on_connection"] > 12  # timed well past any plan-cache switch
        assert "Execution Time" in after["plan"][0]
        assert "Shared Hit Blocks" in after["plan"][0]["Plan"]
        assert plans["before"]["prepared"]  # the legacy code's query, prepared by psycopg: its plan cache was read
    assert {(m["implementation"], m["n"]) for m in record["memory"]} == {
        (impl, n) for impl in ("before", "after") for n in record["parameters"]["grid"]
    }
    # What the run's time went to: memory and instructions, which do not depend on the clock, side by
    # side where there is a second core, in less wall time than one after the other.
    phases = record["phase_seconds"]
    side_by_side = (os.cpu_count() or 1) > 1
    assert set(phases) == {"latency", "concurrency", "memory", "instructions"} | (
        {SIDE_BY_SIDE} if side_by_side else set()
    )
    assert all(seconds > 0 for seconds in phases.values())
    if side_by_side:
        assert max(phases["memory"], phases["instructions"]) <= phases[SIDE_BY_SIDE] + 1
        assert phases[SIDE_BY_SIDE] < phases["memory"] + phases["instructions"]


def test_calls_under_concurrent_clients_are_recorded_and_judged(bench_dir: Path) -> None:
    """At the quick grid's largest N, the optimized query, its serial form and the scan floor each at
    1 to 4 × the CPU count of clients: a p99 on 100 calls each, the plan's parallelism, and a capacity."""
    record = json.loads((bench_dir / "results.json").read_text())
    cores = os.cpu_count() or 1
    cells = {(s["variant"], s["clients"]): s for s in record["concurrency"]}
    clients = sorted({1, cores, 2 * cores, 4 * cores})
    assert set(cells) == {(v, c) for v in ("after", "after[serial]", "scan_floor", "price_floor") for c in clients}
    plan = record["parameters"]["concurrency"]
    for series in cells.values():
        assert series["n"] == 30_000
        assert series["scope"] == "grid"
        budget = plan["time_budget"] if series["variant"] == "after" else plan["reference_budget"]
        assert len(series["seconds"]) >= 100 or series["elapsed"] >= budget
        assert series["calls"] >= len(series["seconds"])  # the uncounted tail of each burst
    assert cells["after[serial]", 1]["parallel_workers"] == 0
    assert cells["scan_floor", 1]["parallel_workers"] is not None
    if record["environment"]["server"]["embedded"]:  # the server's processes are this machine's
        assert all(s["server_cpu_seconds"] > 0 for s in cells.values())
    checks = [c for c in record["derived"]["checks"] if c["at"] == "N=30,000"]
    capacity = {c["name"]: c for c in checks if c["name"].startswith("capacity within the p99 goal")}
    loaded = ("after", "after[serial]", "scan_floor", "price_floor")
    assert set(capacity) == {f"capacity within the p99 goal, {v}" for v in loaded}
    assert all(c["figures"]["clients"] in (0, *clients) for c in capacity.values())
    (throughput,) = [c for c in checks if c["name"] == "calls per second under load over the scan floor's"]
    assert throughput["result"] in ("pass", "FAIL")
    assert throughput["figures"]["ratio"] > 0
    assert "Under concurrent calls" in (bench_dir / "summary.md").read_text()


def test_the_machine_independent_figures_are_recorded(bench_dir: Path) -> None:
    record = json.loads((bench_dir / "results.json").read_text())
    if "unavailable" in record["counting"]:
        pytest.skip(record["counting"]["unavailable"])
    grid = record["parameters"]["grid"]
    counted = {(c["variant"], c["n"]) for c in record["instructions"]}
    counted_variants = ("before", "after", "distinct", "floor", "scan_floor", "price_floor")
    assert counted == {(v, n) for v in counted_variants for n in grid}
    assert all(c["plan_shape"] for c in record["instructions"])
    client = {c["implementation"]: c for c in record["client_instructions"]}
    assert set(client) == {"before", "after"}
    assert record["instruction_profile"][0]["inclusive"] > 0
    assert (bench_dir / record["counting"]["profile_capture"]).stat().st_size > 0
    serial = {(p["variant"], p["n"]): p for p in record["serial_plans"]}
    assert set(serial) == {(v, n) for v in counted_variants for n in grid}
    assert all(plan["shared_blocks"] > 0 and len(plan["shape_hash"]) == 12 for plan in serial.values())
    checks = {c["name"]: c for c in record["derived"]["checks"] if c["at"].startswith("N=1,000 to")}
    assert checks["client instructions per event, optimized"]["result"] == "pass"
    assert checks["backend instructions linear in N, optimized"]["result"] == "pass"


def test_memory_slope_separates_the_versions(bench_dir: Path) -> None:
    fits = json.loads((bench_dir / "results.json").read_text())["derived"]["memory_fits"]
    assert fits["before"]["slope"] > 0.7, fits["before"]
    assert abs(fits["after"]["slope"]) < 0.1, fits["after"]
    assert fits["after"]["verdict"] == "constant in N"


def test_summary_has_the_target_table(bench_dir: Path) -> None:
    summary = (bench_dir / "summary.md").read_text()
    for name in (
        "p99 latency, optimized",
        "same plan on call 1 and on a pooled connection",
        "plan regret, optimized",
        "median over the scan floor",
        "median over count(*)",
        "speedup over legacy",
        "speedup over the DISTINCT rewrite",
        "peak RSS, optimized",
        "memory reduction vs legacy (memray peak)",
        "memory slope, optimized (log-log)",
        "memory growth, optimized",
    ):
        assert re.search(rf"\| {re.escape(name)} +\|", summary), name


def test_csv_is_tidy(bench_dir: Path) -> None:
    lines = (bench_dir / "results.csv").read_text().splitlines()
    assert lines[0] == "scope,implementation,n,metric,value,unit,samples,label"
    assert any(line.startswith("grid,after,30000,latency_p99,") for line in lines)


def test_distinct_rewrite_is_derived_from_the_optimized_query() -> None:
    rewrite = load_subject().reference("rewrite")
    assert rewrite is not None
    assert "SELECT DISTINCT id, type, metadata FROM events WHERE user_id = %(user_id)s" in rewrite.query


def test_grid_sizes_missing_from_the_instance_are_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--grid", "1000", "7777"]) == 2
    err = capsys.readouterr().err
    assert "no user with exactly 7,777 events (available: 3, 1,000, 3,000, 10,000, 30,000)" in err
