"""diff.md: two runs compared, as a reader takes it in (the figures are `perfkit.judge.diff`'s)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from perfkit.judge.diff import RunDiff
from perfkit.judge.goals import INSTRUCTION_THRESHOLD_PERCENT, NOISE_BAND
from perfkit.measure.statistics import SIGNIFICANCE
from perfkit.render.sections import Section, Table, Text, to_markdown


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows)
    return frame.drop(columns=[c for c in ("low", "high") if c in frame.columns]) if not frame.empty else frame


def diff_sections(result: RunDiff) -> list[Section]:
    if result.environment:
        opening = Section(
            "",
            [
                Text(["**The environments differ, which makes this comparison doubtful:**"], bullets=False),
                Table(pd.DataFrame.from_records(result.environment)),
            ],
        )
    else:
        opening = Section("", [Text(["Same commit, server, settings, CPU count and instances."], bullets=False)])
    return [
        opening,
        Section(
            f"Ratios measured inside each run (Holm-adjusted at {SIGNIFICANCE}, beyond ±{NOISE_BAND:.0%})",
            [Table(_frame(result.ratios))],
        ),
        Section(f"Latency by variant and N (b / a, Holm-adjusted at {SIGNIFICANCE})", [Table(_frame(result.latency))]),
        Section("Targets", [Table(pd.DataFrame.from_records(result.targets))]),
        Section("Plan shapes that changed", [Table(pd.DataFrame.from_records(result.plans), empty="None.")]),
        Section(
            "Backend instructions per call (exact counts; reproduce on any machine)",
            [Table(pd.DataFrame.from_records(result.instructions), empty="Not counted in both runs.")],
        ),
        Section(
            "Serial plans that changed: blocks read, rows removed, shape (exact; reproduce on any machine)",
            [Table(pd.DataFrame.from_records(result.serial_plan_changes()), empty="None.")],
        ),
    ]


def diff_markdown(result: RunDiff) -> str:
    return to_markdown(f"{result.b} against {result.a}", diff_sections(result))


def comparison_lines(comparison: RunDiff) -> list[str]:
    """What a report says of its comparison with the previous one, in a few lines."""
    lines = [f"Compared with report {comparison.a} (diff.md, diff.json)."]
    if comparison.environment:
        fields = ", ".join(str(row["field"]) for row in comparison.environment)
        lines.append(f"The environments differ ({fields}): the comparison is doubtful.")
    ratios = comparison.significant_ratios()
    lines.append(
        f"{len(ratios)} of {len(comparison.ratios)} ratios changed significantly"
        + (": " + "; ".join(f"{r['ratio']} at N={r['n']:,} ({r['change']:.2f}×)" for r in ratios) if ratios else ".")
    )
    slower = comparison.regressions(0.0)
    lines.append(f"{len(slower)} of {len(comparison.latency)} latencies are significantly slower (any amount).")
    if comparison.plans:
        lines.append(f"{len(comparison.plans)} plan shapes changed.")
    if comparison.instructions:
        moved = comparison.instruction_changes()
        which = "; ".join(f"{r['variant']} at N={r['n']:,} {r['change_percent']:+.1f}%" for r in moved)
        lines.append(
            f"{len(moved)} of {len(comparison.instructions)} backend instruction counts moved by more than "
            f"{INSTRUCTION_THRESHOLD_PERCENT:g}% or changed plan" + (f": {which}" if moved else ".")
        )
    if comparison.serial_plans:
        changed = len(comparison.serial_plan_changes())
        lines.append(f"{changed} of {len(comparison.serial_plans)} serial plans read other blocks or changed shape.")
    return lines
