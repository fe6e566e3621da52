"""Pages are data: the same sections render as Markdown and as HTML, and say the same things."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from perfkit.render.sections import Figures, Links, Section, Table, Text, to_html, to_markdown


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
