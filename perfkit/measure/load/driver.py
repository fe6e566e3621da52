"""Driving the serving process: start it, sample its RSS from outside until it exits, read its log."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import psutil

from perfkit.data.implementations import DSN_VARIABLE
from perfkit.data.server import DsnLike, plain
from perfkit.errors import MeasurementError
from perfkit.measure.load.analysis import LoadRun
from perfkit.subject import Subject

RssSampler = Callable[[int], int]
"""Resident set size in bytes of the process with this pid."""


def process_rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def run_load(
    subject: Subject,
    dsn: DsnLike,
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
    command = [
        sys.executable, "-P", "-m", "perfkit.measure.load._server",
        "--subject", str(subject.directory),
        "--schema", schema,
        "--implementation", implementation,
        "--keys", json.dumps([[key, rows, 1] for key, rows in users]),
        "--workers", str(workers),
        "--duration", str(duration),
        "--seed", str(seed),
    ]  # fmt: skip
    if memory_limit_mb is not None:
        command += ["--memory-limit-mb", str(memory_limit_mb)]
    run = LoadRun(implementation, workers, duration, memory_limit_mb)
    with tempfile.TemporaryDirectory(prefix="perfkit-load-") as scratch:
        requests_file = Path(scratch) / "requests.json"
        command += ["--requests-file", str(requests_file)]
        ready = _serve(command, plain(dsn), implementation, run, sample_interval, sampler, clock)
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
        env={**os.environ, DSN_VARIABLE: dsn},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        ready_line = child.stdout.readline()
        if not ready_line:
            _, errors = child.communicate()
            raise MeasurementError(f"the {implementation} load server did not start: {_last_line(errors)}")
        ready = float(json.loads(ready_line)["ready"])
        while child.poll() is None:
            try:
                run.rss.append((clock() - ready, sampler(child.pid)))
            except psutil.NoSuchProcess:
                break
            time.sleep(sample_interval)
        _, errors = child.communicate()
    if child.returncode != 0:
        raise MeasurementError(f"the {implementation} load server failed: {_last_line(errors)}")
    return ready


def _last_line(errors: str) -> str:
    return (errors.strip().splitlines() or ["no output"])[-1]
