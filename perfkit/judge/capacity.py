"""Capacity: how many concurrent calls each variant serves within the p99 goal, and how many calls per
second it serves at most, against the scan floor's (the most any query reading these rows can serve)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from perfkit.judge import goals
from perfkit.judge.outcome import Check, Result
from perfkit.measure.concurrency import ConcurrentSeries
from perfkit.measure.results import BenchRecord
from perfkit.measure.timing import describe, percentile_interval

CAPACITY = "capacity within the p99 goal"
THROUGHPUT = "calls per second under load over the scan floor's"


@dataclass(frozen=True)
class Capacity:
    """The most concurrent clients at which the p99 goal still holds, counting up from one client: as
    measured (``clients``), where it surely holds (``low``: the p99's interval wholly below the goal) and
    where it may still hold (``high``: the interval's lower end below it). 0: not even one client."""

    variant: str
    clients: int
    low: int
    high: int
    tried: tuple[int, ...]
    peak_calls_per_second: float
    peak_at: int
    supported: bool  # every p99 rests on enough samples to be a p99, not a maximum

    def describe(self) -> str:
        interval = f"{self.low}–{self.high}" if self.low != self.high else f"{self.low}"
        plural = "s" if self.clients > 1 else ""
        holds = f"up to {self.clients} concurrent call{plural}" if self.clients else "not even for one call at a time"
        if self.clients and self.clients == self.tried[-1]:
            holds += ", the most tried"
        tried = ", ".join(str(c) for c in self.tried)
        caveat = "" if self.supported else "; some p99s are maxima of fewer than 100 calls"
        return (
            f"holds {holds} (95% interval {interval}; tried {tried} clients{caveat}); "
            f"at most {self.peak_calls_per_second:.1f} calls/s (at {self.peak_at} clients)"
        )


def _largest_holding(levels: Sequence[int], holds: Sequence[bool]) -> int:
    largest = 0
    for clients, ok in zip(levels, holds, strict=True):
        if not ok:
            break
        largest = clients
    return largest


def capacity(series: Sequence[ConcurrentSeries], limit_ms: float) -> Capacity:
    """The capacity of one variant from its series at one scenario (one per client count): the most
    clients at which its p99 stays under ``limit_ms``."""
    ordered = sorted(series, key=lambda s: s.clients)
    limit = limit_ms / 1000
    p99s = [describe(s.seconds)["p99"] for s in ordered]
    intervals = [percentile_interval(s.seconds, 99.0, confidence=goals.P99_CONFIDENCE) for s in ordered]
    levels = [s.clients for s in ordered]
    rates = [s.calls_per_second for s in ordered]
    peak = max(range(len(rates)), key=lambda i: rates[i] if not math.isnan(rates[i]) else -1.0)
    return Capacity(
        ordered[0].variant,
        _largest_holding(levels, [p.value < limit for p in p99s]),
        _largest_holding(levels, [high < limit for _, high in intervals]),
        _largest_holding(levels, [not low >= limit for low, _ in intervals]),
        tuple(levels),
        rates[peak],
        levels[peak],
        all(p.supported for p in p99s),
    )


def loaded(record: BenchRecord) -> dict[tuple[str, int], dict[str, list[ConcurrentSeries]]]:
    """The concurrent series of a record: (scope, N) -> variant -> one series per client count."""
    found: dict[tuple[str, int], dict[str, list[ConcurrentSeries]]] = {}
    for document in record.concurrency:
        series = ConcurrentSeries.from_json(document)
        found.setdefault((series.scope, series.n), {}).setdefault(series.variant, []).append(series)
    return found


def capacities(record: BenchRecord) -> dict[tuple[str, int], dict[str, Capacity]]:
    """Each variant's capacity at each loaded scenario, under its subject's p99 goal (none stated: none)."""
    limit = record.goals.get("p99_ms")
    if limit is None:
        return {}
    return {key: {name: capacity(s, limit) for name, s in by.items()} for key, by in loaded(record).items()}


def capacity_checks(record: BenchRecord, label: str, scope: str, n: int) -> Iterator[Check]:
    """At one loaded scenario: each variant's capacity (information: the requirement names no load), then
    the optimized query's calls per second at its peak over the scan floor's, judged."""
    found = capacities(record).get((scope, n))
    if not found:
        return
    goal = f"p99 < {record.goals['p99_ms']:.0f} ms"
    for name, cap in found.items():
        yield Check(
            f"{CAPACITY}, {name}",
            goal,
            cap.describe(),
            Result.INFO,
            "closed-loop clients on long-lived connections; the variants interleaved",
            label,
            figures={
                "clients": cap.clients,
                "low": cap.low,
                "high": cap.high,
                "calls_per_second": cap.peak_calls_per_second,
            },
        )
    after, floor = found.get("after"), found.get(record.named("scan_floor"))
    bounding = record.named("result_floor")
    result_floor, least = found.get(bounding), record.goals.get("min_throughput_vs_scan_floor")
    if after is None or floor is None:
        return
    value = after.peak_calls_per_second / floor.peak_calls_per_second
    bound = result_floor.peak_calls_per_second / floor.peak_calls_per_second if result_floor is not None else None
    yield Check.judged(
        THROUGHPUT,
        "information" if least is None else f"≥ {least:g}× (most calls per second of each)",
        f"{value:.2f}× ({after.peak_calls_per_second:.1f} against {floor.peak_calls_per_second:.1f} calls/s)"
        + (f"; the {record.label(bounding)}: {bound:.2f}×" if bound is not None else ""),
        None if least is None else value >= least,
        "under load the cores are the limit: calls per second measure the work of one call, parallel workers "
        "included; the result floor bounds what any query returning the result can serve",
        label,
        figures={"ratio": value, "result_floor_ratio": bound},
    )
