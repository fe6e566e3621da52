"""README and docs/ stay true: their generated blocks equal what the kit renders, every figure their
prose states (a dataset's size, a scenario, a result) is found in the instances, the evidence they
cite or the kit's own constants, every link resolves, and README stays a front door (at most 200
lines)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

import perfkit
from perfkit.data.instances import list_instances, read_instance
from perfkit.paths import CLI_REFERENCE, DOCS_DIR, EVIDENCE_DIR, PROJECT_ROOT, README
from perfkit.render.readme import BLOCKS, GENERATED, cited_report, results_table

DOCUMENTS = [README, *sorted(p for p in DOCS_DIR.glob("*.md") if p != CLI_REFERENCE)]
"""What a reader reads as prose (docs/cli.md is the parser's help, kept equal to it by test_cli)."""
NOTEBOOKS = sorted((PROJECT_ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"\]\((?P<target>[^)\s]+)\)")

FIGURE = re.compile(r"(?<![\w.,/#-])(\d{1,3}(?:,\d{3})+|\d+\.\d+(?=\s?(?:ms|MB|KB|GB|×|%|s\b)))")
"""What README's prose states as a figure: a number with thousands separators, or a decimal with a unit."""
FENCE = re.compile(r"```.*?```", re.DOTALL)


def prose(text: str) -> str:
    """A document without its code blocks and its generated blocks (checked against the kit separately)."""
    for pattern in (FENCE, *(block.pattern() for block in GENERATED)):
        text = pattern.sub("", text)
    return text


def figures(text: str) -> Iterator[str]:
    for match in FIGURE.finditer(text):
        yield match.group(1).replace(",", "")


def instance_figures() -> set[str]:
    """Sizes the instances hold: rows, each user's events, how many users share a size, how many users."""
    found: set[str] = set()
    for name in list_instances():
        instance = read_instance(name)
        counts = instance.sizes
        found |= {str(instance.total_rows), str(len(counts))}
        found |= {str(n) for n in counts.values()} | {str(n) for n in Counter(counts.values()).values()}
    return found


def evidence_figures() -> set[str]:
    """Every figure the curated evidence renders (its Markdown: the cited report and the
    investigation's named runs), and each rounded as prose rounds it."""
    found: set[str] = set()
    for path in EVIDENCE_DIR.rglob("*.md"):
        for token in re.findall(r"\d[\d,]*(?:\.\d+)?", path.read_text()):
            number = token.replace(",", "")
            found.add(number)
            if "." in number:
                found |= {str(round(float(number))), f"{float(number):.1f}", f"{float(number):.2f}"}
    return found


def constant_figures() -> set[str]:
    """Module-level numbers of the kit (goals, grids, limits): figures README may state as they are."""
    found: set[str] = set()
    for module_info in pkgutil.walk_packages(perfkit.__path__, "perfkit."):
        if module_info.name.endswith(("_probe", "__main__")):
            continue
        module = importlib.import_module(module_info.name)
        for value in vars(module).values():
            values = value if isinstance(value, tuple) else (value,)
            found |= {str(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)}
    return found


def readable(document: Path) -> str:
    """What a reader reads: a Markdown file, or a notebook's Markdown cells and its parameters cell."""
    if document.suffix != ".ipynb":
        return prose(document.read_text())
    cells = json.loads(document.read_text())["cells"]
    return "\n".join(
        "".join(cell["source"])
        for cell in cells
        if cell["cell_type"] == "markdown" or "parameters" in cell.get("metadata", {}).get("tags", [])
    )


@pytest.mark.parametrize("document", [*DOCUMENTS, *NOTEBOOKS], ids=lambda p: str(p.relative_to(PROJECT_ROOT)))
def test_prose_states_only_figures_the_kit_holds(document: Path) -> None:
    known = instance_figures() | evidence_figures() | constant_figures()
    unknown = sorted({figure for figure in figures(readable(document)) if figure not in known}, key=float)
    assert unknown == [], (
        f"{document.name} states {unknown}, found in no instance, no evidence and no constant of the kit: "
        "correct the prose, or cite the run the figure comes from in evidence/"
    )


def test_a_drifted_dataset_size_is_caught() -> None:
    drifted = "a user who owns 500,000 of the 1,000,000 rows, in the 1,111,111-row `instances/scaling.json`"
    known = instance_figures() | constant_figures()
    assert {"500000", "1111111"} <= {figure for figure in figures(drifted) if figure not in known}
    assert "1211111" in known  # what scaling.json holds


@pytest.mark.parametrize("block", GENERATED, ids=lambda b: b.name)
def test_generated_block_is_what_the_kit_renders(block: object) -> None:
    assert block.current() == block.render(cited_report()), "run `perfkit readme <report>`"  # type: ignore[attr-defined]


def test_readme_is_a_front_door() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= 200, f"README is {len(lines)} lines: move reference material to docs/"
    first_screen = "\n".join(lines[:45])
    assert "<!-- verdict -->" in first_screen, "the verdict opens README's first screen"


@pytest.mark.parametrize("document", [README, *sorted(DOCS_DIR.glob("*.md"))], ids=lambda p: p.name)
def test_every_link_resolves(document: Path) -> None:
    text = FENCE.sub("", document.read_text())
    broken = []
    for target in (match["target"] for match in LINK.finditer(text)):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        resolved = (document.parent / path).resolve() if path else document
        if not resolved.exists() or (anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved)):
            broken.append(target)
    assert broken == [], f"{document.name} links to what does not exist: {broken}"


def _anchors(document: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    headings = re.findall(r"^#+ (.+)$", FENCE.sub("", document.read_text()), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_spread_covers_every_full_report_beside_the_cited_one() -> None:
    spread = BLOCKS["spread"].current()
    full = [p for p in EVIDENCE_DIR.glob("*/report.json") if json.loads(p.read_text())["quick"] is False]
    assert len(full) >= 3, "docs/results.md quotes times as the spread of at least three full reports"
    assert all(f"[{p.parent.name}]" in spread for p in full)
    assert "scan floor" in spread, "each report's machine is shown apart from the query"


def test_readme_cites_a_report_with_a_page_a_reader_can_open() -> None:
    report = cited_report()
    page = report / "report.html"
    assert page.is_file(), f"{report} has no slim report.html: curate it with `perfkit evidence`"
    assert page.stat().st_size < 1024 * 1024
    assert f"{report.relative_to(README.parent)}/report.html" in README.read_text(), "README links the page"


def test_readme_shows_the_table_of_the_report_it_cites() -> None:
    report = cited_report()
    assert BLOCKS["results-table"].current() == results_table(report), "run `perfkit readme <report>`"
