"""Pages are data: the same sections render as Markdown and as HTML, and say the same things; plans
drawn as trees; the verdict read from the checks."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.judge.capacity import CAPACITY
from perfkit.judge.outcome import Check, Result
from perfkit.measure.results import BenchRecord
from perfkit.render.plantree import drawn_plans, tree_text
from perfkit.render.sections import Collapsed, Figures, Links, Plans, Section, Table, Terms, Text, to_html, to_markdown
from perfkit.render.verdict import verdict_lines


def _sections(tmp_path: Path) -> list[Section]:
    return [
        Section("", [Text(["Report X."], bullets=False)]),
        Section("Failed notebooks", [Text([])]),  # nothing to say: left out of both pages
        Section("Targets", [Table(pd.DataFrame({"target": ["p99"], "result": ["FAIL"]}), "result")]),
        Section("Parity", [Text(["before == after for all 3 users"])]),
        Section("Figures", [Figures(tmp_path, Path("bench"), ["missing"])]),  # no PNG: left out
        Section("Links", [Links([("bench/summary.md", "summary.md")])]),
    ]


def test_markdown_and_html_have_the_same_headings(tmp_path: Path) -> None:
    sections = _sections(tmp_path)
    markdown, page = to_markdown("T", sections), to_html("T", sections)
    in_markdown = re.findall(r"^## (.+)$", markdown, flags=re.M)
    in_html = re.findall(r"<h2>(.+?)</h2>", page)
    assert in_markdown == in_html == ["Targets", "Parity", "Links"]


def test_each_block_renders_in_both(tmp_path: Path) -> None:
    sections = _sections(tmp_path)
    markdown, page = to_markdown("T", sections), to_html("T", sections)
    assert markdown.startswith("# T\n\nReport X.\n")
    assert "| p99      | FAIL     |" in markdown
    assert "- before == after for all 3 users" in markdown
    assert "[summary.md](bench/summary.md)" in markdown
    assert "background-color: #f5b7b1" in page  # a FAIL row is painted
    assert "<li>before == after for all 3 users</li>" in page
    assert '<a href="bench/summary.md">summary.md</a>' in page


def _node(kind: str, rows: float, estimate: float, blocks: int, *children: dict[str, Any]) -> dict[str, Any]:
    return {
        "Node Type": kind, "Actual Rows": rows, "Plan Rows": estimate, "Actual Loops": 1,
        "Shared Hit Blocks": blocks, "Shared Read Blocks": 0, "Actual Total Time": 1.5, "Plans": list(children),
    }  # fmt: skip


OPTIMIZED = [{"Plan": _node("Aggregate", 1, 1, 40, _node("Index Scan", 300, 290, 40) | {"Index Name": "events_pkey"})}]
REWRITE = [{"Plan": _node("Aggregate", 1, 1, 60, _node("Aggregate", 300, 3, 60, _node("Seq Scan", 300, 300, 60)))}]


def test_plans_are_drawn_as_trees_marked_where_they_part_from_the_reference() -> None:
    after, rewrite = drawn_plans([("after", "custom plan", OPTIMIZED), ("distinct", "custom plan", REWRITE)], "after")
    assert after.differs == frozenset()
    assert rewrite.differs == {("Aggregate", "Aggregate"), ("Aggregate", "Aggregate", "Seq Scan")}
    text = tree_text(rewrite)
    assert text.splitlines()[0] == "Aggregate  [rows 1 (est. 1) · 60 blocks · 1.5 ms]"  # shared with the reference
    assert "   └─ ≠ Aggregate  [rows 300 (est. 3) · 60 blocks · 1.5 ms ⚠ estimate off]" in text
    assert "Index Scan using events_pkey  [rows 300 (est. 290) · 40 blocks" in tree_text(after)
    page = to_html("T", [Section("Plans", [Plans([after, rewrite])])])
    assert page.count('class="plan"') == 2
    assert page.count('class="node differs"') == 2
    assert "estimate off" in page


def test_terms_and_collapsed_blocks_render_in_both() -> None:
    sections = [Section("Glossary", [Terms([("scan floor", "count(metadata)")])]),
                Section("More", [Collapsed("other plans", [Text(["hidden until opened"])])])]  # fmt: skip
    markdown, page = to_markdown("T", sections), to_html("T", sections)
    assert "- **scan floor**: count(metadata)" in markdown
    assert "**other plans**\n\n- hidden until opened" in markdown
    assert "<dt>scan floor</dt><dd>count(metadata)</dd>" in page
    assert "<details><summary>other plans</summary><ul><li>hidden until opened</li></ul></details>" in page


def test_the_verdict_names_what_fails_and_why() -> None:
    checks = [
        Check(
            "p99 latency, optimized",
            "< 200 ms",
            "55.4 ms (p99 (n=100)), 95% CI 40.7–93.6 ms",
            Result.PASS,
            at="N=30,000",
        ),
        Check("p99 latency, optimized", "< 200 ms", "4.0 ms (p99 (n=100))", Result.PASS, at="N=1,000"),
        Check("median over the scan floor", "≤ 1.5×", "2.91× (scan_floor: 7.0 ms)", Result.FAIL, at="N=30,000"),
        Check("speedup over legacy", "≥ 30×", "30.41× (n=4 vs n=100)", Result.INFO, at="N=30,000"),
        Check("plan regret, optimized", "≤ 1.2×", "1.3×", Result.INCONCLUSIVE, at="N=30,000"),
    ]
    parity = {
        "reports": [{"instance": "a", "users": 15, "mismatches": []}, {"instance": "b", "users": 4, "mismatches": []}]
    }
    machine = {"cpu_model": "AMD EPYC", "cpu_count": 2, "server": {"version": "PostgreSQL 18.4 on x"}}
    record = BenchRecord(environment=machine, parameters={})
    lines = verdict_lines(parity=parity, record=record, memory_fits={}, checks=checks)
    assert lines[0].startswith(
        "Equivalent: the optimized version returns the legacy version's summary for all 19 users of 2"
    )
    assert lines[1].startswith(
        "Latency at the requirement's scale (N=30,000): 55.4 ms (p99 (n=100)), 95% CI 40.7–93.6 ms"
    )
    assert "measured on AMD EPYC, 2 CPUs, PostgreSQL 18.4 (given by the environment)" in lines[1]
    assert (
        lines[2] == "There, in the same run: 30.41× faster than the legacy version, 2.91× the scan floor's median "
        "(ratios of medians)."
    )
    assert lines[-1] == (
        "1 of 4 targets fail; 1 inconclusive (interval across the goal): "
        "median over the scan floor at N=30,000 (2.91×; goal ≤ 1.5×)."
    )
    parity["reports"][1]["mismatches"] = [7]
    assert verdict_lines(parity=parity, record=None, memory_fits={}, checks=[])[0] == (
        "NOT equivalent: 1 users differ, first in b (user 7); see Parity below."
    )


def test_the_verdict_says_how_many_concurrent_calls_the_goal_holds_for_and_the_settings_it_assumes() -> None:
    at = "headline N=900,000 of 1,000,000 rows"
    capacity = {"low": 1, "high": 2, "calls_per_second": 5.4}
    checks = [
        Check("p99 latency, optimized", "< 200 ms", "180.0 ms (p99 (n=100))", Result.PASS, at=at),
        Check(f"{CAPACITY}, after", "p99 < 200 ms", "", Result.INFO, at=at, figures={**capacity, "clients": 1}),
        Check(
            f"{CAPACITY}, scan_floor",
            "p99 < 200 ms",
            "",
            Result.INFO,
            at=at,
            figures={"clients": 0, "low": 0, "high": 0, "calls_per_second": 10.8},
        ),
    ]
    machine = {"cpu_count": 2, "server": {"version": "PostgreSQL 15.18", "settings": {"jit": "on"}}}
    record = BenchRecord(environment=machine, parameters={"session_settings": {"jit": "off"}})
    lines = verdict_lines(parity=None, record=record, memory_fits={}, checks=checks)
    assert "(given by the environment) with jit = off." in lines[1]
    assert lines[2] == (
        "Under concurrent calls there: p99 < 200 ms holds up to 1 concurrent call (95% interval 1–2) on this "
        "machine; the optimized query serves at most 5.4 calls/s, 0.50× the scan floor's 10.8 (the most any query "
        "reading these rows serves here; its p99 does not hold even for one call at a time)."
    )
