"""Target checks: one `Check` type for the bench and the load test, judged against `goals`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from evaluation import goals
from evaluation.results import HEADLINE, MB, BenchRecord, memory_table
from evaluation.scaling import ratio
from evaluation.timing import describe


@dataclass(frozen=True)
class Check:
    """One target: ``passed`` is None when it is information, or could not be judged in this run."""

    name: str
    goal: str
    measured: str
    passed: bool | None
    note: str = ""

    @property
    def status(self) -> str:
        return {True: "pass", False: "FAIL", None: "info"}[self.passed]

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "result": self.status}

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Check:
        return cls(document["name"], document["goal"], document["measured"], document["passed"], document["note"])


def checks_frame(checks: Sequence[Check]) -> pd.DataFrame:
    """The target table, as notebooks display it and summary.md and report.md render it."""
    return pd.DataFrame.from_records(
        [
            {"target": c.name, "goal": c.goal, "measured": c.measured, "result": c.status, "note": c.note}
            for c in checks
        ],
        columns=["target", "goal", "measured", "result", "note"],
    )


def bench_checks(record: BenchRecord) -> list[Check]:
    """Latency on the headline scenario (else the largest N), memory over the grid."""
    grid = record.grid
    focus = record.latency_focus()
    checks: list[Check] = []
    if focus is not None:
        scope, n = focus
        rows = record.parameters.get("headline", {}).get("table_rows") if scope == HEADLINE else None
        where = f"at N={n:,}" + (f" in a {rows:,}-row table" if rows else "")
        checks += _latency_checks(record, scope, n, where, _short_of_target(n, scope == HEADLINE))
        if scope == HEADLINE and grid:
            checks += _p99_information(record, max(grid))
    if grid:
        largest = max(grid)
        checks += _memory_checks(record, largest, _short_of_target(largest, False))
    return checks


def _short_of_target(n: int, headline: bool) -> str:
    if headline or n >= goals.TARGET_N:
        return ""
    return f"largest N measured is {n:,}; the target is stated for {goals.TARGET_N:,}"


def _latency_checks(record: BenchRecord, scope: str, n: int, where: str, note: str) -> Iterator[Check]:
    after = record.series("after", n, scope)
    if after is None:
        return
    yield _p99_check(after.seconds, "p99 latency, optimized", f"< {goals.P99_LIMIT_MS:.0f} ms {where}", True, note)
    after_median = record.median_seconds("after", n, scope)
    for variant, name, limit, better_when_lower in (
        ("floor", "median over the count(*) floor", goals.FLOOR_RATIO_LIMIT, True),
        ("before", "speedup over legacy (median)", goals.MIN_SPEEDUP_VS_LEGACY, False),
        ("distinct", "speedup over the DISTINCT rewrite (median)", goals.MIN_SPEEDUP_VS_DISTINCT, False),
    ):
        other = record.series(variant, n, scope)
        if other is None:
            continue
        other_median = record.median_seconds(variant, n, scope)
        value = ratio(after_median, other_median) if better_when_lower else ratio(other_median, after_median)
        yield Check(
            name,
            f"{'≤' if better_when_lower else '≥'} {limit:g}× {where}",
            f"{value:.2f}× (n={len(after.seconds)} vs n={len(other.seconds)})",
            None if math.isnan(value) else (value <= limit if better_when_lower else value >= limit),
            note,
        )
    scan = record.series("scan_floor", n, scope)
    if scan is not None:
        value = ratio(after_median, record.median_seconds("scan_floor", n, scope))
        yield Check(
            "median over the count(metadata) scan floor",
            f"information {where}",
            f"{value:.2f}× (n={len(after.seconds)} vs n={len(scan.seconds)})",
            None,
            "the least any query reading type or metadata must do: scan the table's rows",
        )


def _p99_information(record: BenchRecord, largest: int) -> Iterator[Check]:
    after = record.series("after", largest)
    if after is not None:
        yield _p99_check(
            after.seconds,
            "p99 latency, optimized, largest N of the grid",
            f"information at N={largest:,}",
            False,
            f"table of {record.parameters.get('table_rows', 0):,} rows",
        )


def _p99_check(seconds: list[float], name: str, goal: str, judged: bool, note: str) -> Check:
    """A p99 labelled with its sample count, judged only when there are enough samples for one."""
    p99 = describe(seconds)["p99"]
    passed = p99.value * 1000 < goals.P99_LIMIT_MS if judged and p99.supported else None
    return Check(name, goal, f"{p99.value * 1000:.1f} ms ({p99.label})", passed, note)


def _memory_checks(record: BenchRecord, largest: int, note: str) -> Iterator[Check]:
    table = memory_table(record)
    after = table[table.implementation == "after"]
    if after.empty:
        return
    max_rss = float(after.max_rss_mb.max())
    yield Check(
        "peak RSS, optimized",
        f"≤ {goals.RSS_LIMIT_MB:.0f} MB",
        f"{max_rss:.1f} MB (process high-water mark, worst N)",
        max_rss <= goals.RSS_LIMIT_MB,
    )
    reductions = record.memory_reductions()
    considered = {n: r for n, r in reductions.items() if n >= goals.REDUCTION_FROM_N} or reductions
    if considered:
        worst_n = min(considered, key=lambda n: considered[n])
        yield Check(
            "memory reduction vs legacy (memray peak)",
            f"≥ {goals.MIN_MEMORY_REDUCTION:.0%} at every N ≥ {goals.REDUCTION_FROM_N:,}",
            f"worst {considered[worst_n]:.3%} at N={worst_n:,}",
            all(r >= goals.MIN_MEMORY_REDUCTION for r in considered.values()),
            ""
            if any(n >= goals.REDUCTION_FROM_N for n in reductions)
            else f"no N ≥ {goals.REDUCTION_FROM_N:,} measured; judged on every N",
        )
    fit = record.memory_fit("after")
    if fit is not None:
        yield Check(
            "memory slope, optimized (log-log)",
            f"abs(slope) < {goals.FLAT_SLOPE}",
            f"{fit.slope:+.3f} ({fit.verdict}, {fit.points} points)",
            abs(fit.slope) < goals.FLAT_SLOPE if fit.points >= 2 else None,
        )
        growth_mb = fit.growth / MB
        yield Check(
            "memory growth, optimized",
            f"< {goals.MAX_MEMORY_GROWTH_MB:g} MB from N={int(after.n.min()):,} to N={largest:,}",
            f"{growth_mb:+.3f} MB (memray peak)",
            growth_mb < goals.MAX_MEMORY_GROWTH_MB,
            note,
        )


def memory_verdicts(record: BenchRecord) -> list[str]:
    """One line per implementation: how its peak memory grows with N."""
    lines = []
    for implementation, label in (("before", "legacy (before)"), ("after", "optimized (after)")):
        fit = record.memory_fit(implementation)
        if fit is not None:
            lines.append(f"{label}: peak memory {fit.verdict}")
    return lines
