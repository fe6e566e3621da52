"""A bench run's measurements in memory: raw samples first, then the statistics and tables derived from them.

How they are kept on disk is `perfkit.record`'s business."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from perfkit.measure.scaling import LinearFit, LogLogFit, fit_line, fit_loglog
from perfkit.measure.timing import describe, median
from perfkit.subject import DEFAULT_SUBJECT, load_subject

MB = 1024 * 1024


GRID = "grid"
HEADLINE = "headline"
POOLED = "pooled"
FRESH = "fresh"


@dataclass
class LatencySeries:
    """Raw latencies of one variant for one user. ``scope`` is ``grid`` for the sweep over N and
    ``headline`` for the top of the requirement; ``connection`` is ``pooled`` for calls on a
    long-lived connection well past any plan-cache switch, ``fresh`` for the first call of a new one."""

    variant: str
    n: int
    key: int
    seconds: list[float]
    warmup_seconds: list[float] = field(default_factory=list)
    scope: str = GRID
    connection: str = POOLED
    stopped: str = ""  # why sampling ended (`timing.SamplingPlan.stop`); empty for a fixed count


@dataclass
class BenchRecord:
    """One bench run. ``complete`` is False when the run stopped early; what it has is kept."""

    environment: dict[str, Any]
    parameters: dict[str, Any]
    latency: list[LatencySeries] = field(default_factory=list)
    memory: list[dict[str, Any]] = field(default_factory=list)
    plans: dict[str, dict[str, Any]] = field(default_factory=dict)  # "<scope> N=<n>" -> variant -> captured plan
    flamegraphs: dict[str, str] = field(default_factory=dict)
    serial_plans: list[dict[str, Any]] = field(default_factory=list)  # scope, n, variant, `serial_facts`
    instructions: list[dict[str, Any]] = field(default_factory=list)  # CountedCall records: variant, n, count, plan
    client_instructions: list[dict[str, Any]] = field(default_factory=list)  # implementation, n, instructions
    instruction_profile: list[dict[str, Any]] = field(default_factory=list)  # the optimized call at its largest N
    counting: dict[str, Any] = field(default_factory=dict)  # how the counts were taken, or why they were not
    notes: list[str] = field(default_factory=list)
    phase_seconds: dict[str, float] = field(default_factory=dict)  # wall time of each phase of the run
    concurrency: list[dict[str, Any]] = field(default_factory=list)  # `concurrency.ConcurrentSeries` records
    complete: bool = False
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def subject(self) -> dict[str, Any]:
        """The subject measured, as its record keeps it: name, fingerprint, title, goals, words and references.
        A record older than subjects, or than a part of their description, was the default subject's."""
        recorded: dict[str, Any] = self.parameters.get("subject") or {"fingerprint": None}
        if recorded.get("name", DEFAULT_SUBJECT) == DEFAULT_SUBJECT and not {"goals", "references"} <= set(recorded):
            return {**_default_description(), **recorded}
        return recorded

    @property
    def goals(self) -> dict[str, float]:
        """The goals its subject states (`perfkit.subject.GOALS`): those not stated are not judged."""
        return dict(self.subject.get("goals", {}))

    @property
    def words(self) -> dict[str, str]:
        return dict(self.subject.get("words", {}))

    def named(self, role: str) -> str:
        """The reference playing ``role`` (`perfkit.subject.ROLES`); empty when the subject has none."""
        return next((name for name, r in self.subject.get("references", {}).items() if r["role"] == role), "")

    def label(self, name: str) -> str:
        """How targets and figures name a reference (its subject's label): its name where none is given."""
        return str(self.subject.get("references", {}).get(name, {}).get("label") or name)

    def note(self, name: str) -> str:
        return str(self.subject.get("references", {}).get(name, {}).get("note") or "")

    @property
    def grid(self) -> list[int]:
        grid_latency = {series.n for series in self.latency if series.scope == GRID}
        return sorted(grid_latency | {int(m["n"]) for m in self.memory})

    def candidates(self) -> list[str]:
        """The variants judged against the optimized version (records of schema 3 and before name one)."""
        named = self.parameters.get("candidates")
        if named is None:
            single = self.parameters.get("candidate")
            return [single] if single else []
        return list(named)

    def series(self, variant: str, n: int, scope: str = GRID, connection: str = POOLED) -> LatencySeries | None:
        return next(
            (s for s in self.latency if (s.variant, s.n, s.scope, s.connection) == (variant, n, scope, connection)),
            None,
        )

    def median_seconds(self, variant: str, n: int, scope: str = GRID, connection: str = POOLED) -> float:
        found = self.series(variant, n, scope, connection)
        return median(found.seconds) if found else math.nan

    def scenarios(self) -> list[tuple[str, int]]:
        """Every (scope, N) where the optimized version was timed: the grid first, then the headline."""
        found = {(s.scope, s.n) for s in self.latency if s.variant == "after" and s.connection == POOLED}
        return sorted(found, key=lambda item: (item[0] != GRID, item[1]))

    def fastest(self, base: str, n: int, scope: str = GRID, *, forced_only: bool = False) -> tuple[str, float] | None:
        """The variant running ``base``'s query with the lowest median: the plan the planner chose
        and its forced alternatives, or the alternatives only."""
        medians = {
            s.variant: median(s.seconds)
            for s in self.latency
            if (s.n, s.scope, s.connection) == (n, scope, POOLED)
            and s.variant.split("[")[0] == base
            and not (forced_only and s.variant == base)
            and s.seconds
        }
        if not medians:
            return None
        name = min(medians, key=lambda variant: medians[variant])
        return name, medians[name]

    def memory_of(self, implementation: str, n: int) -> dict[str, Any] | None:
        return next((m for m in self.memory if m["implementation"] == implementation and m["n"] == n), None)

    def instruction_counts(self, variant: str, *, client: bool = False) -> dict[int, int]:
        """Instructions of one warm call by N: the backend's for ``variant``, or with ``client`` the
        client's (Python, psycopg, libpq) for an implementation."""
        if client:
            return {
                int(c["n"]): int(c["instructions"]) for c in self.client_instructions if c["implementation"] == variant
            }
        return {int(c["n"]): int(c["instructions"]) for c in self.instructions if c["variant"] == variant}

    def instruction_fit(self, variant: str, *, client: bool = False) -> LinearFit | None:
        """Instructions against N: the slope is the cost of one more event, the intercept the call's own."""
        counts = self.instruction_counts(variant, client=client)
        return fit_line(list(counts), list(counts.values())) if len(counts) >= 2 else None

    def memory_fit(self, implementation: str, metric: str = "peak_bytes") -> LogLogFit | None:
        points = [
            (int(m["n"]), float(m[metric]))
            for m in self.memory
            if m["implementation"] == implementation and not m["limit_hit"] and m[metric] > 0
        ]
        if not points:
            return None
        return fit_loglog([n for n, _ in points], [v for _, v in points])

    def memory_reductions(self) -> dict[int, float]:
        """1 - optimized peak / legacy peak, at every N where both were measured within limits."""
        result = {}
        for n in self.grid:
            before, after = self.memory_of("before", n), self.memory_of("after", n)
            if before and after and before["peak_bytes"] > 0 and not before["limit_hit"]:
                result[n] = 1.0 - after["peak_bytes"] / before["peak_bytes"]
        return result


