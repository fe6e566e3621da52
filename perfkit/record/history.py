"""The history of a reports folder: the key figures of every finished report of the same scale, by
date and commit, each marked with what `diff` finds significant against the report before it.

A report is finished when it holds report.json and no INCOMPLETE marker, and its bench can be read;
quick and full reports are told apart (their figures are of other sizes).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from perfkit.errors import KitError
from perfkit.judge.diff import Run, diff_runs
from perfkit.measure.results import GRID, HEADLINE, POOLED, BenchRecord
from perfkit.measure.scaling import ratio
from perfkit.measure.timing import median, percentile
from perfkit.record.format import load_run, read_record
from perfkit.record.runs import INCOMPLETE

MB = 1024 * 1024


def finished_reports(folder: Path, *, before: str, quick: bool | None = None, subject: str | None = None) -> list[Path]:
    """The finished reports of ``folder`` named before ``before``, oldest first (of one scale if ``quick``
    is given, of one subject if ``subject`` is)."""
    found = []
    for directory in sorted(p for p in folder.iterdir() if p.is_dir() and p.name < before):
        if not (directory / "report.json").is_file() or (directory / INCOMPLETE).exists():
            continue
        try:
            document = read_record(directory / "report.json", "report")
            measured = load_run(directory).record.subject["name"]
        except (KitError, KeyError, ValueError):  # an older format, or a report without a bench
            continue
        if (quick is None or bool(document.get("quick")) == quick) and subject in (None, measured):
            found.append(directory)
    return found


@dataclass(frozen=True)
class HistoryPoint:
    report: str
    created_at: str
    commit: str
    scenario: str
    samples: int
    p99_ms: float
    median_ms: float
    instructions_per_event: float | None
    optimized_peak_mb: float | None
    speedup_legacy: float
    speedup_distinct: float
    significant: list[str] = field(default_factory=list)  # what diff finds significant against the point before


def requirement_scenario(record: BenchRecord) -> tuple[str, int] | None:
    """The headline scenario when there is one, else the largest N of the grid."""
    scenarios = record.scenarios()
    headline = [s for s in scenarios if s[0] == HEADLINE]
    grid = [s for s in scenarios if s[0] == GRID]
    chosen = headline or grid[-1:]
    return chosen[0] if chosen else None


def history_point(run: Run, created_at: str) -> HistoryPoint | None:
    record = run.record
    scenario = requirement_scenario(record)
    if scenario is None:
        return None
    scope, n = scenario
    after = record.series("after", n, scope)
    seconds = after.seconds if after is not None else []
    fit = record.instruction_fit("after")
    memory = [m for m in record.memory if m["implementation"] == "after"]
    after_median = median(seconds) if seconds else math.nan
    return HistoryPoint(
        report=run.name,
        created_at=created_at,
        commit=str(record.environment.get("git_commit") or "?")[:8],
        scenario=f"{scope} N={n:,}",
        samples=len(seconds),
        p99_ms=percentile(seconds, 99.0) * 1000,
        median_ms=after_median * 1000,
        instructions_per_event=fit.slope if fit is not None else None,
        optimized_peak_mb=max(m["peak_bytes"] for m in memory) / MB if memory else None,
        speedup_legacy=ratio(record.median_seconds("before", n, scope), after_median),
        speedup_distinct=ratio(record.median_seconds(record.named("rewrite"), n, scope), after_median),
    )


def significant_changes(previous: Run, current: Run, scenario: tuple[str, int]) -> list[str]:
    """What `diff` flags between two reports at the requirement's scenario, and any moved instruction count."""
    comparison = diff_runs(previous, current)
    scope, n = scenario
    found = [
        f"optimized median ×{row['ratio']:.2f}"
        for row in comparison.latency
        if row["significant"]
        and (row["scope"], row["n"], row["variant"], row["connection"]) == (scope, n, "after", POOLED)
    ]
    found += [
        f"{row['ratio']} changed ×{row['change']:.2f}"
        for row in comparison.significant_ratios()
        if (row["scope"], row["n"]) == (scope, n)
    ]
    found += [
        f"{row['side']} instructions {row['variant']} N={row['n']:,} {row['change_percent']:+.2f}%"
        for row in comparison.instruction_changes()
    ]
    found += [
        f"serial plan {row['variant']} {row['scope']} N={row['n']:,} changed"
        for row in comparison.serial_plan_changes()
    ]
    return found


def report_history(earlier: Sequence[Path], current: Run, created_at: str) -> list[HistoryPoint]:
    """The key figures of ``earlier`` reports (oldest first) and of ``current``, each against the one before."""
    runs = [
        (load_run(directory), str(read_record(directory / "report.json", "report")["created_at"]))
        for directory in earlier
    ]
    runs.append((current, created_at))
    points: list[HistoryPoint] = []
    previous: Run | None = None
    for run, when in runs:
        point = history_point(run, when)
        if point is None:
            continue
        scenario = requirement_scenario(run.record)
        if previous is not None and scenario is not None:
            point.significant.extend(significant_changes(previous, run, scenario))
        points.append(point)
        previous = run
    return points


def previous_durations(folder: Path, *, before: str, quick: bool) -> tuple[str, dict[str, float]] | None:
    """How long each notebook took in the latest finished report of the same scale in ``folder``:
    what the next batch's estimate of the time left rests on."""
    if not folder.is_dir():
        return None
    earlier = [
        directory
        for directory in sorted(p for p in folder.iterdir() if p.is_dir() and p.name < before)
        if (directory / "report.json").is_file() and not (directory / INCOMPLETE).exists()
    ]
    for directory in reversed(earlier):
        try:
            document = read_record(directory / "report.json", "report")
        except KitError:
            continue
        if bool(document.get("quick")) == quick:
            return directory.name, {n["name"]: float(n["seconds"]) for n in document["notebooks"] if n.get("ok")}
    return None
