"""The history of a reports folder as a table and a figure: the key figures by report, date and
commit, with the changes `diff` finds significant marked."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from perfkit.record.history import HistoryPoint
from perfkit.render.figures import COLOURS, LABELS

SIGNIFICANT_COLOUR = "#c0392b"


def history_frame(points: Sequence[HistoryPoint]) -> pd.DataFrame:
    rows = [
        {
            "report": point.report,
            "date": point.created_at.replace("T", " ")[:16],
            "commit": point.commit,
            "scenario": point.scenario,
            "p99_ms": round(point.p99_ms, 1),
            "median_ms": round(point.median_ms, 1),
            "samples": point.samples,
            "instructions/event": round(point.instructions_per_event) if point.instructions_per_event else None,
            "optimized peak MB": round(point.optimized_peak_mb, 3) if point.optimized_peak_mb is not None else None,
            "× legacy": _rounded(point.speedup_legacy),
            "× DISTINCT": _rounded(point.speedup_distinct),
            "significant against the report before": "; ".join(point.significant),
        }
        for point in points
    ]
    return pd.DataFrame.from_records(rows)


def _rounded(value: float) -> float | None:
    return None if math.isnan(value) else round(value, 2)


def history_figure(points: Sequence[HistoryPoint]) -> Figure:
    """Latency, instructions per event and speedups by report; a red ring marks a report where
    `diff` found a significant change against the one before."""
    figure = Figure(figsize=(10, 7.5), layout="constrained")
    latency, instructions, speedups = figure.subplots(3, 1, sharex=True)
    x = list(range(len(points)))
    flagged = [i for i, point in enumerate(points) if point.significant]
    latency.plot(x, [p.p99_ms for p in points], "o-", color=COLOURS["after"], label="p99, optimized")
    latency.plot(x, [p.median_ms for p in points], "s--", color=COLOURS["after"], alpha=0.6, label="median, optimized")
    for i, point in enumerate(points):
        latency.annotate(f"n={point.samples}", (i, point.p99_ms), textcoords="offset points", xytext=(0, 6),
                         ha="center", fontsize=7)  # fmt: skip
    if flagged:
        latency.scatter(
            flagged, [points[i].p99_ms for i in flagged], s=180, facecolors="none", edgecolors=SIGNIFICANT_COLOUR,
            label="significant change (diff)",
        )  # fmt: skip
    latency.set_ylim(bottom=0, top=max((p.p99_ms for p in points), default=1.0) * 1.2)
    latency.set_ylabel("ms (machine-dependent)")
    latency.set_title(f"The requirement's scenario ({points[-1].scenario}) across reports" if points else "")
    counted = [(i, p.instructions_per_event) for i, p in enumerate(points) if p.instructions_per_event is not None]
    if counted:
        instructions.plot(*zip(*counted, strict=True), "o-", color=COLOURS["after"], label="optimized")
        for i, value in counted:
            instructions.annotate(f"{value:,.0f}", (i, value), textcoords="offset points", xytext=(0, 6),
                                  ha="center", fontsize=7)  # fmt: skip
        instructions.set_ylim(bottom=0, top=max(value for _, value in counted) * 1.25)
    instructions.set_ylabel("instructions / event\n(reproducible)")
    for attribute, role, label in (
        ("speedup_legacy", "before", LABELS["before"]),
        ("speedup_distinct", "rewrite", "the rewrite"),
    ):
        values = [getattr(p, attribute) for p in points]
        speedups.plot(x, values, "o-", color=COLOURS[role], label=f"× {label}")
    speedups.set_yscale("log")
    speedups.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    speedups.yaxis.set_minor_formatter(NullFormatter())
    speedups.set_ylabel("speedup (ratio of medians)")
    speedups.set_xticks(x, [f"{p.created_at[5:16].replace('T', ' ')}\n{p.commit}" for p in points], fontsize=8)
    for axes in (latency, instructions, speedups):
        axes.grid(True, which="both", alpha=0.3)
        if axes.get_legend_handles_labels()[0]:
            axes.legend(fontsize=8)
    return figure
