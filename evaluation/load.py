"""Load test: concurrent requests for users of every size, the serving process's RSS sampled
every 100 ms, in a child process (capped in memory for the legacy version)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil

from evaluation.errors import MeasurementError
from evaluation.instances import Instance
from evaluation.results import MB
from evaluation.timing import describe

RssSampler = Callable[[int], int]
"""Resident set size in bytes of the process with this pid."""

RSS_LIMIT_MB = 128.0
WARM_GROWTH_LIMIT_MB = 8.0
_DSN_VARIABLE = "PERFKIT_PROBE_DSN"


def process_rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


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

    def in_flight_events(self, at: float) -> int:
        return sum(r["events"] for r in self.requests if r["start"] <= at < r["end"])

    def summary(self) -> dict[str, Any]:
        """Throughput, latency by user size, RSS figures and the RSS-vs-events slope."""
        completed = self.completed
        elapsed = max((r["end"] for r in self.requests), default=0.0)
        by_size: dict[int, list[float]] = {}
        for request in completed:
            by_size.setdefault(request["events"], []).append(request["end"] - request["start"])
        latency = {
            str(events): {name: {"ms": p.value * 1000, "label": p.label} for name, p in describe(samples).items()}
            for events, samples in sorted(by_size.items())
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
            "rss_growth_once_warm_mb": (max(warm) - warm[0]) / MB if warm else float("nan"),
            "rss_slope_mb_per_million_events": slope * 1_000_000 / MB,
            "rss_attributable_to_events_mb": slope * self.in_flight_range() / MB,
            "rss_slope_r_squared": r_squared,
            "rss_rise_mb_per_million_events_per_request": self.growth_slope() * 1_000_000 / MB,
            "rss_samples": len(self.rss),
            "limit_hit": None
            if limit is None
            else f"{self.implementation} exceeded {self.memory_limit_mb} MB at {limit['events']:,} events",
        }

    def request_growth(self) -> list[tuple[int, int]]:
        """(events, RSS rise) of each request: the highest RSS sampled while it ran minus the RSS
        sampled last before it started. Overlapping requests share a rise; the fit sorts it out."""
        points = []
        for request in self.requests:
            before = [v for t, v in self.rss if t < request["start"]]
            during = [v for t, v in self.rss if request["start"] < t <= request["end"]]
            if before and during:
                points.append((int(request["events"]), max(during) - before[-1]))
        return points

    def growth_slope(self) -> float:
        """Least-squares slope of per-request RSS rise (bytes) against the request's events."""
        points = self.request_growth()
        if len(points) < 3 or len({e for e, _ in points}) < 2:
            return float("nan")
        slope, _ = np.polyfit([e for e, _ in points], [g for _, g in points], 1)
        return float(slope)

    def in_flight_range(self) -> int:
        """Spread of the in-flight event counts seen at the samples (the x range of the slope)."""
        values = [self.in_flight_events(t) for t, _ in self.rss]
        return max(values) - min(values) if values else 0

    def rss_slope(self) -> tuple[float, float]:
        """Least-squares slope of RSS (bytes) against the events of the requests in flight."""
        if len(self.rss) < 3:
            return float("nan"), float("nan")
        x = np.array([self.in_flight_events(t) for t, _ in self.rss], dtype=float)
        y = np.array([value for _, value in self.rss], dtype=float)
        if np.ptp(x) == 0:
            return 0.0, float("nan")
        slope, intercept = np.polyfit(x, y, 1)
        total = float(np.sum((y - y.mean()) ** 2))
        residual = float(np.sum((y - (slope * x + intercept)) ** 2))
        return float(slope), (1 - residual / total) if total > 0 else 1.0


def load_users(instance: Instance) -> list[tuple[int, int]]:
    """(user_id, events) of every user of the instance: the request mix, all equally likely."""
    return sorted(instance.event_counts.items(), key=lambda item: item[1])


def run_load(
    dsn: str,
    schema: str,
    implementation: str,
    users: Sequence[tuple[int, int]],
    *,
    workers: int,
    duration: float,
    memory_limit_mb: int | None = None,
    sample_interval: float = 0.1,
    sampler: RssSampler = process_rss,
    clock: Callable[[], float] = time.monotonic,
    seed: int = 0,
) -> LoadRun:
    """Serve requests from ``workers`` threads for ``duration`` seconds in a fresh process and
    sample that process's RSS every ``sample_interval`` seconds."""
    if duration <= 0 or workers <= 0:
        raise ValueError("duration and workers must be positive")
    command = [
        sys.executable, "-m", "evaluation._load_server",
        "--schema", schema,
        "--implementation", implementation,
        "--users", json.dumps([[user, events, 1] for user, events in users]),
        "--workers", str(workers),
        "--duration", str(duration),
        "--seed", str(seed),
    ]  # fmt: skip
    if memory_limit_mb is not None:
        command += ["--memory-limit-mb", str(memory_limit_mb)]
    run = LoadRun(implementation, workers, duration, memory_limit_mb)
    with tempfile.TemporaryDirectory(prefix="perfkit-load-") as scratch:
        requests_file = Path(scratch) / "requests.json"
        ready = _serve(
            [*command, "--requests-file", str(requests_file)], dsn, implementation, run, sample_interval, sampler, clock
        )
        requests = json.loads(requests_file.read_text())
    run.requests = [{**r, "start": r["start"] - ready, "end": r["end"] - ready} for r in requests]
    return run


