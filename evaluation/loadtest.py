"""The load test end to end: seed, load the optimized then the legacy version, save, plot."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluation import db
from evaluation.datasets import nearest_users, seed_dataset, source_dataset
from evaluation.environment import collect_environment
from evaluation.instances import load_instance
from evaluation.load import LoadRun, load_users, load_verdicts, run_load, save_load
from evaluation.plots import load_latency_figure, rss_over_time_figure, save_figure
from evaluation.results import new_run_directory


@dataclass(frozen=True)
class LoadConfig:
    instance: str
    duration: float
    legacy_duration: float
    workers: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    legacy_limit_mb: int = 3072
    source_schema: str | None = None  # read this schema's existing events table instead of the instance

    @classmethod
    def full(cls) -> LoadConfig:
        return cls(instance="scaling", duration=60.0, legacy_duration=20.0)

    @classmethod
    def quick(cls) -> LoadConfig:
        return cls(instance="quick", duration=4.0, legacy_duration=3.0)


@dataclass
class LoadTestResult:
    directory: Path
    runs: dict[str, LoadRun]
    summaries: dict[str, dict[str, Any]]
    verdicts: list[str]
    figures: list[str]


def run_load_test(
    target: db.ServerTarget, config: LoadConfig, results_base: Path, *, log: Callable[[str], None] = print
) -> LoadTestResult:
    with db.connect(target.dsn, autocommit=True) as conn:
        if config.source_schema is not None:
            dataset = source_dataset(conn, config.source_schema)
            chosen = nearest_users(dataset.instance.event_counts, [10**k for k in range(7)])
            users = [(user, count) for count, user in chosen.items()]
        else:
            dataset = seed_dataset(conn, load_instance(config.instance), progress=False)
            users = load_users(dataset.instance)
        environment = collect_environment(conn, dsn=target.dsn, embedded=target.embedded)
    instance = dataset.instance
    directory = new_run_directory(results_base, "load")
    log(f"load: {config.workers} workers, {len(users)} users from {users[0][1]:,} to {users[-1][1]:,} events")
    runs: dict[str, LoadRun] = {}
    for implementation, duration, limit in (
        ("after", config.duration, None),
        ("before", config.legacy_duration, config.legacy_limit_mb),
    ):
        log(f"load: {implementation} for {duration:g} s" + (f", capped at {limit} MB" if limit else ""))
        runs[implementation] = run_load(
            target.dsn,
            dataset.schema,
            implementation,
            users,
            workers=config.workers,
            duration=duration,
            memory_limit_mb=limit,
        )
    parameters = {
        **asdict(config),
        "users": users,
        "schema": dataset.schema,
        "fingerprint": instance.fingerprint,
    }
    save_load(directory, runs, environment, parameters)
    figures = []
    for stem, figure in (
        ("rss_over_time", rss_over_time_figure(runs)),
        ("latency_under_load", load_latency_figure(runs)),
    ):
        figures.append(save_figure(figure, directory, stem)[0].name)
    summaries = {name: run.summary() for name, run in runs.items()}
    return LoadTestResult(directory, runs, summaries, load_verdicts(summaries["after"], summaries["before"]), figures)
