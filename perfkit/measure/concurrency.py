"""Calls under concurrent load: closed-loop clients, each on a long-lived connection of its own, as a
dashboard API's worker threads call the database through a pool.

A *burst* runs ``c`` clients that call one variant back to back for a window of time. A call counts
when it starts inside the window, and every client keeps calling (uncounted) until the last counted
call has returned, so each counted call ran while all ``c`` clients were busy: its latency is the
latency at concurrency ``c``, neither the lighter start of a burst nor its thinning tail. Calls per
second follow from Little's law for a closed loop without think time: ``c`` / mean latency.

Variants and client counts are interleaved in rounds (each round visits every cell once, in a
rotating order), so a slow minute of a shared machine falls on all of them alike. The server's CPU
time over each burst, when the server runs on this machine, gives the work one call costs with its
parallel workers: what load pays, where the latency of one idle call shows what parallelism gains.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil
import psycopg
from tqdm import tqdm

from perfkit.data import server
from perfkit.data.implementations import apply_settings
from perfkit.measure.plans import capture_plan, plan_summary
from perfkit.measure.timing import Clock, describe
from perfkit.measure.variants import Variant

ServerCpu = Callable[[], float]
"""Cumulative CPU seconds of the server's processes, those that have exited included."""


def client_counts(cores: int) -> tuple[int, ...]:
    """One client, then as many as the cores, twice and four times as many: from an idle server to
    one whose cores each have a queue."""
    return tuple(sorted({1, cores, 2 * cores, 4 * cores}))


def quick_client_counts(cores: int) -> tuple[int, ...]:
    """Two of `client_counts`, what a CI-scale run needs: an idle server, and one whose cores each
    have a queue, where calls per second are the most a saturated server gives. Half the cells: a
    quick run shows the path and a rough capacity, the full run the steps between and beyond."""
    return (1, 2 * cores)


@dataclass(frozen=True)
class ConcurrencyPlan:
    """How each (variant, client count) cell is sampled: bursts of ``window`` seconds until it holds
    ``min_samples`` counted calls (100 for a p99 that is not a maximum) or has spent ``time_budget``
    (``reference_budget`` for the variants that are not sampled fully)."""

    clients: tuple[int, ...]
    min_samples: int = 100
    window: float = 2.0
    time_budget: float = 30.0
    reference_budget: float = 8.0  # a reference's cell: its calls per second need fewer calls than a p99


@dataclass
class ConcurrentSeries:
    """One variant at one concurrency for one user: the latencies of calls that ran while every client
    was calling, the calls made in all (uncounted tails included) and the server's CPU over them."""

    variant: str
    scope: str
    n: int
    key: int
    clients: int
    seconds: list[float] = field(default_factory=list)
    calls: int = 0
    bursts: int = 0
    elapsed: float = 0.0
    server_cpu_seconds: float | None = 0.0  # None: the server's processes are not visible from here
    parallel_workers: int | None = None  # workers the variant's plan asks for (0: serial); None: not captured
    shape: str = ""

    @property
    def calls_per_second(self) -> float:
        """Little's law for a closed loop without think time."""
        mean = sum(self.seconds) / len(self.seconds) if self.seconds else math.nan
        return self.clients / mean if mean > 0 else math.nan

    @property
    def server_cpu_per_call(self) -> float:
        if self.server_cpu_seconds is None or not self.calls:
            return math.nan
        return self.server_cpu_seconds / self.calls

    def figures(self) -> dict[str, Any]:
        """What tables and the task's report show of the series: its percentiles with their sample
        count, calls per second and the server's CPU per call (None where it was not visible)."""
        percentiles = describe(self.seconds)
        cpu = self.server_cpu_per_call
        return {
            "clients": self.clients,
            "samples": len(self.seconds),
            "p50_ms": percentiles["p50"].value * 1000,
            "p99_ms": percentiles["p99"].value * 1000,
            "p99_label": percentiles["p99"].label,
            "calls_per_second": self.calls_per_second,
            "server_cpu_ms_per_call": None if math.isnan(cpu) else cpu * 1000,
            "parallel_workers": self.parallel_workers,
        }

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ConcurrentSeries:
        return cls(**document)


@dataclass(frozen=True)
class Burst:
    seconds: list[float]
    calls: int
    elapsed: float


