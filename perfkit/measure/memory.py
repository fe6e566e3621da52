"""Memory of one call, measured under memray in a fresh process per (implementation, N).

A fresh process per measurement because memray allows one Tracker per process and because
the legacy version's peak must not be hidden by memory an earlier call left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from perfkit.data.implementations import DSN_VARIABLE
from perfkit.data.server import DsnLike, plain
from perfkit.errors import MeasurementError
from perfkit.measure.beside import Runner, run_process
from perfkit.paths import room_for, unwritable
from perfkit.subject import IMPLEMENTATIONS, Subject


@dataclass(frozen=True)
class MemoryMeasurement:
    """What one call cost, from two fresh processes: memray's peak and allocation count from a
    tracked one, the resident set from an untracked one (memray's buffers would inflate it).
    Bytes throughout; ``limit_hit`` when a child ran out of its allowed address space."""

    implementation: str
    n: int
    key: int
    peak_bytes: int
    total_allocations: int
    rss_before_bytes: int
    rss_after_bytes: int
    max_rss_bytes: int
    seconds_untracked: float
    seconds_tracked: float
    capture: str
    limit_hit: bool = False

    @property
    def rss_growth_bytes(self) -> int:
        """How far the resident high-water mark rose above the RSS just before the call."""
        return max(0, self.max_rss_bytes - self.rss_before_bytes)

    def as_record(self) -> dict[str, Any]:
        return {**asdict(self), "rss_growth_bytes": self.rss_growth_bytes}


def measure_call_memory(
    dsn: DsnLike,
    schema: str,
    implementation: str,
    key: int,
    n: int,
    capture_dir: Path,
    *,
    subject: Subject,
    warm_key: int,
    memory_limit_mb: int | None = None,
    timeout: float = 1800.0,
    tracked: bool = True,
    drawn: bool = True,
    runner: Runner = run_process,
) -> MemoryMeasurement:
    """Run one call of ``implementation`` untracked, then once under memray, each in a fresh
    interpreter; ``tracked=False`` measures the resident set only.

    ``drawn=False`` takes a capture no flamegraph will be drawn from without native stacks: memray's
    peak and allocation count are the same, and unwinding the C stack of each of the legacy call's
    155 allocations per event is most of its tracked time.

    The tracked run traces Python's object allocator too, so the peak counts the objects the call
    keeps alive. Without it memray sees pymalloc's 1 MiB arenas: whether a call of a few kilobytes
    needs a new arena depends on the interpreter's heap, not on the call, and one arena more at one
    N reads as a megabyte of growth. ``runner`` starts the processes (`beside`)."""
    label = implementation if implementation in IMPLEMENTATIONS else Path(implementation).stem
    with unwritable(capture_dir):
        capture_dir.mkdir(parents=True, exist_ok=True)
    capture = capture_dir / f"memray-{label}-{n}.bin"
    if capture.exists():
        raise MeasurementError(f"{capture} exists already; every run writes a new directory")
    probe = _Probe(
        subject.directory, dsn, schema, implementation, key, n, warm_key, memory_limit_mb, timeout, drawn,
        runner,
    )  # fmt: skip
    untracked = probe.run(None)
    traced = tracked and not untracked["limit_hit"]
    measured = probe.run(capture) if traced else untracked
    return MemoryMeasurement(
        implementation=label,
        n=n,
        key=key,
        peak_bytes=measured["peak_bytes"],
        total_allocations=measured["total_allocations"],
        rss_before_bytes=untracked["rss_before_bytes"],
        rss_after_bytes=untracked["rss_after_bytes"],
        max_rss_bytes=untracked["max_rss_bytes"],
        seconds_untracked=untracked["seconds"],
        seconds_tracked=measured["seconds"],
        capture=str(capture) if traced else "",
        limit_hit=bool(untracked["limit_hit"] or measured["limit_hit"]),
    )


MEMRAY_ERROR = "Memray ERROR"
"""How memray's tracker starts a line about a failure it recovers from by tracking no more."""


@dataclass(frozen=True)
class _Probe:
    subject: Path
    dsn: DsnLike
    schema: str
    implementation: str
    key: int
    n: int
    warm_key: int
    memory_limit_mb: int | None
    timeout: float
    drawn: bool
    runner: Runner

    def run(self, capture: Path | None) -> dict[str, Any]:
        command = [
            sys.executable, "-P", "-m", "perfkit.measure._memory_probe",
            "--subject", str(self.subject),
            "--schema", self.schema,
            "--implementation", self.implementation,
            "--key", str(self.key),
            "--warm-key", str(self.warm_key),
        ]  # fmt: skip
        if capture is not None:
            command += ["--capture", str(capture)] + ([] if self.drawn else ["--python-stacks-only"])
        if self.memory_limit_mb is not None:
            command += ["--memory-limit-mb", str(self.memory_limit_mb)]
        what = f"the {'memray' if capture else 'RSS'} probe of {self.implementation} at N={self.n:,}"
        try:
            completed = self.runner(command, env={**os.environ, DSN_VARIABLE: plain(self.dsn)}, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise MeasurementError(f"{what} ran longer than {self.timeout:.0f} s") from None
        memray_said = [line for line in completed.stderr.splitlines() if line.startswith(MEMRAY_ERROR)]
        if capture is not None and (completed.returncode != 0 or memray_said):
            # memray writes the capture itself and, when it cannot, stops tracking and carries on: the
            # probe then exits 0 with the figures of a truncated capture. A full disk is said so.
            room_for(capture)
        if memray_said:
            raise MeasurementError(f"{what}: memray could not write its capture: {memray_said[0]}")
        if completed.returncode != 0:
            last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
            raise MeasurementError(f"{what} failed: {last}")
        report: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
        return report


def write_flamegraph(capture: Path, html: Path, *, runner: Runner = run_process) -> Path:
    """memray's HTML flamegraph of a capture (the allocations live at the peak)."""
    completed = runner([sys.executable, "-P", "-m", "memray", "flamegraph", "--force", "-o", str(html), str(capture)])
    if completed.returncode != 0:
        raise MeasurementError(f"memray flamegraph failed for {capture}: {completed.stderr.strip()[-300:]}")
    return html
