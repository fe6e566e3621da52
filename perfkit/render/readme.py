"""The generated blocks of README and docs/: the verdict and a summary of the report README cites,
its whole target table, the spread of the requirement's p99 over every full report beside it, and the
glossary, never typed by hand.

Each sits between two markers in one document (`GENERATED`); `perfkit readme REPORT` rewrites them
all, and a test fails when any differs from what the kit renders.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from perfkit.errors import ConfigurationError
from perfkit.judge.bench import LINEAR, P99, SCAN_FLOOR
from perfkit.judge.machine import machine_split, measured_p99_ms
from perfkit.judge.outcome import Check, Result
from perfkit.paths import DOCS_DIR, PROJECT_ROOT, README
from perfkit.record.format import read_record
from perfkit.record.runs import INCOMPLETE
from perfkit.render.glossary import glossary_markdown
from perfkit.render.report import report_verdict
from perfkit.render.tables import checks_frame, markdown_table
from perfkit.render.verdict import machine_line, requirement_scope

RESULTS = DOCS_DIR / "results.md"
GLOSSARY = DOCS_DIR / "glossary.md"


@dataclass(frozen=True)
class Block:
    """One generated block: its name, the document holding it, and what it renders from the cited report."""

    name: str
    document: Path
    render: Callable[[Path], str]
    cites: bool = False  # its opening marker names the report (``<!-- name: evidence/... -->``)

    def pattern(self) -> re.Pattern[str]:
        opening = rf"<!-- {self.name}: (?P<report>\S+) -->" if self.cites else rf"<!-- {self.name} -->"
        return re.compile(rf"{opening}\n(?P<body>.*?)<!-- /{self.name} -->\n", re.DOTALL)

    def current(self) -> str:
        """What the document holds between the markers."""
        return self.match()["body"]

    def match(self) -> re.Match[str]:
        found = self.pattern().search(self.document.read_text())
        if found is None:
            marker = f"<!-- {self.name}{': REPORT' if self.cites else ''} -->"
            raise ConfigurationError(f"{self.document} has no {marker} block: restore its two markers")
        return found

    def rewrite(self, report: Path) -> None:
        cited = f": {report.relative_to(PROJECT_ROOT)}" if self.cites else ""
        block = f"<!-- {self.name}{cited} -->\n{self.render(report)}<!-- /{self.name} -->\n"
        self.document.write_text(self.pattern().sub(lambda _: block, self.document.read_text(), count=1))


SUMMARY_TARGETS = (
    P99,
    "speedup over legacy",
    SCAN_FLOOR,
    "peak RSS, optimized",
    "memory reduction vs legacy (memray peak)",
    "memory slope, optimized (log-log)",
    "client instructions per event, optimized",
    LINEAR,
    "serving RSS, optimized",
)
"""README's summary: the targets a reader asks about first, at the requirement's scale where they are
judged at several places; the whole table is in docs/results.md."""


def _checks(report: Path) -> list[Check]:
    return [Check.from_json(check) for check in read_record(report / "report.json", "report")["targets"]]


def results_table(report: Path) -> str:
    """The report's targets as docs/results.md shows them: where, what, goal, measured, result."""
    frame = checks_frame(_checks(report)).drop(columns=["note"])
    return markdown_table(frame) + "\n"


def summary_table(report: Path) -> str:
    """README's few rows: each of `SUMMARY_TARGETS` once, at the requirement's scale where it is judged
    there, else where it is judged (the memory sweep, the load test)."""
    checks = [c for c in _checks(report) if not c.subject]
    scope = requirement_scope(checks)
    chosen = []
    for name in SUMMARY_TARGETS:
        found = [c for c in checks if c.name == name]
        chosen += [next((c for c in found if c.at == scope), found[-1])] if found else []
    frame = checks_frame(chosen).drop(columns=["note"])
    return markdown_table(frame) + "\n"


def verdict_markdown(report: Path) -> str:
    """README's verdict block: the cited report's verdict, as its page opens with it."""
    return "".join(f"- {line}\n" for line in report_verdict(report))


