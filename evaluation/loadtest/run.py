"""The load test end to end: seed, serve the optimized then the legacy version, save, check, plot."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evaluation import db
from evaluation.checks import Check
from evaluation.datasets import nearest_users, seed_dataset, source_dataset
from evaluation.environment import collect_environment
from evaluation.instances import read_instance
from evaluation.loadtest.analysis import LoadRun, load_checks
from evaluation.loadtest.driver import run_load
from evaluation.outputs import mark_complete, new_run_directory, write_new
from evaluation.plots import load_latency_figure, rss_over_time_figure, save_figure

LOAD_SCHEMA_VERSION = 1


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
    checks: list[Check]
    files: dict[str, Path]

    @property
    def results(self) -> Path:
        return self.files["json"]


def run_load_test(
    target: db.ServerTarget, config: LoadConfig, results_base: Path, *, log: Callable[[str], None] = print
) -> LoadTestResult:
    with db.connect(target.dsn, autocommit=True) as conn:
        if config.source_schema is not None:
            dataset = source_dataset(conn, config.source_schema)
        else:
            dataset = seed_dataset(conn, read_instance(config.instance), progress=False)
        # The request mix: one user per decade of size (1 to 1,000,000 events), all equally likely,
        # whatever the long tail of small users in the table.
        chosen = nearest_users(dataset.instance.event_counts, [10**k for k in range(7)])
        users = [(user, count) for count, user in chosen.items()]
        environment = collect_environment(conn, dsn=target.dsn, embedded=target.embedded)
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
    summaries = {name: run.summary() for name, run in runs.items()}
    checks = load_checks(summaries)
    document = {
        "schema_version": LOAD_SCHEMA_VERSION,
        "environment": environment,
        "parameters": {
            **asdict(config),
            "users": users,
            "schema": dataset.schema,
            "fingerprint": dataset.instance.fingerprint,
        },
        "summaries": summaries,
        "checks": [check.to_json() for check in checks],
        "runs": {name: asdict(run) for name, run in runs.items()},
    }
    files = {"json": write_new(directory / "load.json", json.dumps(document, indent=2, allow_nan=True) + "\n")}
    for stem, figure in (
        ("rss_over_time", rss_over_time_figure(runs)),
        ("latency_under_load", load_latency_figure(runs)),
    ):
        files[stem] = save_figure(figure, directory, stem)[0]
    mark_complete(directory)
    return LoadTestResult(directory, runs, summaries, checks, files)