def closed_loop(calls: Sequence[Callable[[], object]], window: float, *, clock: Clock = time.perf_counter) -> Burst:
    """Each of ``calls`` (one per client, on a connection of its own) called back to back in a thread
    of its own; the latencies of the calls that started within ``window`` seconds."""
    count = len(calls)
    release = threading.Barrier(count + 1)
    finished = threading.Event()
    lock = threading.Lock()
    counted: list[float] = []
    returned: set[int] = set()  # clients whose last counted call has returned
    made = [0] * count
    errors: list[BaseException] = []
    deadline = math.inf

    def client(index: int) -> None:
        release.wait()
        while not finished.is_set():
            started = clock()
            try:
                calls[index]()
            except BaseException as exc:  # raised again in the calling thread
                with lock:
                    errors.append(exc)
                finished.set()
                return
            ended = clock()
            made[index] += 1
            with lock:
                if started < deadline:
                    counted.append(ended - started)
                if ended >= deadline:
                    returned.add(index)
                    if len(returned) == count:
                        finished.set()

    threads = [threading.Thread(target=client, args=(i,), name=f"client-{i}", daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    origin = clock()
    deadline = origin + window
    try:
        release.wait()
        for thread in threads:
            thread.join()
    except BaseException:  # Ctrl-C: the clients stop after the call they are making
        finished.set()
        for thread in threads:
            thread.join(timeout=5)
        raise
    if errors:
        raise errors[0]
    return Burst(counted, sum(made), clock() - origin)


class ClientPool:
    """Long-lived connections shared by the variants of one run, each burst taking the first ``c``;
    a variant's own settings are applied before its burst and the run's restored after it, so every
    variant is timed on the same warm connections."""

    def __init__(self, connections: list[psycopg.Connection[Any]]) -> None:
        self.connections = connections
        self._baseline: dict[str, str] = {}

    def configure(self, variant: Variant, clients: int) -> None:
        for conn in self.connections[:clients]:
            for name in variant.settings:
                if name not in self._baseline:
                    row = conn.execute("SELECT current_setting(%s)", (name,), prepare=False).fetchone()
                    assert row is not None
                    self._baseline[name] = str(row[0])
            apply_settings(conn, {**self._baseline, **variant.settings})


@contextmanager
def open_clients(
    dsn: server.DsnLike,
    count: int,
    *,
    schema: str,
    settings: Mapping[str, str],
    application_name: str,
) -> Iterator[ClientPool]:
    """``count`` read-only connections on ``schema`` with the run's settings."""
    with ExitStack() as stack:
        connections = []
        for _ in range(count):
            conn = stack.enter_context(server.connect(dsn, autocommit=True, application_name=application_name))
            apply_settings(conn, {"default_transaction_read_only": "on", **settings})
            conn.execute("SELECT set_config('search_path', quote_ident(%s), false)", (schema,), prepare=False)
            connections.append(conn)
        yield ClientPool(connections)


STARTUP_SLACK = 5.0
"""Seconds a process's creation time may follow the server's recorded start (clock granularity)."""
STARTUP_LEAD = 120.0
"""Seconds a postmaster may take from its process's creation to recording its start time."""


def server_cpu(conn: psycopg.Connection[Any]) -> ServerCpu | None:
    """The CPU time of the server behind ``conn`` when it runs on this machine and its processes can be
    read (the embedded server; a local one through ``DATABASE_URL`` as a user allowed to see it):
    its postmaster's, its live children's, and that of the children it has reaped (parallel workers
    live for one query). None otherwise: a remote server's CPU is not visible from here."""
    row = conn.execute(
        "SELECT pg_backend_pid(), extract(epoch FROM pg_postmaster_start_time())", prepare=False
    ).fetchone()
    assert row is not None
    try:
        postmaster = psutil.Process(int(row[0])).parent()
        # The postmaster's process starts before the server records its start time, by more than a
        # few seconds on a loaded machine; after it, or long before, it is another server's process.
        if postmaster is None or not -STARTUP_SLACK <= float(row[1]) - postmaster.create_time() <= STARTUP_LEAD:
            return None  # a process of this machine with that pid, but not this server's
        postmaster.cpu_times()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None

    def cpu() -> float:
        own = postmaster.cpu_times()
        total = own.user + own.system + own.children_user + own.children_system
        for child in postmaster.children():
            try:
                times = child.cpu_times()
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            total += times.user + times.system
        return float(total)

    return cpu


Cell = tuple[str, int]


def measure_concurrency(
    pools: Mapping[str, ClientPool],
    variants: Mapping[str, Variant],
    plan: ConcurrencyPlan,
    *,
    scope: str,
    n: int,
    key: int,
    cpu: ServerCpu | None,
    fully: Collection[str] = (),
    clock: Clock = time.perf_counter,
    progress: bool = False,
) -> list[ConcurrentSeries]:
    """Every variant at every client count of ``plan``, in interleaved rounds, until each cell has its
    samples or has spent its time (the variants ``fully`` names, the whole budget; the others, a
    reference's). Each variant calls through its own pool of ``pools`` (a candidate's connects as the
    role that may only read); its plan, explained once, says whether it is parallel."""
    cells: dict[Cell, ConcurrentSeries] = {}
    for name, variant in variants.items():
        pools[name].configure(variant, 1)
        query = variant.planned
        captured = capture_plan(pools[name].connections[0], query, key, analyze=False) if query else None
        for clients in plan.clients:
            cells[name, clients] = ConcurrentSeries(
                name,
                scope,
                n,
                key,
                clients,
                server_cpu_seconds=0.0 if cpu is not None else None,
                parallel_workers=plan_summary(captured.plan)["workers_planned"] if captured else None,
                shape=captured.shape if captured else "",
            )

    def open_cell(series: ConcurrentSeries) -> bool:
        budget = plan.time_budget if series.variant in fully else plan.reference_budget
        return len(series.seconds) < plan.min_samples and (series.elapsed < budget or not series.bursts)

    order = list(cells)
    total = len(order) * plan.min_samples
    with tqdm(total=total, desc=f"{scope} N={n:,} concurrent", unit="call", disable=not progress) as bar:
        rounds = 0
        while any(open_cell(series) for series in cells.values()):
            shift = rounds % len(order)
            for cell in order[shift:] + order[:shift]:
                series = cells[cell]
                if not open_cell(series):
                    continue
                name, clients = cell
                variant, pool = variants[name], pools[name]
                pool.configure(variant, clients)
                calls = [_bound(variant, conn, key) for conn in pool.connections[:clients]]
                before = cpu() if cpu is not None else 0.0
                burst = closed_loop(calls, plan.window, clock=clock)
                if cpu is not None and series.server_cpu_seconds is not None:
                    series.server_cpu_seconds += cpu() - before
                taken = min(len(burst.seconds), plan.min_samples - len(series.seconds))
                series.seconds += burst.seconds
                series.calls += burst.calls
                series.bursts += 1
                series.elapsed += burst.elapsed
                bar.update(max(taken, 0))
            rounds += 1
    return list(cells.values())


def _bound(variant: Variant, conn: psycopg.Connection[Any], key: int) -> Callable[[], object]:
    return lambda: variant.call(conn, key)