def _serve(
    command: list[str],
    dsn: str,
    implementation: str,
    run: LoadRun,
    sample_interval: float,
    sampler: RssSampler,
    clock: Callable[[], float],
) -> float:
    """Start the server child, sample its RSS until it exits; return its start time."""
    with subprocess.Popen(
        command,
        env={**os.environ, _DSN_VARIABLE: dsn},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        ready_line = child.stdout.readline()
        if not ready_line:
            _, errors = child.communicate()
            raise MeasurementError(f"the {implementation} load server did not start: {errors.strip()[-500:]}")
        ready = float(json.loads(ready_line)["ready"])
        while child.poll() is None:
            try:
                run.rss.append((clock() - ready, sampler(child.pid)))
            except psutil.NoSuchProcess:
                break
            time.sleep(sample_interval)
        _, errors = child.communicate()
    if child.returncode != 0:
        raise MeasurementError(f"the {implementation} load server failed: {errors.strip()[-500:]}")
    return ready


def load_verdicts(after: dict[str, Any], before: dict[str, Any] | None) -> list[str]:
    """The lines a reader looks for: bounded memory for the optimized version, growth for the legacy one."""
    lines = [
        f"optimized: max RSS {after['max_rss_mb']:.1f} MB (target ≤ {RSS_LIMIT_MB:.0f} MB: "
        f"{'met' if after['max_rss_mb'] <= RSS_LIMIT_MB else 'NOT met'})",
        f"optimized: RSS growth once warm {after['rss_growth_once_warm_mb']:+.1f} MB "
        f"(target ≤ {WARM_GROWTH_LIMIT_MB:.0f} MB: "
        f"{'met' if after['rss_growth_once_warm_mb'] <= WARM_GROWTH_LIMIT_MB else 'NOT met'})",
        f"optimized: RSS slope {after['rss_slope_mb_per_million_events']:+.2f} MB per million in-flight events "
        f"({after['rss_attributable_to_events_mb']:+.2f} MB across the observed range)",
        f"optimized: {after['requests']:,} requests, {after['throughput_per_s']:.1f}/s, {after['errors']} errors",
    ]
    if before is not None:
        lines.append(
            f"legacy: RSS rises {before['rss_rise_mb_per_million_events_per_request']:+.0f} MB per million events "
            f"fetched by a request (optimized: {after['rss_rise_mb_per_million_events_per_request']:+.1f}), "
            f"max RSS {before['max_rss_mb']:.0f} MB"
        )
        if before["limit_hit"]:
            lines.append(f"legacy: {before['limit_hit']}")
    return lines


ATTRIBUTABLE_LIMIT_MB = 1.0
LEGACY_VISIBLE_GROWTH_MB = 20.0


def load_checks(summaries: dict[str, dict[str, Any]]) -> dict[str, bool]:
    """Pass/fail of each load target (the lines a notebook can compare run to run)."""
    after = summaries["after"]
    checks = {
        f"optimized: max RSS ≤ {RSS_LIMIT_MB:.0f} MB": after["max_rss_mb"] <= RSS_LIMIT_MB,
        f"optimized: RSS growth once warm ≤ {WARM_GROWTH_LIMIT_MB:.0f} MB": after["rss_growth_once_warm_mb"]
        <= WARM_GROWTH_LIMIT_MB,
        f"optimized: RSS attributable to in-flight events < {ATTRIBUTABLE_LIMIT_MB:.0f} MB": abs(
            after["rss_attributable_to_events_mb"]
        )
        < ATTRIBUTABLE_LIMIT_MB,
        "optimized: no failed request": after["errors"] == 0,
    }
    before = summaries.get("before")
    if before is not None:
        checks[
            f"legacy: RSS visibly grows with the events fetched (≥ {LEGACY_VISIBLE_GROWTH_MB:.0f} MB above optimized)"
        ] = before["max_rss_mb"] >= after["max_rss_mb"] + LEGACY_VISIBLE_GROWTH_MB
    return checks


def load_latency_table(summaries: dict[str, dict[str, Any]]) -> pd.DataFrame:
    """Latency under load by implementation and user size, percentiles labelled with their sample counts."""
    rows = []
    for implementation, summary in summaries.items():
        for events, stats in summary["latency_ms_by_events"].items():
            rows.append(
                {
                    "implementation": implementation,
                    "events": int(events),
                    **{f"{name}_ms": stat["ms"] for name, stat in stats.items()},
                    "p99_label": stats["p99"]["label"],
                }
            )
    return pd.DataFrame.from_records(rows)


def save_load(
    directory: Path, runs: dict[str, LoadRun], environment: dict[str, Any], parameters: dict[str, Any]
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "load.json"
    if path.exists():
        raise MeasurementError(f"{path} exists already; results are never overwritten")
    summaries = {name: run.summary() for name, run in runs.items()}
    document = {
        "schema_version": 1,
        "environment": environment,
        "parameters": parameters,
        "summaries": summaries,
        "verdicts": load_verdicts(summaries["after"], summaries.get("before")),
        "runs": {name: asdict(run) for name, run in runs.items()},
    }
    path.write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
    return path
