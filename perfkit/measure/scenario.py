"""Timing one scenario (a key of N rows): every variant on its own long-lived connection, the
plan each ran captured before and after the timing, and the first call of fresh connections.

A dashboard calls the optimized function on pooled connections that live for hours, so each
variant is timed on a connection that has already served `PLAN_CACHE_WARMUP` calls: past
psycopg's preparation threshold (5 executions) and PostgreSQL's choice between custom and
generic plans (5 more). The first call of a new connection is timed apart, as its own scope.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg

from perfkit.data import server
from perfkit.data.implementations import apply_settings, prepare_session
from perfkit.measure.containment import Containment, Watchdog
from perfkit.measure.plans import CapturedPlan, capture_plan, serial_facts
from perfkit.measure.results import FRESH, BenchRecord, LatencySeries
from perfkit.measure.timing import Clock, SamplingPlan, sample_interleaved
from perfkit.measure.variants import Variant

PLAN_CACHE_WARMUP = 12
CANDIDATE_TIME_LIMIT = 60.0
"""Seconds a candidate's call may take when the run sets no statement timeout."""


@dataclass
class Sessions:
    """One connection per variant, pointed at one dataset at a time."""

    connections: dict[str, psycopg.Connection[Any]]
    calls: dict[str, int]
    variants: Mapping[str, Variant]
    containments: dict[str, Containment]

    def point_at(self, schema: str, warm_key: int) -> None:
        """Read ``schema`` from now on; each connection then serves `PLAN_CACHE_WARMUP` calls for a
        key without rows, as a pooled connection has served other keys before ours."""
        for name, conn in self.connections.items():
            prepare_session(conn, schema)
            for _ in range(PLAN_CACHE_WARMUP):
                self.checked_call(name, warm_key)

    def call(self, name: str, key: int) -> object:
        """One call as it is timed: a candidate's under the watchdog, its checks left to `checks`."""
        self.calls[name] += 1
        variant, conn = self.variants[name], self.connections[name]
        if name not in self.containments:
            return variant.call(conn, key)
        with self.containments[name].bounded():
            return variant.call(conn, key)

    def checked_call(self, name: str, key: int) -> object:
        with self.checked(name):
            return self.call(name, key)

    @contextmanager
    def checked(self, name: str) -> Iterator[None]:
        """Whatever runs a candidate's query (a call, EXPLAIN ANALYZE) checked before and after."""
        containment = self.containments.get(name)
        if containment is not None:
            containment.before_call()
        yield
        if containment is not None:
            containment.after_call()

    @property
    def checks(self) -> dict[str, tuple[Callable[[], None], Callable[[], None]]]:
        """What runs around each timed call of a candidate, outside its time."""
        return {name: (c.before_call, c.after_call) for name, c in self.containments.items()}

    def plan(self, name: str, key: int, *, analyze: bool = True) -> CapturedPlan | None:
        query = self.variants[name].planned
        if query is None:
            return None
        with self.checked(name):  # EXPLAIN ANALYZE runs the candidate's query
            return capture_plan(self.connections[name], query, key, analyze=analyze)


@contextmanager
def open_sessions(
    dsn: server.DsnLike,
    variants: Mapping[str, Variant],
    *,
    application_name: str,
    settings: Mapping[str, str],
    candidate_dsn: server.DsnLike | None = None,
) -> Iterator[Sessions]:
    """Read-only connections, one per variant, with the run's session settings and the variant's own;
    a candidate's calls bounded by a watchdog and checked on an observer connection (`containment`),
    on ``candidate_dsn`` (a role that may only read) when there is one."""
    with ExitStack() as stack:
        connections = {}
        for name in variants:
            own = candidate_dsn if candidate_dsn is not None and variants[name].contained else dsn
            conn = stack.enter_context(server.connect(own, autocommit=True, application_name=application_name))
            apply_settings(conn, {"default_transaction_read_only": "on", **settings, **variants[name].settings})
            connections[name] = conn
        containments = {}
        contained = {name: v.contained for name, v in variants.items() if v.contained is not None}
        if contained:
            observer = stack.enter_context(server.connect(dsn, autocommit=True, application_name=application_name))
            timeout_ms = settings.get("statement_timeout")
            watchdog = Watchdog(int(timeout_ms) / 1000 if timeout_ms else CANDIDATE_TIME_LIMIT)
            stack.callback(watchdog.close)
            containments = {
                name: Containment(label, connections[name], observer, watchdog) for name, label in contained.items()
            }
        yield Sessions(connections, dict.fromkeys(variants, 0), variants, containments)


