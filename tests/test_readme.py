"""README stays true: its generated blocks equal what the kit renders, and every figure its prose
states (a dataset's size, a scenario, a result) is found in the instances, the evidence it cites or
the kit's own constants."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
from collections import Counter
from collections.abc import Iterator

import perfkit
from perfkit.data.instances import list_instances, read_instance
from perfkit.paths import EVIDENCE_DIR, README
from perfkit.render.glossary import glossary_markdown
from perfkit.render.readme import (
    _BLOCK,
    _GLOSSARY,
    _SPREAD,
    _VERDICT,
    cited_report,
    readme_glossary,
    readme_spread,
    readme_verdict,
    spread_markdown,
    verdict_markdown,
)

FIGURE = re.compile(r"(?<![\w.,/#-])(\d{1,3}(?:,\d{3})+|\d+\.\d+(?=\s?(?:ms|MB|KB|GB|×|%|s\b)))")
"""What README's prose states as a figure: a number with thousands separators, or a decimal with a unit."""
FENCE = re.compile(r"```.*?```", re.DOTALL)


def prose(text: str) -> str:
    """README without its code blocks and its generated blocks (checked against the kit separately)."""
    for pattern in (FENCE, _BLOCK, _GLOSSARY, _VERDICT, _SPREAD):
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


def test_readme_prose_states_only_figures_the_kit_holds() -> None:
    known = instance_figures() | evidence_figures() | constant_figures()
    unknown = sorted({figure for figure in figures(prose(README.read_text())) if figure not in known}, key=float)
    assert unknown == [], (
        f"README states {unknown}, found in no instance, no evidence and no constant of the kit: "
        "correct the prose, or cite the run the figure comes from in evidence/"
    )


def test_a_drifted_dataset_size_is_caught() -> None:
    drifted = "a user who owns 500,000 of the 1,000,000 rows, in the 1,111,111-row `instances/scaling.json`"
    known = instance_figures() | constant_figures()
    assert {"500000", "1111111"} <= {figure for figure in figures(drifted) if figure not in known}
    assert "1211111" in known  # what scaling.json holds


def test_readme_glossary_is_the_kit_glossary() -> None:
    assert readme_glossary() == glossary_markdown(), "run `python -m evaluation readme <report>`"


def test_readme_verdict_is_the_cited_report_verdict() -> None:
    assert readme_verdict() == verdict_markdown(cited_report()), "run `python -m evaluation readme <report>`"


def test_readme_spread_covers_every_full_report_beside_the_cited_one() -> None:
    spread = readme_spread()
    assert spread == spread_markdown(cited_report().parent), "run `python -m evaluation readme <report>`"
    full = [p for p in EVIDENCE_DIR.glob("*/report.json") if json.loads(p.read_text())["quick"] is False]
    assert len(full) >= 3, "README quotes times as the spread of at least three full reports"
    assert all(f"[{p.parent.name}]" in spread for p in full)


def test_readme_cites_a_report_with_a_page_a_reader_can_open() -> None:
    report = cited_report()
    page = report / "report.html"
    assert page.is_file(), f"{report} has no slim report.html: curate it with `python -m evaluation evidence`"
    assert page.stat().st_size < 1024 * 1024
    assert f"{report.relative_to(README.parent)}/report.html" in README.read_text(), "README links the page"