def _spread(report: Path) -> str:
    return spread_markdown(report.parent, RESULTS.parent)


GENERATED = (
    Block("verdict", README, verdict_markdown),
    Block("summary", README, summary_table, cites=True),
    Block("results-table", RESULTS, results_table, cites=True),
    Block("spread", RESULTS, _spread),
    Block("glossary", GLOSSARY, lambda _: glossary_markdown()),
)
BLOCKS = {block.name: block for block in GENERATED}


def cited_report() -> Path:
    """The report README cites (its summary's marker names it)."""
    return PROJECT_ROOT / BLOCKS["summary"].match()["report"]


def update_readme(report: Path) -> Path:
    """Rewrite every generated block from ``report`` (a path inside the project, e.g. evidence/<name>)."""
    report = report.resolve()
    if not (report / "report.json").is_file():
        raise ConfigurationError(f"{report} holds no report.json: name a report directory")
    if not report.is_relative_to(PROJECT_ROOT):
        raise ConfigurationError(
            f"{report} is outside the project: README cites its curated copy (perfkit evidence {report})"
        )
    if (report / INCOMPLETE).exists():
        raise ConfigurationError(f"{report} did not finish (it holds {INCOMPLETE}): README cites a finished report")
    for block in GENERATED:
        block.match()  # every document has its markers before any is written
    for block in GENERATED:
        block.rewrite(report)
    return README


def spread_markdown(folder: Path, base: Path = PROJECT_ROOT) -> str:
    """The optimized p99 at the requirement's scale in every finished full report of ``folder``, with
    the machine and the instructions per event beside it: one run's time is not a fact about the
    query, the range over runs and days is closer to one, and the counts show what did not move. The
    scan floor of each run shows the machine apart from the query. Links are relative to ``base``, the
    folder of the document the table goes into."""
    rows, p99s, splits = [], [], []
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
        split = machine_split(checks, p99.at)
        p99s.append(p99)
        splits += [split] if split is not None else []
        link = Path(os.path.relpath(directory, base)) / "report.md"
        rows.append(
            {
                "report": f"[{directory.name}]({link.as_posix()})",
                "commit": str(environment.get("git_commit") or "?")[:7],
                "machine": machine_line(environment) if environment.get("cpu_model") else "not recorded",
                "p99 at the requirement's scale": f"{p99.measured} ({p99.at})",
                "result": p99.result.value,
                "scan floor (median)": f"{split.floor_median_ms:,.1f} ms" if split else "not timed",
                "p99 / scan floor": f"{split.query_ratio:.2f}×" if split else "",
                "goal needs a scan floor under": f"{split.needed_floor_ms:,.1f} ms" if split else "",
                "instructions per event": linear.measured.split(";")[0] if linear is not None else "not counted",
            }
        )
    if not rows:
        return f"No finished full report in {folder.name}/.\n"
    times = [measured_p99_ms(p99) or math.nan for p99 in p99s]
    passed = sum(p99.result is Result.PASS for p99 in p99s)
    table = markdown_table(pd.DataFrame(rows))
    text = (
        f"{table}\n\nOver these {len(rows)} full reports the optimized p99 at the requirement's scale ran "
        f"from {min(times):,.1f} to {max(times):,.1f} ms ({max(times) / min(times):.1f}×) and passed its goal in "
        f"{passed} of {len(rows)}."
    )
    if len(splits) > 1:
        floors = [split.floor_median_ms for split in splits]
        ratios = [split.query_ratio for split in splits]
        text += (
            f" The machines' scan floor ran from {min(floors):,.1f} to {max(floors):,.1f} ms "
            f"({max(floors) / min(floors):.1f}×), the query's p99 over it from {min(ratios):.2f}× to "
            f"{max(ratios):.2f}× ({max(ratios) / min(ratios):.1f}×): the goal held where the machine read the rows "
            "in under the time its row says."
        )
    return text + "\n"
