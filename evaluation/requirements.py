"""The task's requirements as checks, each run against one implementation at a time.

A requirement that fails for ``before`` and passes for ``after`` is in the task's
"fail to pass" set; one that passes for both is "pass to pass". Timing checks are
measurements with their sample counts, not unit tests.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from evaluation import db, goals
from evaluation.bench import users_for_grid
from evaluation.checks import p99_check
from evaluation.datasets import Dataset, drop_dataset_schema, seed_dataset
from evaluation.implementations import IMPLEMENTATIONS, fetch_function, prepare_session
from evaluation.instances import read_instance
from evaluation.memory import MemoryMeasurement, measure_call_memory
from evaluation.parity import compare_users, random_instances, typed_summary
from evaluation.results import MB
from evaluation.scaling import fit_loglog
from evaluation.scenario import PLAN_CACHE_WARMUP


@dataclass(frozen=True)
class Outcome:
    requirement: str
    implementation: str
    passed: bool
    measured: str
    figures: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.requirement, **asdict(self), "outcome": "passed" if self.passed else "failed"}


@dataclass(frozen=True)
class Scale:
    """Where the requirements are measured: the memory sweep, and the size of the latency and RSS checks."""

    memory_instance: str
    memory_sizes: tuple[int, ...]
    scale_instance: str
    scale_n: int
    legacy_time_budget: float
    random_datasets: int

    @classmethod
    def full(cls) -> Scale:
        return cls("quick", (1_000, 3_000, 10_000, 30_000), "headline", 900_000, 60.0, 20)

    @classmethod
    def quick(cls) -> Scale:
        return cls("quick", (1_000, 30_000), "quick", 30_000, 3.0, 3)


@dataclass
class Context:
    """What the checks share: the server, the seeded datasets and the memory probes already taken."""

    target: db.ServerTarget
    scale: Scale
    workdir: Path
    admin: psycopg.Connection[Any]
    datasets: dict[str, Dataset] = field(default_factory=dict)
    memory: dict[tuple[str, int], MemoryMeasurement] = field(default_factory=dict)

    def dataset(self, name: str) -> Dataset:
        if name not in self.datasets:
            self.datasets[name] = seed_dataset(self.admin, read_instance(name), progress=False)
        return self.datasets[name]

    def memory_sweep(self, implementation: str) -> list[MemoryMeasurement]:
        """memray peak and allocations of one call per size, each in a fresh process (taken once)."""
        data = self.dataset(self.scale.memory_instance)
        by_count = {count: user for user, count in data.instance.event_counts.items()}
        for n in self.scale.memory_sizes:
            if (implementation, n) not in self.memory:
                self.memory[implementation, n] = measure_call_memory(
                    self.target.dsn,
                    data.schema,
                    implementation,
                    by_count[n],
                    n,
                    self.workdir / "memray",
                    warm_user_id=data.user_without_events(),
                    repeats=1 if implementation == "before" else 3,
                )
        return [self.memory[implementation, n] for n in self.scale.memory_sizes]


Check = Callable[[Context, str], Outcome]
REQUIREMENTS: dict[str, tuple[str, Check]] = {}


def requirement(name: str, description: str) -> Callable[[Check], Check]:
    def register(check: Check) -> Check:
        REQUIREMENTS[name] = (description, check)
        return check

    return register


@contextmanager
def _session(context: Context, schema: str, **kwargs: Any) -> Iterator[psycopg.Connection[Any]]:
    with db.connect(context.target.dsn, autocommit=True, application_name="perfkit-evaluate", **kwargs) as conn:
        prepare_session(conn, schema)
        yield conn


@requirement("parity_reference", "returns the hand-checked summaries of the literal instance")
def _parity_reference(context: Context, implementation: str) -> Outcome:
    data = context.dataset("parity_literal")
    fetch = fetch_function(implementation)
    with _session(context, data.schema) as conn:
        wrong = [
            user
            for user, expected in data.instance.expected.items()
            if typed_summary(fetch(conn, user)) != typed_summary(expected)
        ]
    total = len(data.instance.expected)
    measured = f"{total - len(wrong)} of {total} users match" + (f"; differ: {wrong}" if wrong else "")
    return Outcome("parity_reference", implementation, not wrong, measured, {"users": total, "differ": wrong})


@requirement("parity_generated", "returns what the other implementation returns, on random generated datasets")
def _parity_generated(context: Context, implementation: str) -> Outcome:
    users = differ = 0
    for instance in random_instances(context.scale.random_datasets, 2_000, seed=0):
        data = seed_dataset(context.admin, instance, progress=False)
        try:
            with _session(context, data.schema) as conn:
                rows = compare_users(conn, instance.user_ids, event_counts=instance.event_counts)
        finally:
            drop_dataset_schema(context.admin, data.schema)
        users += len(rows)
        differ += sum(not row.agree for row in rows)
    other = next(name for name in IMPLEMENTATIONS if name != implementation)
    measured = f"{users - differ} of {users} users agree with {other} over {context.scale.random_datasets} datasets"
    return Outcome("parity_generated", implementation, differ == 0, measured, {"users": users, "differ": differ})


@requirement("memory_constant", "memray peak of one call constant in N")
def _memory_constant(context: Context, implementation: str) -> Outcome:
    sweep = context.memory_sweep(implementation)
    fit = fit_loglog([m.n for m in sweep], [max(m.peak_bytes, 1) for m in sweep])
    growth_mb = (sweep[-1].peak_bytes - sweep[0].peak_bytes) / MB
    passed = abs(fit.slope) < goals.FLAT_SLOPE and growth_mb < goals.MAX_MEMORY_GROWTH_MB
    measured = (
        f"peak {sweep[0].peak_bytes / MB:.3f} MB at N={sweep[0].n:,}, {sweep[-1].peak_bytes / MB:.3f} MB at "
        f"N={sweep[-1].n:,}: log-log slope {fit.slope:+.2f}, growth {growth_mb:+.2f} MB"
    )
    peaks = {str(m.n): m.peak_bytes for m in sweep}
    return Outcome("memory_constant", implementation, passed, measured, {"peak_bytes": peaks, "slope": fit.slope})


@requirement("no_per_event_python_work", "Python allocations of one call do not grow with N")
def _no_per_event_work(context: Context, implementation: str) -> Outcome:
    sweep = context.memory_sweep(implementation)
    first, last = sweep[0], sweep[-1]
    per_event = (last.total_allocations - first.total_allocations) / (last.n - first.n)
    passed = per_event < 0.01  # fewer than one allocation per hundred events: nothing done per event
    measured = (
        f"{first.total_allocations:,} allocations at N={first.n:,}, {last.total_allocations:,} at N={last.n:,} "
        f"({per_event:.2f} per event)"
    )
    allocations = {str(m.n): m.total_allocations for m in sweep}
    return Outcome("no_per_event_python_work", implementation, passed, measured, {"allocations": allocations})


@requirement("rss_at_scale", "resident memory of a process serving the call at most 128 MB at the requirement's N")
def _rss_at_scale(context: Context, implementation: str) -> Outcome:
    data = context.dataset(context.scale.scale_instance)
    user, n = _user_of(data, context.scale.scale_n)
    measurement = measure_call_memory(
        context.target.dsn,
        data.schema,
        implementation,
        user,
        n,
        context.workdir / "rss",
        warm_user_id=data.user_without_events(),
        memory_limit_mb=8192 if implementation == "before" else None,
        repeats=0,
    )
    max_rss = measurement.max_rss_bytes / MB
    limit = " (address-space cap hit)" if measurement.limit_hit else ""
    passed = not measurement.limit_hit and max_rss <= goals.RSS_LIMIT_MB
    measured = f"{max_rss:.1f} MB high-water mark at N={n:,}{limit}"
    return Outcome("rss_at_scale", implementation, passed, measured, {"max_rss_bytes": measurement.max_rss_bytes})


@requirement("p99_at_scale", "p99 latency under 200 ms at the requirement's N, on a pooled connection")
def _p99_at_scale(context: Context, implementation: str) -> Outcome:
    data = context.dataset(context.scale.scale_instance)
    user, n = _user_of(data, context.scale.scale_n)
    fetch = fetch_function(implementation)
    budget = context.scale.legacy_time_budget if implementation == "before" else math.inf
    seconds: list[float] = []
    with _session(context, data.schema) as conn:
        for _ in range(PLAN_CACHE_WARMUP):
            fetch(conn, data.user_without_events())
        while len(seconds) < 100 and (sum(seconds) < budget or not seconds):
            started = time.perf_counter()
            fetch(conn, user)
            seconds.append(time.perf_counter() - started)
    check = p99_check(seconds, f"N={n:,}")
    measured = check.measured
    if check.result == "info":  # too few samples for a p99: fails, and says whether any call met the goal
        fastest_ms = min(seconds) * 1000
        missed = fastest_ms >= goals.P99_LIMIT_MS
        measured += f"; {'every call missed the goal, the fastest' if missed else 'fastest'}: {fastest_ms:.1f} ms"
    passed = check.result == "pass"
    return Outcome(
        "p99_at_scale", implementation, passed, measured, {"samples": len(seconds), "seconds": seconds, "n": n}
    )


@requirement("one_round_trip", "one statement sent to the server per call")
def _one_round_trip(context: Context, implementation: str) -> Outcome:
    data = context.dataset(context.scale.memory_instance)
    user, _ = _user_of(data, max(context.scale.memory_sizes))
    with _session(context, data.schema, cursor_factory=_CountingCursor) as conn:
        _CountingCursor.executed = 0
        fetch_function(implementation)(conn, user)
        statements = _CountingCursor.executed
    return Outcome(
        "one_round_trip", implementation, statements == 1, f"{statements} statement(s)", {"statements": statements}
    )


class _CountingCursor(psycopg.Cursor[Any]):
    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        type(self).executed += 1
        return super().execute(*args, **kwargs)


def run_requirements(
    target: db.ServerTarget,
    implementations: Sequence[str],
    scale: Scale,
    workdir: Path,
    *,
    log: Callable[[str], None] = print,
) -> list[Outcome]:
    """Every requirement against every implementation named, in the order declared."""
    outcomes = []
    with db.connect(target.dsn, autocommit=True) as admin:
        context = Context(target, scale, workdir, admin)
        for name, (_, check) in REQUIREMENTS.items():
            for implementation in implementations:
                outcome = check(context, implementation)
                log(f"  [{'pass' if outcome.passed else 'FAIL'}] {name} ({implementation}): {outcome.measured}")
                outcomes.append(outcome)
    return outcomes


def _user_of(data: Dataset, n: int) -> tuple[int, int]:
    return users_for_grid(data.instance, [n])[n], n
