"""``loadtest`` end to end: seed, serve the optimized then the legacy version, save, check, plot."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from perfkit.commands._options import (
    Command,
    add_output,
    add_quick,
    add_source_schema,
    add_subject,
    positive_int,
    positive_seconds,
    print_checks,
)
from perfkit.data import server
from perfkit.data.datasets import nearest_keys, seed_dataset, source_dataset
from perfkit.data.environment import collect_environment
from perfkit.data.instances import read_instance
from perfkit.judge.load import load_checks
from perfkit.judge.outcome import Check
from perfkit.measure.load.analysis import LoadRun
from perfkit.measure.load.driver import run_load
from perfkit.paths import RESULTS_DIR
from perfkit.record.format import write_record
from perfkit.record.runs import mark_complete, new_run_directory
from perfkit.render.figures import load_latency_figure, rss_over_time_figure, save_figure
from perfkit.subject import DEFAULT_SUBJECT, Subject, load_subject


@dataclass(frozen=True)
class LoadConfig:
    instance: str
    duration: float
    legacy_duration: float
    workers: int = field(default_factory=lambda: 2 * (os.cpu_count() or 1))
    legacy_limit_mb: int = 3072
    source_schema: str | None = None  # read this schema's existing tables instead of the instance
    subject: str = DEFAULT_SUBJECT  # a subject's name or folder

    @classmethod
    def full(cls, subject: Subject | None = None) -> LoadConfig:
        subject = subject or load_subject()
        return cls(instance=subject.scale.instance, duration=60.0, legacy_duration=20.0, subject=str(subject.directory))

    @classmethod
    def quick(cls, subject: Subject | None = None) -> LoadConfig:
        subject = subject or load_subject()
        return cls(
            instance=subject.scale.quick_instance, duration=4.0, legacy_duration=3.0, subject=str(subject.directory)
        )


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
    target: server.ServerTarget, config: LoadConfig, results_base: Path, *, log: Callable[[str], None] = print
) -> LoadTestResult:
    subject = load_subject(config.subject)
    with server.connect(target.dsn, autocommit=True) as conn:
        if config.source_schema is not None:
            dataset = source_dataset(conn, config.source_schema, subject)
        else:
            dataset = seed_dataset(conn, read_instance(config.instance, subject), progress=False)
        # The request mix: one key per decade of size (1 to 1,000,000 rows), all equally likely,
        # whatever the long tail of small keys in the table.
        chosen = nearest_keys(dataset.instance.sizes, [10**k for k in range(7)])
        users = [(user, count) for count, user in chosen.items()]
        environment = collect_environment(conn, dsn=target.dsn, embedded=target.embedded)
    directory = new_run_directory(results_base, "load")
    words = subject.words
    sizes = f"{users[0][1]:,} to {users[-1][1]:,} {words.rows}"
    log(f"load: {config.workers} workers, {len(users)} {words.keys} of {sizes}")
    runs: dict[str, LoadRun] = {}
    for implementation, duration, limit in (
        ("after", config.duration, None),
        ("before", config.legacy_duration, config.legacy_limit_mb),
    ):
        log(f"load: {implementation} for {duration:g} s" + (f", capped at {limit} MB" if limit else ""))
        runs[implementation] = run_load(
            subject,
            target.dsn,
            dataset.schema,
            implementation,
            users,
            workers=config.workers,
            duration=duration,
            memory_limit_mb=limit,
        )
    summaries = {name: run.summary() for name, run in runs.items()}
    checks = load_checks(summaries, subject.goals)
    body = {
        "parameters": {
            **asdict(config),
            "subject": subject.to_json(),
            "users": users,
            "schema": dataset.schema,
            "fingerprint": dataset.instance.fingerprint,
        },
        "summaries": summaries,
        "checks": [check.to_json() for check in checks],
        "runs": {name: asdict(run) for name, run in runs.items()},
    }
    files = {"json": write_record(directory, "load", body, environment=environment)}
    for stem, figure in (
        ("rss_over_time", rss_over_time_figure(runs, subject.goals.get("rss_mb"))),
        ("latency_under_load", load_latency_figure(runs)),
    ):
        files[stem] = save_figure(figure, directory, stem)[0]
    mark_complete(directory)
    return LoadTestResult(directory, runs, summaries, checks, files)


class LoadTestCommand(Command):
    name = "loadtest"
    help = "concurrent requests for users of every size; the serving process's RSS sampled every 100 ms"
    group = "investigate"
    example = "loadtest --quick --duration 10"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_quick(parser, "the quick instance for a few seconds")
        parser.add_argument("--instance", help="request mix: every user of this instance (default: scaling)")
        parser.add_argument(
            "--duration", type=positive_seconds, help="seconds of load on the optimized version (default 60)"
        )
        parser.add_argument(
            "--legacy-duration", type=positive_seconds, help="seconds on the legacy version (default 20)"
        )
        parser.add_argument("--workers", type=positive_int, help="concurrent workers (default: 2 × CPU count)")
        parser.add_argument(
            "--legacy-limit-mb", type=positive_int, default=3072, help="address-space cap of the legacy run"
        )
        add_source_schema(parser)
        add_output(parser, RESULTS_DIR)
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        subject = load_subject(args.subject)
        config = LoadConfig.quick(subject) if args.quick else LoadConfig.full(subject)
        overrides = {
            key: value
            for key, value in {
                "instance": args.instance,
                "duration": args.duration,
                "legacy_duration": args.legacy_duration,
                "workers": args.workers,
                "legacy_limit_mb": args.legacy_limit_mb,
                "source_schema": args.source_schema,
            }.items()
            if value is not None
        }
        result = run_load_test(server.resolve_server(), replace(config, **overrides), args.output)
        print_checks(result.checks)
        print(f"loadtest: results in {result.directory}")
        return 0