LATENCY_COLUMNS = [
    "scope", "connection", "variant", "n", "samples", "stopped", "median_ms",
    "p50_ms", "p95_ms", "p99_ms", "p50_label", "p95_label", "p99_label",
]  # fmt: skip
MEMORY_COLUMNS = ["implementation", "n", "peak_mb", "allocations", "rss_growth_mb", "max_rss_mb", "limit_hit"]


def latency_table(record: BenchRecord) -> pd.DataFrame:
    """One row per variant and N: sample count, median and labelled percentiles, in ms."""
    rows = []
    for series in sorted(record.latency, key=lambda s: (s.scope != GRID, s.n, s.connection, s.variant)):
        stats = describe(series.seconds)
        rows.append(
            {
                "scope": series.scope,
                "connection": series.connection,
                "variant": series.variant,
                "n": series.n,
                "samples": len(series.seconds),
                "stopped": series.stopped,
                "median_ms": median(series.seconds) * 1000,
                **{f"{name}_ms": stat.value * 1000 for name, stat in stats.items()},
                **{f"{name}_label": stat.label for name, stat in stats.items()},
            }
        )
    return pd.DataFrame.from_records(rows, columns=LATENCY_COLUMNS)


def memory_table(record: BenchRecord) -> pd.DataFrame:
    rows = []
    for m in sorted(record.memory, key=lambda m: (m["n"], m["implementation"])):
        rows.append(
            {
                "implementation": m["implementation"],
                "n": m["n"],
                "peak_mb": m["peak_bytes"] / MB,
                "allocations": m["total_allocations"],
                "rss_growth_mb": m["rss_growth_bytes"] / MB,
                "max_rss_mb": m["max_rss_bytes"] / MB,
                "limit_hit": m["limit_hit"],
            }
        )
    return pd.DataFrame.from_records(rows, columns=MEMORY_COLUMNS)


def tidy(record: BenchRecord) -> pd.DataFrame:
    """One row per scope × implementation × N × metric: the long form behind results.csv."""
    rows: list[dict[str, Any]] = []
    for row in latency_table(record).to_dict(orient="records"):
        for metric in ("median_ms", "p50_ms", "p95_ms", "p99_ms"):
            label = row.get(f"{metric[:-3]}_label", f"median (n={row['samples']})")
            rows.append(
                {
                    "scope": row["scope"] if row["connection"] == POOLED else f"{row['scope']}, first call",
                    "implementation": row["variant"],
                    "n": row["n"],
                    "metric": f"latency_{metric[:-3]}",
                    "value": row[metric],
                    "unit": "ms",
                    "samples": row["samples"],
                    "label": label,
                }
            )
    for row in memory_table(record).to_dict(orient="records"):
        for metric, unit in (
            ("peak_mb", "MB"),
            ("allocations", "count"),
            ("rss_growth_mb", "MB"),
            ("max_rss_mb", "MB"),
        ):
            rows.append(
                {
                    "scope": GRID,
                    "implementation": row["implementation"],
                    "n": row["n"],
                    "metric": f"memory_{metric.removesuffix('_mb')}",
                    "value": float(row[metric]),
                    "unit": unit,
                    "samples": 1,
                    "label": "limit hit" if row["limit_hit"] else "",
                }
            )
    return pd.DataFrame.from_records(
        rows, columns=["scope", "implementation", "n", "metric", "value", "unit", "samples", "label"]
    )


@functools.cache
def _default_description() -> dict[str, Any]:
    return load_subject(DEFAULT_SUBJECT).to_json()
