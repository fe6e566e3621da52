"""Reports a reviewer opens in a browser and compares with the previous one, on real quick reports."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from perfkit.commands.cli import main
from perfkit.measure.instructions import counting_unavailable
from perfkit.record.format import load_bench
from perfkit.render.readme import BLOCKS, cited_report, results_table
from repository_after.summary import SUMMARY_QUERY

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def two_reports(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two quick reports in a row, in one folder: the second is compared with the first, which needs no
    more than its bench. The second with the candidates notebook, so that one batch shows how a report
    times the candidates (in the scaling bench, once)."""
    base = tmp_path_factory.mktemp("reports")
    for notebooks in (["02_scaling"], ["01_parity", "02_scaling", "04_candidates"]):
        assert main(["report", "--quick", "--notebook", *notebooks, "--output", str(base)]) == 0
    first, second = sorted(p for p in base.iterdir() if p.is_dir())
    return first, second


@pytest.mark.db
@pytest.mark.slow
def test_the_page_opens_with_the_verdict_then_plans_side_by_side_and_the_history(
    two_reports: tuple[Path, Path],
) -> None:
    if CHROMIUM is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium); .ci/run does")
    from playwright.sync_api import sync_playwright

    report = two_reports[1]
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
def test_the_slim_page_is_the_report_without_its_notebooks(two_reports: tuple[Path, Path], tmp_path: Path) -> None:
    report = two_reports[1]
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
    assert [point["report"] for point in history] == [two_reports[0].name, report.name]


@pytest.mark.db
@pytest.mark.slow
def test_two_quick_reports_in_a_row_agree_on_every_count_and_plan(two_reports: tuple[Path, Path]) -> None:
    """The second report is compared with the first: its ratios (times, so not asserted: they move with the
    machine's load) and its deterministic figures, which must agree."""
    first, second = two_reports
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
    two_reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = two_reports
    (bench,) = (second / "02_scaling").glob("bench-*")
    slower = tmp_path / "slower"
    shutil.copytree(bench, slower)
    results = json.loads((slower / "results.json").read_text())
    for series in results["latency"]:
        if series["variant"] == "after":
            series["seconds"] = [s * 1.5 for s in series["seconds"]]
    (slower / "results.json").write_text(json.dumps(results))
    assert main(["diff", str(first), str(slower), "--fail-on-regression", "20"]) == 10
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


def test_readme_shows_the_table_of_the_report_it_cites() -> None:
    report = cited_report()
    assert BLOCKS["results-table"].current() == results_table(report), "run `perfkit readme <report>`"


@pytest.mark.db
@pytest.mark.slow
def test_a_candidate_doing_more_per_row_work_is_flagged_against_the_optimized_version(
    two_reports: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if counting_unavailable() is not None:
        pytest.skip(f"instructions cannot be counted here: {counting_unavailable()}")
    extraction = "CASE jsonb_typeof(metadata -> 'price')"
    assert extraction in SUMMARY_QUERY
    costlier = SUMMARY_QUERY.replace(
        extraction,
        "CASE CASE WHEN (metadata -> 'price') IS NULL THEN NULL ELSE jsonb_typeof(metadata -> 'price') END",
    )
    candidate = tmp_path / "double_extraction.sql"
    candidate.write_text(
        "-- The optimized query extracting the price twice per row: the same answer, more work.\n" + costlier
    )
    assert main(["try", str(candidate), "--quick", "--output", str(tmp_path / "runs")]) == 0
    (run,) = (tmp_path / "runs").glob("try-double_extraction-*")
    capsys.readouterr()
    report = two_reports[1]
    # Its own optimized version, timed in the same try run, costs what the report's does.
    assert main(["diff", str(report), str(run), "--fail-on-regression", "1000"]) == 0
    capsys.readouterr()
    flagged = main(
        ["diff", str(report), str(run), "--as-optimized", "double_extraction", "--fail-on-regression", "1000"]
    )
    error = capsys.readouterr().err
    assert flagged == 10
    found = re.search(r"execute more backend instructions than .*?: worst after at N=([\d,]+), \+([\d.]+)%", error)
    assert found is not None, error
    assert float(found.group(2)) > 1.0


@pytest.mark.db
@pytest.mark.slow
def test_the_report_times_the_candidates_once_in_the_scaling_bench(two_reports: tuple[Path, Path]) -> None:
    """In a report the candidates notebook reads what the scaling notebook's bench timed: one bench
    for the whole report, every candidate in the same rounds as the legacy and optimized versions."""
    report = two_reports[1]
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
