"""What a load run shows: throughput, latency by the key's size, RSS against time and the rows in flight.

The summary's field names (``latency_ms_by_events`` and the like) are those of the records already kept."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from perfkit.measure.results import MB
from perfkit.measure.scaling import fit_line
from perfkit.measure.timing import describe


@dataclass
class LoadRun:
    """Raw record of one load run: every request and every RSS sample (seconds from the start)."""

    implementation: str
    workers: int
    duration: float
    memory_limit_mb: int | None
    requests: list[dict[str, Any]] = field(default_factory=list)
    rss: list[tuple[float, int]] = field(default_factory=list)

    @property
    def completed(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["error"] is None]

    @property
    def limit_hit(self) -> dict[str, Any] | None:
        """The first request that ran out of memory, if any."""
        for request in sorted(self.requests, key=lambda r: r["end"]):
            error = request["error"] or ""
            if "MemoryError" in error or "out of memory" in error:
                return request
        return None

    def in_flight_rows(self, at: float) -> int:
        return sum(r["rows"] for r in self.requests if r["start"] <= at < r["end"])

    def summary(self) -> dict[str, Any]:
        """Throughput, latency by the key's size, RSS figures and the RSS-vs-rows slope."""
        completed = self.completed
        elapsed = max((r["end"] for r in self.requests), default=0.0)
        by_size: dict[int, list[float]] = {}
        for request in completed:
            by_size.setdefault(request["rows"], []).append(request["end"] - request["start"])
        latency = {
            str(rows): {name: {"ms": p.value * 1000, "label": p.label} for name, p in describe(samples).items()}
            for rows, samples in sorted(by_size.items())
        }
        rss_values = [value for _, value in self.rss]
        warm_from = max(1.0, 0.1 * self.duration)
        warm = [value for t, value in self.rss if t >= warm_from]
        slope, r_squared = self.rss_slope()
        limit = self.limit_hit
        return {
            "implementation": self.implementation,
            "workers": self.workers,
            "requests": len(completed),
            "errors": len(self.requests) - len(completed),
            "throughput_per_s": len(completed) / elapsed if elapsed > 0 else 0.0,
            "latency_ms_by_events": latency,
            "max_rss_mb": max(rss_values, default=0) / MB,
            "rss_growth_once_warm_mb": (max(warm) - warm[0]) / MB if warm else math.nan,
            "rss_slope_mb_per_million_events": slope * 1_000_000 / MB,
            "rss_attributable_to_events_mb": slope * self.in_flight_range() / MB,
            "rss_slope_r_squared": r_squared,
            "rss_rise_mb_per_million_events_per_request": self.growth_slope() * 1_000_000 / MB,
            "rss_samples": len(self.rss),
            "limit_hit": None
            if limit is None
            else f"{self.implementation} exceeded {self.memory_limit_mb} MB at {limit['rows']:,} rows",
        }

    def request_growth(self) -> list[tuple[int, int]]:
        """(rows, RSS rise) of each request: the highest RSS sampled while it ran minus the RSS
        sampled last before it started. Overlapping requests share a rise; the fit sorts it out."""
        points = []
        for request in self.requests:
            before = [v for t, v in self.rss if t < request["start"]]
            during = [v for t, v in self.rss if request["start"] < t <= request["end"]]
            if before and during:
                points.append((int(request["rows"]), max(during) - before[-1]))
        return points

    def growth_slope(self) -> float:
        """Least-squares slope of per-request RSS rise (bytes) against the request's rows."""
        points = self.request_growth()
        if len(points) < 3:
            return math.nan
        return fit_line([e for e, _ in points], [g for _, g in points]).slope

    def in_flight_range(self) -> int:
        """Spread of the in-flight event counts seen at the samples (the x range of the slope)."""
        values = [self.in_flight_rows(t) for t, _ in self.rss]
        return max(values) - min(values) if values else 0

    def rss_slope(self) -> tuple[float, float]:
        """Least-squares slope of RSS (bytes) against the rows of the requests in flight, and its R²."""
        if len(self.rss) < 3:
            return math.nan, math.nan
        xs = [float(self.in_flight_rows(t)) for t, _ in self.rss]
        if len(set(xs)) < 2:
            return 0.0, math.nan  # nothing in flight changed: no memory can be attributed to rows
        line = fit_line(xs, [float(value) for _, value in self.rss])
        return line.slope, line.r_squared
