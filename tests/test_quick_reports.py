"""The suite's two quick reports in a row, end to end: the quick bench inside the second (every output,
every field, the memory verdict), the page a reviewer opens in a browser, and the comparison with the
previous report. Built once for the whole file: they take minutes."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from perfkit.commands.bench import SIDE_BY_SIDE
from perfkit.commands.cli import main
from perfkit.measure.concurrency import quick_client_counts
from perfkit.measure.instructions import counting_unavailable
from perfkit.measure.timing import DECIDED, MAX_SAMPLES, SETTLED, TIME_BUDGET
from perfkit.record.format import load_bench

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip

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
    "flamegraph-before-10000.html",  # the largest quick N whose instructions are counted
    "flamegraph-after-10000.html",
}
STOPPING_REASONS = {SETTLED, DECIDED, MAX_SAMPLES, TIME_BUDGET}


@pytest.fixture(scope="module")
def quick_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two quick reports in a row, in one folder: the second is compared with the first, which needs no
    more than a bench at the sizes the client's instructions are counted at (N=1,000 and 3,000: its counts
    at one N depend on the calls before it in the same process). The second runs the parity,
    scaling and candidates notebooks, so that one batch shows how a report times the candidates (in the
    scaling bench, once); its bench is the suite's quick bench."""
    base = tmp_path_factory.mktemp("reports")
    first = ["--notebook", "02_scaling", "--param", "02_scaling:grid=[1000,3000]"]
    second = ["--notebook", "01_parity", "02_scaling", "04_candidates"]
    for notebooks in (first, second):
        assert main(["report", "--quick", *notebooks, "--output", str(base)]) == 0
    earlier, later = sorted(p for p in base.iterdir() if p.is_dir())
    return earlier, later


@pytest.fixture(scope="module")
def bench_dir(quick_reports: tuple[Path, Path]) -> Path:
    """The quick bench of the scaling notebook of the suite's full quick report: every output of
    `bench --quick`, with the candidates notebook's candidates timed beside (left out below)."""
    (run_dir,) = (quick_reports[1] / "02_scaling").glob("bench-*")
    return run_dir


def _own(record: dict[str, Any], rows: str, key: str = "variant") -> list[dict[str, Any]]:
    """The rows of the subject's own variants: not the candidates timed in the same bench."""
    timed = set(record["parameters"].get("candidates") or ())
    return [row for row in record[rows] if row[key].split("[")[0] not in timed]


