"""README's generated blocks: the results table, produced from the report it cites, and the glossary,
never typed by hand.

Each sits between two markers; `python -m evaluation readme REPORT` rewrites both, and a test fails
when either differs from what the kit renders.
"""

from __future__ import annotations

import re
from pathlib import Path

from perfkit.errors import ConfigurationError
from perfkit.judge.outcome import Check
from perfkit.paths import PROJECT_ROOT, README
from perfkit.record.format import read_record
from perfkit.record.runs import INCOMPLETE
from perfkit.render.glossary import glossary_markdown
from perfkit.render.report import report_verdict
from perfkit.render.tables import checks_frame, markdown_table

_VERDICT = re.compile(r"<!-- verdict -->\n(?P<lines>.*?)<!-- /verdict -->\n", re.DOTALL)
_GLOSSARY = re.compile(r"<!-- glossary -->\n(?P<terms>.*?)<!-- /glossary -->\n", re.DOTALL)
_BLOCK = re.compile(r"<!-- results-table: (?P<report>\S+) -->\n(?P<table>.*?)<!-- /results-table -->\n", re.DOTALL)


def results_table(report: Path) -> str:
    """The report's targets as README shows them: where, what, goal, measured, result."""
    document = read_record(report / "report.json", "report")
    checks = [Check.from_json(check) for check in document["targets"]]
    frame = checks_frame(checks).drop(columns=["note"])
    return markdown_table(frame) + "\n"


def cited_report(readme: Path = README) -> Path:
    match = _BLOCK.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- results-table: REPORT --> block")
    return PROJECT_ROOT / match["report"]


def update_readme(report: Path, readme: Path = README) -> Path:
    """Rewrite README's results block from ``report`` (a path inside the project, e.g. evidence/<name>)."""
    report = report.resolve()
    if not (report / "report.json").is_file():
        raise ConfigurationError(f"{report} holds no report.json: name a report directory")
    if not report.is_relative_to(PROJECT_ROOT):
        raise ConfigurationError(
            f"{report} is outside the project: README cites its curated copy (python -m evaluation evidence {report})"
        )
    if (report / INCOMPLETE).exists():
        raise ConfigurationError(f"{report} did not finish (it holds {INCOMPLETE}): README cites a finished report")
    text = readme.read_text()
    if _BLOCK.search(text) is None:
        raise ConfigurationError(f"{readme} has no <!-- results-table: REPORT --> block to rewrite")
    for pattern, name in ((_GLOSSARY, "glossary"), (_VERDICT, "verdict")):
        if pattern.search(text) is None:
            raise ConfigurationError(f"{readme} has no <!-- {name} --> block to rewrite")
    relative = report.relative_to(PROJECT_ROOT)
    block = f"<!-- results-table: {relative} -->\n{results_table(report)}<!-- /results-table -->\n"
    text = _BLOCK.sub(lambda _: block, text, count=1)
    text = _GLOSSARY.sub(lambda _: f"<!-- glossary -->\n{glossary_markdown()}<!-- /glossary -->\n", text, count=1)
    text = _VERDICT.sub(lambda _: f"<!-- verdict -->\n{verdict_markdown(report)}<!-- /verdict -->\n", text, count=1)
    readme.write_text(text)
    return readme


def readme_glossary(readme: Path = README) -> str:
    match = _GLOSSARY.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- glossary --> block")
    return match["terms"]


def readme_table(readme: Path = README) -> str:
    match = _BLOCK.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- results-table: REPORT --> block")
    return match["table"]


def verdict_markdown(report: Path) -> str:
    """README's verdict block: the cited report's verdict, as its page opens with it."""
    return "".join(f"- {line}\n" for line in report_verdict(report))


def readme_verdict(readme: Path = README) -> str:
    match = _VERDICT.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- verdict --> block")
    return match["lines"]