def time_scenario(
    record: BenchRecord,
    sessions: Sessions,
    scope: str,
    n: int,
    key: int,
    plans: Mapping[str, SamplingPlan],
    *,
    fresh: Callable[[], psycopg.Connection[Any]],
    first_calls: int,
    clock: Clock,
    progress: bool,
) -> dict[str, int]:
    """Time every variant ``plans`` names, interleaved, then the optimized version's first call on
    fresh connections.

    Plans are captured on each variant's own connection before its samples (the plan alone) and
    after them (run, with its figures); a plan that changed in between is kept as a finding
    (``start_shape`` differs from ``shape``). Then each variant's serial plan is run once more
    under EXPLAIN for what it reads (`serial_facts`).
    """
    names = [name for name in sessions.connections if name in plans]
    start = {name: sessions.plan(name, key, analyze=False) for name in names}
    samples = sample_interleaved(
        {name: _bound(sessions, name, key) for name in names},
        plans,
        clock=clock,
        progress=progress,
        description=f"{scope} N={n:,}",
        checks=sessions.checks,
    )
    scenario_key = f"{scope} N={n:,}"
    record.plans[scenario_key] = {}
    for name in names:
        taken = samples[name]
        record.latency.append(
            LatencySeries(name, n, key, taken.seconds, taken.warmup_seconds, scope, stopped=taken.stopped)
        )
        end, first = sessions.plan(name, key), start[name]
        if end is not None and first is not None:
            record.plans[scenario_key][name] = _plan_record(end, first, sessions.calls[name])
    for name in names:
        variant = sessions.variants[name]
        if variant.base == name and variant.planned is not None:
            with sessions.checked(name):
                facts = serial_facts(sessions.connections[name], variant.planned, key)
            record.serial_plans.append({"scope": scope, "n": n, "variant": name, **facts})
    if first_calls:
        after = sessions.variants["after"]
        seconds, plan = _first_calls(fresh, after, key, first_calls, clock)
        record.latency.append(LatencySeries(after.name, n, key, seconds, [], scope, FRESH))
        record.plans[scenario_key][f"{after.name}@{FRESH}"] = _plan_record(plan, plan, 1)
    return {name: len(taken.seconds) for name, taken in samples.items()}


def _bound(sessions: Sessions, name: str, key: int) -> Callable[[], object]:
    return lambda: sessions.call(name, key)


def _plan_record(end: CapturedPlan, start: CapturedPlan, calls: int) -> dict[str, Any]:
    return {**end.to_json(), "start_shape": start.shape, "start_kind": start.kind, "calls_on_connection": calls}


def _first_calls(
    fresh: Callable[[], psycopg.Connection[Any]], variant: Variant, key: int, count: int, clock: Clock
) -> tuple[list[float], CapturedPlan]:
    """The first call on each of ``count`` new connections (connecting is not timed)."""
    seconds = []
    for _ in range(count):
        with fresh() as conn:
            started = clock()
            variant.call(conn, key)
            seconds.append(clock() - started)
    assert variant.planned is not None
    with fresh() as conn:
        return seconds, capture_plan(conn, variant.planned, key)


def fresh_connection(
    dsn: server.DsnLike, schema: str, settings: Mapping[str, str], *, application_name: str
) -> Callable[[], psycopg.Connection[Any]]:
    """New connections as a pool opens them: read-only, on ``schema``, with the run's settings."""

    def connect() -> psycopg.Connection[Any]:
        conn = server.connect(dsn, autocommit=True, application_name=application_name)
        prepare_session(conn, schema, settings)
        return conn

    return connect


def interleaved_pooled_samples(
    calls: Sequence[tuple[psycopg.Connection[Any], Callable[[psycopg.Connection[Any], int], object]]],
    key: int,
    warm_key: int,
    *,
    max_samples: int = 100,
    time_budget: float = math.inf,
    clock: Clock = time.perf_counter,
) -> list[list[float]]:
    """Latencies of each call for ``key``, each on its own connection that has first served
    `PLAN_CACHE_WARMUP` calls for a key without rows, as a pooled one has; taken in turns so that the
    machine's drift reaches them alike: at most ``max_samples`` each, and past the first no longer than
    ``time_budget`` seconds of the first call's time."""
    for conn, call in calls:
        for _ in range(PLAN_CACHE_WARMUP):
            call(conn, warm_key)
    seconds: list[list[float]] = [[] for _ in calls]
    while len(seconds[0]) < max_samples and (sum(seconds[0]) < time_budget or not seconds[0]):
        for (conn, call), taken in zip(calls, seconds, strict=True):
            started = clock()
            call(conn, key)
            taken.append(clock() - started)
    return seconds


class _CountingCursor(psycopg.Cursor[Any]):
    executed = 0

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        type(self).executed += 1
        return super().execute(*args, **kwargs)


def statements_per_call(
    dsn: server.DsnLike, schema: str, call: Callable[[psycopg.Connection[Any], int], object], key: int
) -> int:
    """How many statements one call sends to the server (each a round trip)."""
    with server.connect(dsn, autocommit=True, application_name="perfkit", cursor_factory=_CountingCursor) as conn:
        prepare_session(conn, schema)
        _CountingCursor.executed = 0
        call(conn, key)
        return _CountingCursor.executed