@pytest.mark.db
@pytest.mark.slow
def test_the_page_opens_with_the_verdict_then_plans_side_by_side_and_the_history(
    quick_reports: tuple[Path, Path],
) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium); .ci/run does")
    from playwright.sync_api import sync_playwright

    report = quick_reports[1]
    page_file = report / "report.html"
    text = page_file.read_text()
    assert "<script src=" not in text  # nothing fetched from outside
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(page_file.as_uri(), wait_until="load")
        headings = page.evaluate("Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
        verdict = page.evaluate("document.querySelector('h2 + ul').textContent")
        images = page.evaluate("Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        # The first row of drawn plans: the optimized, DISTINCT and legacy plans, left to right.
        boxes = page.evaluate(
            "Array.from(document.querySelector('.plans').children).map(p => "
            "[p.querySelector('h4').textContent, p.getBoundingClientRect().left, p.getBoundingClientRect().top, "
            "p.textContent.includes('blocks')])"
        )
        has_table = page.locator("table", has_text="p99 latency, optimized").count() > 0
        page.screenshot(path=str(report / "report.png"), full_page=False)
        browser.close()
    assert errors == []
    assert headings[0] == "Verdict", headings
    for said in ("Equivalent", "Memory", "Latency at the requirement's scale", "measured on"):
        assert said in verdict
    assert [name for name, *_ in boxes][:3] == ["after", "distinct", "before"]  # then the candidates
    lefts, tops = [box[1] for box in boxes[:3]], [box[2] for box in boxes[:3]]
    assert lefts == sorted(lefts), boxes  # side by side, left to right, on one row
    assert len(set(lefts)) == 3, boxes
    assert max(tops) - min(tops) < 1, boxes
    assert all(box[3] for box in boxes)  # each node shows its buffers
    assert ("history", True) in [(alt, complete and width > 0) for alt, complete, width in images], images
    assert len(images) >= 4, images
    assert all(complete and width > 0 for _, complete, width in images), images
    assert has_table
    assert (report / "report.png").stat().st_size > 10_000
    assert {"Plans drawn", "History", "Environment", "Glossary"} <= set(headings)


@pytest.mark.db
@pytest.mark.slow
def test_the_slim_page_is_the_report_without_its_notebooks(quick_reports: tuple[Path, Path], tmp_path: Path) -> None:
    report = quick_reports[1]
    assert main(["evidence", str(report), "--into", str(tmp_path)]) == 0
    slim = tmp_path / report.name / "report.html"
    text = slim.read_text()
    assert slim.stat().st_size < min(1024 * 1024, (report / "report.html").stat().st_size)
    assert '<section class="notebook">' in (report / "report.html").read_text()
    assert '<section class="notebook">' not in text
    for heading in ("Verdict", "Targets", "Plans drawn", "History", "Glossary", "Compared with the previous report"):
        assert f"<h2>{heading}</h2>" in text
    figures = re.findall(r'<img alt="[^"]*" src="([^"]+)"', text)
    assert "./history.png" in figures
    assert [src for src in figures if not (slim.parent / src).is_file()] == []  # linked, beside the page
    history = json.loads((report / "report.json").read_text())["history"]
    assert [point["report"] for point in history] == [quick_reports[0].name, report.name]


@pytest.mark.db
@pytest.mark.slow
def test_two_quick_reports_in_a_row_agree_on_every_count_and_plan(quick_reports: tuple[Path, Path]) -> None:
    """The second report is compared with the first: its ratios (times, so not asserted: they move with the
    machine's load) and its deterministic figures, which must agree."""
    first, second = quick_reports
    comparison = json.loads((second / "diff.json").read_text())
    assert comparison["a"] == first.name
    assert comparison["ratios"], "ratios measured inside each run were compared"
    assert all({"interval", "p_adjusted", "significant"} <= set(r) for r in comparison["ratios"])
    # The deterministic figures: every count within 1% (two counts of a call differ by ~0.01%), same plans.
    if counting_unavailable() is None:
        assert comparison["instructions"], "backend instruction counts were compared"
    assert [r for r in comparison["instructions"] if abs(r["change_percent"]) > 1 or r["plan changed"]] == []
    assert comparison["serial_plans"], "serial plans' blocks were compared"
    assert [r for r in comparison["serial_plans"] if r["changed"]] == []
    assert "Compared with the previous report" in (second / "report.md").read_text()


@pytest.mark.db
@pytest.mark.slow
def test_a_deliberately_slower_variant_is_flagged(
    quick_reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = quick_reports[1]
    (bench,) = (second / "02_scaling").glob("bench-*")
    slower = tmp_path / "slower"
    shutil.copytree(bench, slower)
    results = json.loads((slower / "results.json").read_text())
    for series in results["latency"]:
        if series["variant"] == "after":
            series["seconds"] = [s * 1.5 for s in series["seconds"]]
    (slower / "results.json").write_text(json.dumps(results))
    assert main(["diff", str(second), str(slower), "--fail-on-regression", "20"]) == 10
    assert "significantly slower than" in capsys.readouterr().err
    # The same run on both sides: nothing slower, no count moved, whatever the machine's load.
    assert main(["diff", str(second), str(second), "--fail-on-regression", "1"]) == 0
    capsys.readouterr()
    if counting_unavailable() is None:  # a record without counts has no count to compare
        costlier = tmp_path / "costlier"
        shutil.copytree(bench, costlier)
        results = json.loads((costlier / "results.json").read_text())
        for call in results["instructions"]:  # one more cheap step per row: a few percent more instructions
            if call["variant"] == "after":
                call["instructions"] = int(call["instructions"] * 1.02)
        (costlier / "results.json").write_text(json.dumps(results))
        assert main(["diff", str(second), str(costlier), "--fail-on-regression", "1000"]) == 10
        assert "more backend instructions than" in capsys.readouterr().err
        assert (
            main(["diff", str(second), str(costlier), "--fail-on-regression", "1000", "--instruction-threshold", "3"])
            == 0
        )
    capsys.readouterr()
    heavier = tmp_path / "heavier"
    shutil.copytree(bench, heavier)
    results = json.loads((heavier / "results.json").read_text())
    results["serial_plans"][0]["shared_blocks"] += 1
    (heavier / "results.json").write_text(json.dumps(results))
    assert main(["diff", str(second), str(heavier), "--fail-on-regression", "1000"]) == 10
    assert "read more blocks than" in capsys.readouterr().err
    assert main(["diff", str(second), str(second)]) == 0
    assert "| True " not in capsys.readouterr().out  # a report against itself: nothing significant


@pytest.mark.db
@pytest.mark.slow
def test_the_report_times_the_candidates_once_in_the_scaling_bench(quick_reports: tuple[Path, Path]) -> None:
    """In a report the candidates notebook reads what the scaling notebook's bench timed: one bench
    for the whole report, every candidate in the same rounds as the legacy and optimized versions."""
    report = quick_reports[1]
    _, scaling, candidates = json.loads((report / "report.json").read_text())["notebooks"]
    assert scaling["parameters"]["candidates"] == ["regex_in_filter", "float_sum"]  # the candidates notebook's own
    assert candidates["parameters"]["timed_in"] == str(report / "02_scaling")
    assert set(scaling["outputs"]) == {"bench", "candidates"}
    assert candidates["outputs"] == {}
    (bench,) = report.rglob("results.json")  # no second bench beside the candidates
    record = load_bench(bench)
    assert record.candidates() == ["regex_in_filter"]  # float_sum differs from the legacy version
    timed = {series.variant for series in record.latency}
    assert {"before", "after", "distinct", "regex_in_filter", "regex_in_filter[no_seqscan]"} <= timed
    markdown = (report / "report.md").read_text()
    assert "regex_in_filter" in markdown.split("## Candidates")[1]
    assert "float_sum" in markdown.split("## Candidates")[1]


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
    assert {(m["implementation"], m["n"]) for m in _own(record, "memory", "implementation")} == {
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
    """At the quick grid's largest N, the optimized query, its serial form and the scan floor each at 1
    and 2 × the CPU count of clients (the quick preset): a p99 on 100 calls each, the plan's
    parallelism, and a capacity."""
    record = json.loads((bench_dir / "results.json").read_text())
    cores = os.cpu_count() or 1
    cells = {(s["variant"], s["clients"]): s for s in _own(record, "concurrency")}
    clients = quick_client_counts(cores)
    assert tuple(record["parameters"]["concurrency"]["clients"]) == clients
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
    capacity = {
        c["name"]: c
        for c in checks
        if c["name"].startswith("capacity within the p99 goal")
        and c["name"].rsplit(", ", 1)[-1] not in record["parameters"].get("candidates", ())
    }
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
    sizes = record["counting"]["sizes"]
    assert sizes == grid[:-1]  # the quick grid but its largest: valgrind's time there is the others' together
    counted = {(c["variant"], c["n"]) for c in _own(record, "instructions")}
    counted_variants = ("before", "after", "distinct", "floor", "scan_floor", "price_floor")
    assert counted == {(v, n) for v in counted_variants for n in sizes}
    assert all(c["plan_shape"] for c in record["instructions"])
    client = {c["implementation"]: c for c in record["client_instructions"]}
    assert set(client) == {"before", "after"}
    assert record["instruction_profile"][0]["inclusive"] > 0
    assert (bench_dir / record["counting"]["profile_capture"]).stat().st_size > 0
    serial = {(p["variant"], p["n"]): p for p in _own(record, "serial_plans")}
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
