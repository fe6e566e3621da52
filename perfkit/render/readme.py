"""README's generated blocks: the results table and the verdict, produced from the report it cites,
the spread of the requirement's p99 over every full report beside it, and the glossary, never typed
by hand.

Each sits between two markers; `python -m evaluation readme REPORT` rewrites them all, and a test
fails when any differs from what the kit renders.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from perfkit.errors import ConfigurationError
from perfkit.judge.bench import LINEAR, P99
from perfkit.judge.outcome import Check, Result
from perfkit.paths import PROJECT_ROOT, README
from perfkit.record.format import read_record
from perfkit.record.runs import INCOMPLETE
from perfkit.render.glossary import glossary_markdown
from perfkit.render.report import report_verdict
from perfkit.render.tables import checks_frame, markdown_table
from perfkit.render.verdict import machine_line, requirement_scope

_VERDICT = re.compile(r"<!-- verdict -->\n(?P<lines>.*?)<!-- /verdict -->\n", re.DOTALL)
_GLOSSARY = re.compile(r"<!-- glossary -->\n(?P<terms>.*?)<!-- /glossary -->\n", re.DOTALL)
_SPREAD = re.compile(r"<!-- spread -->\n(?P<lines>.*?)<!-- /spread -->\n", re.DOTALL)
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
    for pattern, name in ((_GLOSSARY, "glossary"), (_VERDICT, "verdict"), (_SPREAD, "spread")):
        if pattern.search(text) is None:
            raise ConfigurationError(f"{readme} has no <!-- {name} --> block to rewrite")
    relative = report.relative_to(PROJECT_ROOT)
    block = f"<!-- results-table: {relative} -->\n{results_table(report)}<!-- /results-table -->\n"
    text = _BLOCK.sub(lambda _: block, text, count=1)
    text = _GLOSSARY.sub(lambda _: f"<!-- glossary -->\n{glossary_markdown()}<!-- /glossary -->\n", text, count=1)
    text = _VERDICT.sub(lambda _: f"<!-- verdict -->\n{verdict_markdown(report)}<!-- /verdict -->\n", text, count=1)
    text = _SPREAD.sub(lambda _: f"<!-- spread -->\n{spread_markdown(report.parent)}<!-- /spread -->\n", text, count=1)
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


def readme_spread(readme: Path = README) -> str:
    match = _SPREAD.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- spread --> block")
    return match["lines"]


def verdict_markdown(report: Path) -> str:
    """README's verdict block: the cited report's verdict, as its page opens with it."""
    return "".join(f"- {line}\n" for line in report_verdict(report))


def readme_verdict(readme: Path = README) -> str:
    match = _VERDICT.search(readme.read_text())
    if match is None:
        raise ConfigurationError(f"{readme} has no <!-- verdict --> block")
    return match["lines"]


def spread_markdown(folder: Path) -> str:
    """The optimized p99 at the requirement's scale in every finished full report of ``folder``, with
    the machine and the instructions per event beside it: one run's time is not a fact about the
    query, the range over runs and days is closer to one, and the counts show what did not move."""
    rows, p99s = [], []
    for directory in sorted(p for p in folder.iterdir() if (p / "report.json").is_file()):
        document = read_record(directory / "report.json", "report")
        if document.get("quick") or (directory / INCOMPLETE).exists():
            continue
        checks = [Check.from_json(check) for check in document["targets"]]
        at = requirement_scope(checks)
        p99 = next((c for c in checks if c.name == P99 and c.at == at), None)
        if p99 is None:
            continue
        linear = next((c for c in checks if c.name == LINEAR), None)
        environment = document.get("environment") or {}
        p99s.append(p99)
        rows.append(
            {
                "report": f"[{directory.name}]({directory.relative_to(PROJECT_ROOT)}/report.md)",
                "commit": str(environment.get("git_commit") or "?")[:7],
                "machine": machine_line(environment) if environment.get("cpu_model") else "not recorded",
                "p99 at the requirement's scale": f"{p99.measured} ({p99.at})",
                "result": p99.result.value,
                "instructions per event": linear.measured.split(";")[0] if linear is not None else "not counted",
            }
        )
    if not rows:
        return f"No finished full report in {folder.name}/.\n"
    times = [float(p99.measured.split(" ")[0].replace(",", "")) for p99 in p99s]
    passed = sum(p99.result is Result.PASS for p99 in p99s)
    table = markdown_table(pd.DataFrame(rows))
    return (
        f"{table}\n\nOver these {len(rows)} full reports the optimized p99 at the requirement's scale ran "
        f"from {min(times):,.1f} to {max(times):,.1f} ms ({max(times) / min(times):.1f}×) and passed its goal in "
        f"{passed} of {len(rows)}.\n"
    )
