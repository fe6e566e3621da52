"""``bench``: latency, memory and plans of both versions over a grid of N, into a new run directory."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import psycopg
from tqdm import tqdm

from perfkit.commands._options import (
    Command,
    add_output,
    add_quick,
    add_source_schema,
    add_statement_timeout,
    add_subject,
    positive_int,
    print_checks,
    setting,
)
from perfkit.data import server
from perfkit.data.datasets import (
    CANDIDATE_ROLE,
    Dataset,
    candidate_reader,
    keys_for_grid,
    nearest_keys,
    seed_dataset,
    source_dataset,
)
from perfkit.data.environment import collect_environment
from perfkit.data.instances import Instance, read_instance
from perfkit.errors import ConfigurationError, DatabaseError, KitError, MeasurementError
from perfkit.judge.bench import NO_JIT, bench_checks
from perfkit.judge.outcome import Check
from perfkit.measure import instructions
from perfkit.measure.beside import Runner, beside
from perfkit.measure.concurrency import (
    ClientPool,
    ConcurrencyPlan,
    client_counts,
    measure_concurrency,
    open_clients,
    quick_client_counts,
    server_cpu,
)
from perfkit.measure.containment import refuse_confining
from perfkit.measure.memory import measure_call_memory, write_flamegraph
from perfkit.measure.plans import jit_available
from perfkit.measure.results import GRID, HEADLINE, BenchRecord
from perfkit.measure.scenario import (
    CANDIDATE_TIME_LIMIT,
    PLAN_CACHE_WARMUP,
    fresh_connection,
    open_sessions,
    time_scenario,
)
from perfkit.measure.timing import DECISION_MIN_SAMPLES, MEDIAN_PRECISION, Clock, SamplingPlan
from perfkit.measure.variants import JIT, Variant, subject_variants
from perfkit.paths import RESULTS_DIR, keep_copy
from perfkit.record.format import save_bench
from perfkit.record.runs import mark_complete, new_run_directory, write_new
from perfkit.render.figures import all_figures, save_figure
from perfkit.render.summary import render_summary
from perfkit.subject import IMPLEMENTATIONS, Subject, load_subject

FLAMEGRAPH_MAX_N = 100_000
CONCURRENT_VARIANTS = {("after", None), ("after", "serial"), ("scan_floor", None), ("result_floor", None)}
"""Timed under concurrent calls besides the candidates (by role and forced alternative): the optimized
query as planned and held to one core, the scan floor, whose calls per second are the most any query
reading these rows can serve, and the result floor, the most calls per second any query returning the
result could serve."""
SIDE_BY_SIDE = "memory and instructions, side by side"
"""The phase whose wall time is that of the memory and instruction phases taken at the same time."""


def _sampling(
    subject: Subject, *, alternatives_budget: float, distinct_budget: float, legacy: SamplingPlan
) -> dict[str, SamplingPlan]:
    """100 samples of the optimized version at every N (enough for a real p99). Every other variant
    is judged by the ratio of its median to the optimized version's: it is sampled until that ratio
    is on one side of the goal it is judged by (`goal_boundaries`), its median is known to within
    ``MEDIAN_PRECISION`` or its time is spent; the legacy version by time."""
    alternatives = SamplingPlan(
        min_samples=DECISION_MIN_SAMPLES,
        max_samples=40,
        time_budget=alternatives_budget,
        warmups=1,
        precision=MEDIAN_PRECISION,
    )
    rewrite = SamplingPlan(min_samples=3, max_samples=100, time_budget=distinct_budget, precision=MEDIAN_PRECISION)

    stated = subject.goals

    def plan(variant: Variant) -> SamplingPlan:
        if variant.alternative is not None:
            return judged_against(alternatives, "after", variant, stated)
        if variant.role in ("floor", "result_floor"):
            return replace(alternatives, min_samples=10)  # information: nothing to decide
        if variant.role == "after":
            return SamplingPlan(min_samples=100, max_samples=100, warmups=2)
        own = {"rewrite": rewrite, "before": legacy}.get(variant.role, alternatives)
        return judged_against(own, "after", variant, stated)

    return {name: plan(variant) for name, variant in subject_variants(subject).items()}


def goal_boundaries(variant: Variant, stated: Mapping[str, float]) -> tuple[float, ...]:
    """The ratios (``variant``'s median over the one it is judged against) at which a goal changes
    its verdict: a forced plan that fast would be plan regret, a scan floor that fast would put the
    optimized version over its floor, a rewrite or a legacy call that slow would meet the speed-up
    asked; a candidate is judged faster or slower than the optimized version. A goal the subject does not
    state (``stated``) decides nothing: its ratio is sampled until it is above or below 1."""
    if variant.alternative is not None and variant.role != "scan_floor":
        regret = stated.get("max_plan_regret")
        return (1 / regret,) if regret else (1.0,)
    boundary = {
        "rewrite": stated.get("min_speedup_vs_rewrite"),
        "before": stated.get("min_speedup_vs_legacy"),
        "scan_floor": 1 / stated["max_scan_floor_ratio"] if stated.get("max_scan_floor_ratio") else None,
    }.get(variant.role)
    return (boundary,) if boundary else (1.0,)


def judged_against(plan: SamplingPlan, versus: str, variant: Variant, stated: Mapping[str, float]) -> SamplingPlan:
    """``plan`` for ``variant``, stopping early once its ratio to ``versus`` is decided."""
    return replace(plan, versus=versus, boundaries=goal_boundaries(variant, stated))


@dataclass(frozen=True)
class BenchConfig:
    grid: Sequence[int]
    plans: dict[str, SamplingPlan]
    memory: bool = True
    flamegraphs: bool = True  # drawn at the largest N up to flamegraph_max_n
    flamegraph_max_n: int = FLAMEGRAPH_MAX_N
    legacy_memory_limit_mb: int | None = 8192
    quick: bool = False
    headline_instance: str | None = None
    headline_n: int = 900_000
    statement_timeout_ms: int | None = None
    first_calls: int = 20
    session_settings: dict[str, str] = field(default_factory=dict)  # applied to the kit's sessions only
    memory_implementations: tuple[str, ...] = IMPLEMENTATIONS  # names, or candidate paths
    instructions: bool = True  # backend instructions under valgrind, at the grid's N up to instruction_max_n
    instruction_max_n: int = 100_000
    candidate_instruction_max_n: int | None = None  # a candidate's sizes, where fewer than the others'
    client_implementations: tuple[str, ...] = IMPLEMENTATIONS  # whose client instructions are counted
    client_instruction_max_n: int = 3_000  # the legacy client runs 20-50 times slower under valgrind too
    prefix: str = "bench"
    candidates: tuple[str, ...] = ()  # variants judged against the optimized version, if any
    concurrency: ConcurrencyPlan | None = None  # calls under concurrent load, at the headline and these N
    concurrency_sizes: tuple[int, ...] = ()
    loaded_candidates: tuple[str, ...] | None = None  # the candidates timed under load too (None: all)
    subject: Subject = field(default_factory=load_subject)

    # The two presets set the same fields with other figures: alike on purpose.
    @classmethod
    def full(cls, subject: Subject | None = None) -> BenchConfig:
        subject = subject or load_subject()
        return cls(
            grid=subject.scale.grid,
            # The legacy call is dominated by Python work on rows the other variants have already
            # brought into cache: a warm-up would cost up to half a minute and change nothing.
            plans=_sampling(
                subject,
                alternatives_budget=4.0,
                distinct_budget=10.0,
                legacy=SamplingPlan(min_samples=1, max_samples=100, time_budget=20.0, warmups=0),
            ),
            headline_instance=subject.scale.headline_instance,
            headline_n=subject.scale.headline_n,
            concurrency=ConcurrencyPlan(client_counts(os.cpu_count() or 1), min_samples=100, window=2.0),
            concurrency_sizes=subject.scale.loaded,
            # One size per candidate: its count against the optimized version's at that size
            # reproduces anywhere; three sizes each would add minutes of valgrind per candidate.
            candidate_instruction_max_n=10_000,
            **_measured(subject),
        )

    @classmethod
    def quick_config(cls, subject: Subject | None = None) -> BenchConfig:
        subject = subject or load_subject()
        return cls(
            grid=subject.scale.quick_grid,
            plans=_sampling(
                subject,
                alternatives_budget=0.5,
                distinct_budget=1.0,
                legacy=SamplingPlan(min_samples=3, max_samples=100, time_budget=2.0),
            ),
            first_calls=10,
            concurrency=ConcurrencyPlan(
                quick_client_counts(os.cpu_count() or 1),
                min_samples=100,
                window=0.5,
                time_budget=2.0,
                reference_budget=1.0,
            ),
            concurrency_sizes=subject.scale.quick_loaded,
            instruction_max_n=_below_the_largest(subject.scale.quick_grid),
            flamegraph_max_n=_below_the_largest(subject.scale.quick_grid),
            quick=True,
            **_measured(subject),
        )

    def on_grid(self, grid: Iterable[int]) -> BenchConfig:
        """The preset on sizes of one's own (none given: the preset's)."""
        sizes = sorted(set(grid))
        return replace(self, grid=sizes) if sizes else self


def _below_the_largest(grid: Sequence[int]) -> int:
    """The quick preset's largest counted and drawn size: under valgrind the largest quick size costs
    more than all the others together, three sizes are enough to show a count linear in N, and where
    a call allocates has the same shape at every N (`flamegraph_size`)."""
    sizes = sorted(grid)
    return sizes[-2] if len(sizes) > 3 else sizes[-1]


def _measured(subject: Subject) -> dict[str, Any]:
    """The presets' fields the subject decides: itself, and which measurements of the Python process apply."""
    implementations = IMPLEMENTATIONS if "memory" in subject.measured else ()
    return {
        "subject": subject,
        "memory": "memory" in subject.measured,
        "memory_implementations": implementations,
        "client_implementations": IMPLEMENTATIONS if "client_instructions" in subject.measured else (),
    }


@dataclass
class BenchRun:
    record: BenchRecord
    directory: Path
    checks: list[Check] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)


def run_bench(
    target: server.ServerTarget,
    instance: Instance | None,
    config: BenchConfig,
    results_base: Path,
    *,
    source_schema: str | None = None,
    variants: Mapping[str, Variant] | None = None,
    progress: bool = True,
    clock: Clock = time.perf_counter,
    log: Callable[[str], None] = print,
) -> BenchRun:
    """Measure, then write results.json, results.csv, figures and summary.md to a new directory.

    With ``source_schema`` the bench reads that schema's existing tables (checked against the
    subject's, never written) and takes, for each N, the key whose row count is nearest. An error
    or Ctrl-C part-way keeps what was measured: the record is written with ``complete`` false
    before the error propagates.
    """
    refused = refuse_confining(config.session_settings)
    if refused:
        raise ConfigurationError(
            f"--set may not change {', '.join(refused)}: these bound what the measured code may do "
            "(use --statement-timeout for the time limit)"
        )
    if instance is not None and instance.subject.fingerprint != config.subject.fingerprint:
        raise ConfigurationError(
            f"instance {instance.name} is one of subject {instance.subject.name}, the bench's is {config.subject.name}"
        )
    dataset, users, config = _dataset_and_users(target, instance, config, source_schema, progress=progress)
    known = {**subject_variants(config.subject), **(variants or {})}
    unknown = sorted(set(config.plans) - set(known))
    if unknown:
        raise ConfigurationError(f"no variant(s) {unknown} to time; known: {sorted(known)}")
    directory = new_run_directory(results_base, config.prefix)
    log(f"bench: {dataset.instance.name}, N in {sorted(users)}, results in {directory}")
    with server.connect(target.dsn) as conn:
        environment = collect_environment(conn, dsn=target.dsn, embedded=target.embedded)
        compiles = jit_available(conn)
    record = BenchRecord(environment=environment, parameters=_parameters(dataset, users, config, source_schema))
    record.parameters["jit_available"] = compiles
    if not compiles:
        record.notes.append(f"[{JIT}] alternatives not timed: {NO_JIT}")
    run = BenchRun(record=record, directory=directory)
    try:
        timed = {name: known[name] for name in config.plans if compiles or known[name].alternative != JIT}
        _measure(run, target, dataset, users, config, timed, progress=progress, clock=clock, log=log)
        record.complete = True
    except psycopg.errors.QueryCanceled as exc:
        record.notes.append(f"run stopped early: statement timeout ({config.statement_timeout_ms} ms)")
        raise MeasurementError(
            f"a query ran past the statement timeout of {config.statement_timeout_ms} ms; partial results "
            f"are kept in {directory} (marked incomplete): raise --statement-timeout or use a smaller grid"
        ) from exc
    except psycopg.OperationalError as exc:
        record.notes.append(f"run stopped early: connection lost: {str(exc).strip().splitlines()[0]}")
        raise DatabaseError(
            f"the connection to PostgreSQL was lost mid-run ({str(exc).strip().splitlines()[0]}); "
            f"partial results are kept in {directory} (marked incomplete)"
        ) from exc
    except (KitError, psycopg.Error, KeyboardInterrupt) as exc:
        record.notes.append(f"run stopped early: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
        raise
    finally:
        _write_outputs(run)
        log(f"bench: wrote {directory}")
    mark_complete(directory)
    return run


def _dataset_and_users(
    target: server.ServerTarget,
    instance: Instance | None,
    config: BenchConfig,
    source_schema: str | None,
    *,
    progress: bool,
) -> tuple[Dataset, dict[int, int], BenchConfig]:
    """The dataset to read and the user measured at each N (the nearest ones in an existing table)."""
    if source_schema is not None:
        with server.connect(target.dsn, autocommit=True) as conn:
            dataset = source_dataset(conn, source_schema, config.subject)
        users = nearest_keys(dataset.instance.sizes, list(config.grid))
        return dataset, users, replace(config, grid=sorted(users), headline_instance=None)
    if instance is None:
        raise ConfigurationError("run_bench needs an instance or a source schema")
    users = keys_for_grid(instance, config.grid)
    return _seed(target, instance, progress=progress), users, config


def _parameters(
    dataset: Dataset, users: dict[int, int], config: BenchConfig, source_schema: str | None
) -> dict[str, object]:
    instance = dataset.instance
    return {
        "subject": config.subject.to_json(),
        "instance": instance.name,
        "instance_source": instance.source,
        "fingerprint": instance.fingerprint,
        "seed": instance.body.seed,
        "table_rows": instance.total_rows,
        "schema": dataset.schema,
        "grid": sorted(users),
        "source_schema": source_schema,
        "statement_timeout_ms": config.statement_timeout_ms,
        "session_settings": dict(config.session_settings),
        "plan_cache_warmup": PLAN_CACHE_WARMUP,
        "candidates": list(config.candidates),
        "users": {str(n): u for n, u in users.items()},
        "sampling": {name: vars(plan) for name, plan in config.plans.items()},
        "quick": config.quick,
    }


def _measure(
    run: BenchRun,
    target: server.ServerTarget,
    dataset: Dataset,
    users: dict[int, int],
    config: BenchConfig,
    variants: Mapping[str, Variant],
    *,
    progress: bool,
    clock: Clock,
    log: Callable[[str], None],
) -> None:
    record = run.record
    phases = _Phases(record, clock, log)
    # Named after the run, so its sessions can be told apart in pg_stat_activity.
    application_name = f"perfkit-bench {run.directory.name}"
    settings = dict(config.session_settings)
    if config.statement_timeout_ms is not None:
        settings["statement_timeout"] = str(config.statement_timeout_ms)
    scenarios: list[tuple[str, Dataset, int, int]] = [(GRID, dataset, n, user) for n, user in users.items()]
    if config.headline_instance is not None:
        headline = _seed(target, read_instance(config.headline_instance, config.subject), progress=progress)
        record.parameters["headline"] = {
            "instance": headline.instance.name,
            "fingerprint": headline.instance.fingerprint,
            "schema": headline.schema,
            "table_rows": headline.instance.total_rows,
            "n": config.headline_n,
        }
        user = keys_for_grid(headline.instance, [config.headline_n])[config.headline_n]
        scenarios.append((HEADLINE, headline, config.headline_n, user))
        phases.lap("seeding")
    candidate_dsn = None
    if target.embedded and any(variant.contained for variant in variants.values()):
        with server.connect(target.dsn, autocommit=True) as admin:
            candidate_dsn = candidate_reader(admin, target.dsn, sorted({data.schema for _, data, _, _ in scenarios}))
    record.parameters["candidates_run_as"] = (
        CANDIDATE_ROLE if candidate_dsn is not None else "the kit's role (contained by detection only)"
    )
    with open_sessions(
        target.dsn, variants, application_name=application_name, settings=settings, candidate_dsn=candidate_dsn
    ) as sessions:
        current = None
        for index, (scope, data, n, key) in enumerate(
            tqdm(scenarios, desc="latency over N", unit="N", disable=not progress)
        ):
            last = index == len(scenarios) - 1
            if data.schema != current:
                sessions.point_at(data.schema, data.key_without_rows())
                current = data.schema
            counts = time_scenario(
                record,
                sessions,
                scope,
                n,
                key,
                {name: plan for name, plan in config.plans.items() if plan.every_scenario or last},
                fresh=fresh_connection(target.dsn, data.schema, settings, application_name=application_name),
                first_calls=config.first_calls,
                clock=clock,
                progress=progress,
            )
            log(f"  {scope} N={n:,}: " + ", ".join(f"{v} n={c}" for v, c in counts.items()))
    phases.lap("latency")
    if config.concurrency is not None:
        loaded = loaded_scenarios(scenarios, config.concurrency_sizes)
        _measure_concurrency(
            run, target, loaded, config, variants, settings, candidate_dsn,
            application_name=application_name, progress=progress, clock=clock, log=log,
        )  # fmt: skip
        phases.lap("concurrency")

    def memory(runner: Runner) -> None:
        if config.memory:
            with phases.own("memory"):
                _measure_memory(
                    run, target, dataset, users, config, progress=progress, candidate_dsn=candidate_dsn, runner=runner
                )

    # Neither figure depends on the clock: on two cores or more they are taken side by side.
    side_by_side = config.memory and config.instructions and (os.cpu_count() or 1) > 1
    with beside(memory, enabled=side_by_side):
        if config.instructions:
            with phases.own("instructions"):
                _count_instructions(run, target, dataset, users, config, variants, log=log)
    if side_by_side:
        phases.lap(SIDE_BY_SIDE)


def loaded_scenarios(
    scenarios: Sequence[tuple[str, Dataset, int, int]], sizes: Sequence[int]
) -> list[tuple[str, Dataset, int, int]]:
    """Where calls are timed under load: the headline and the grid's N among ``sizes``, else the
    grid's largest N (a grid of the user's own has no N the presets name)."""
    chosen = [s for s in scenarios if s[0] == HEADLINE or (s[0] == GRID and s[2] in sizes)]
    return chosen or sorted(scenarios, key=lambda s: s[2])[-1:]


def _measure_concurrency(
    run: BenchRun,
    target: server.ServerTarget,
    scenarios: Sequence[tuple[str, Dataset, int, int]],
    config: BenchConfig,
    variants: Mapping[str, Variant],
    settings: Mapping[str, str],
    candidate_dsn: server.DsnLike | None,
    *,
    application_name: str,
    progress: bool,
    clock: Clock,
    log: Callable[[str], None],
) -> None:
    """The optimized query, its serial form, the scan floor and the candidates under concurrent
    clients (1 to 4 × cores; a quick run, 1 and 2 × cores): after the latencies (never beside
    another phase, since it is timed)."""
    plan = config.concurrency
    assert plan is not None
    loaded = config.candidates if config.loaded_candidates is None else config.loaded_candidates
    references = [name for name, v in variants.items() if (v.role, v.alternative) in CONCURRENT_VARIANTS]
    names = [name for name in (*references, *loaded) if name in variants]
    if not scenarios or not names:
        return
    record = run.record
    record.parameters["concurrency"] = {**vars(plan), "clients": list(plan.clients), "variants": names}
    count = max(plan.clients)
    candidate_settings = {"statement_timeout": str(int(CANDIDATE_TIME_LIMIT * 1000)), **settings}
    for scope, data, n, key in scenarios:
        with ExitStack() as stack:
            kit = stack.enter_context(
                open_clients(
                    target.dsn, count, schema=data.schema, settings=settings, application_name=application_name
                )
            )
            pools: dict[str, ClientPool] = {name: kit for name in names if not variants[name].contained}
            if len(pools) < len(names):
                contained = stack.enter_context(
                    open_clients(
                        candidate_dsn or target.dsn, count, schema=data.schema, settings=candidate_settings,
                        application_name=application_name,
                    )
                )  # fmt: skip
                pools.update({name: contained for name in names if name not in pools})
            series = measure_concurrency(
                pools,
                {name: variants[name] for name in names},
                plan,
                scope=scope,
                n=n,
                key=key,
                cpu=server_cpu(kit.connections[0]),
                fully=("after",),
                clock=clock,
                progress=progress,
            )
        record.concurrency += [s.to_json() for s in series]
        log(
            f"  concurrent {scope} N={n:,}: "
            + ", ".join(f"{s.variant} c={s.clients} {s.calls_per_second:.1f}/s" for s in series)
        )


class _Phases:
    """The wall time of each phase of a run, kept in its record and logged as it ends: what a
    budget for the whole run is spent on. Phases run side by side are timed on their `own`, and
    the `lap` after them is the wall time they took together."""

    def __init__(self, record: BenchRecord, clock: Clock, log: Callable[[str], None]) -> None:
        self._record, self._clock, self._log = record, clock, log
        self._since = clock()

    def lap(self, phase: str) -> None:
        now = self._clock()
        self._keep(phase, now - self._since)
        self._since = now

    @contextmanager
    def own(self, phase: str) -> Iterator[None]:
        started = self._clock()
        yield
        self._keep(phase, self._clock() - started)

    def _keep(self, phase: str, seconds: float) -> None:
        self._record.phase_seconds[phase] = round(seconds, 1)
        self._log(f"  {phase}: {seconds:.0f} s")


def _count_instructions(
    run: BenchRun,
    target: server.ServerTarget,
    dataset: Dataset,
    users: dict[int, int],
    config: BenchConfig,
    variants: Mapping[str, Variant],
    *,
    log: Callable[[str], None],
) -> None:
    """Each variant's backend instructions for one warm call, at the N that valgrind counts in
    seconds (20-50 times slower than running): enough sizes to show the count is linear in N."""
    record = run.record
    reason = instructions.counting_unavailable()
    if dataset.instance.observed:  # read through --source-schema
        reason = "the rows of a table the kit did not seed are not copied out of their server to be counted"
    if reason is not None:
        record.counting = {"unavailable": reason}
        record.notes.append(f"backend instructions not counted: {reason}")
        return
    sizes = [n for n in sorted(users) if n <= config.instruction_max_n] or sorted(users)[:1]
    counted_users = {n: users[n] for n in sizes}
    cap = config.candidate_instruction_max_n
    candidate_sizes = [n for n in sizes if cap is None or n <= cap] or sizes[:1]
    counted = [v for name, v in variants.items() if v.base == name and v.sql is not None]
    with (
        server.connect(target.dsn, autocommit=True) as conn,
        tempfile.TemporaryDirectory() as work,
        instructions.backend_in_use(dataset.schema),
    ):
        backend = instructions.prepare_backend(conn, dataset.schema, config.subject)
        planner = {**instructions.planner_settings(conn), **config.session_settings}
        planner.pop("statement_timeout", None)
        record.counting = {
            "server_version": backend.server_version,
            "settings": dict(instructions.COUNTING_SETTINGS),
            "planner_settings": planner,
            "sizes": sizes,
            "candidate_sizes": candidate_sizes,
            "not_counted": sorted(name for name, v in variants.items() if v.base == name and v.sql is None),
        }
        requests = [
            instructions.CountRequest(
                variant.name, variant.sql,
                {n: users[n] for n in candidate_sizes} if variant.name in config.candidates else counted_users,
                variant.settings,
            )
            for variant in counted
            if variant.sql is not None
        ]  # fmt: skip
        calls, parts = instructions.count_variants(backend, requests, Path(work), conn=conn, settings=planner)
        record.instructions += [call.to_json() for call in calls]
        for request in requests:
            own = [c for c in calls if c.variant == request.variant]
            log(f"  instructions {request.variant}: " + ", ".join(f"N={c.n:,} {c.instructions:,}" for c in own))
        if "after" in parts:
            record.instruction_profile = [entry.to_json() for entry in instructions.profile(parts["after"])]
            kept = keep_copy(parts["after"], run.directory / f"callgrind-after-{sizes[-1]}.out")
            record.counting["profile_capture"] = kept.name
        client_sizes = [n for n in sorted(users) if n <= config.client_instruction_max_n]
        client_sizes = client_sizes if len(client_sizes) >= 2 else sorted(users)[:2]
        record.counting["client_sizes"] = client_sizes
        if not config.client_implementations:
            return
        client = instructions.count_client_calls(
            config.subject, target.dsn, dataset.schema, config.client_implementations,
            {n: users[n] for n in client_sizes},
            dataset.key_without_rows(), Path(work),
        )  # fmt: skip
        for label, counts in client.items():
            record.client_instructions += [
                {"implementation": label, "n": n, "instructions": c} for n, c in counts.items()
            ]
            log(f"  client instructions {label}: " + ", ".join(f"N={n:,} {c:,}" for n, c in counts.items()))


def _measure_memory(
    run: BenchRun,
    target: server.ServerTarget,
    dataset: Dataset,
    users: dict[int, int],
    config: BenchConfig,
    *,
    progress: bool,
    candidate_dsn: server.DsnLike | None = None,
    runner: Runner,
) -> None:
    """Both versions at every N; a candidate, one SQL call whose memory is the optimized version's
    kind, at the smallest and largest N only: enough to show whether it grows, at half the
    processes (each probe's start-up costs more than the call it measures)."""
    record = run.record
    warm_user = dataset.key_without_rows()
    drawn_at = flamegraph_size(users, config.flamegraph_max_n)
    ends = {min(users), max(users)}
    for n, key in tqdm(users.items(), desc="memory over N", unit="N", disable=not progress):
        drawn = config.flamegraphs and n == drawn_at
        for implementation in config.memory_implementations:
            candidate = implementation not in IMPLEMENTATIONS
            if candidate and n not in ends:
                continue
            own = candidate_dsn if candidate else None
            measurement = measure_call_memory(
                own or target.dsn,
                dataset.schema,
                implementation,
                key,
                n,
                run.directory / "memray",
                subject=config.subject,
                warm_key=warm_user,
                memory_limit_mb=config.legacy_memory_limit_mb if implementation == "before" else None,
                drawn=drawn,
                runner=runner,
            )
            # Captures are named relative to the run directory, which may be moved or curated.
            capture = Path(measurement.capture).relative_to(run.directory) if measurement.capture else ""
            record.memory.append({**measurement.as_record(), "capture": str(capture)})
            if measurement.limit_hit:
                record.notes.append(f"legacy exceeded its {config.legacy_memory_limit_mb} MB limit at N={n:,}")
            elif drawn:
                label = measurement.implementation  # a candidate's name, not its path
                html = write_flamegraph(
                    Path(measurement.capture), run.directory / f"flamegraph-{label}-{n}.html", runner=runner
                )
                record.flamegraphs[label] = html.name


def flamegraph_size(sizes: Iterable[int], max_n: int = FLAMEGRAPH_MAX_N) -> int:
    """The N whose captures are drawn: the largest up to ``max_n``. Where a call allocates has the
    same shape at every N, while drawing a capture reads every allocation in it (the legacy call of
    the default subject makes about 155 per row: two minutes of reading at a million)."""
    sizes = sorted(sizes)
    return max((n for n in sizes if n <= max_n), default=sizes[0])


def _seed(target: server.ServerTarget, instance: Instance, *, progress: bool) -> Dataset:
    with server.connect(target.dsn, autocommit=True) as admin:
        return seed_dataset(admin, instance, progress=progress)


def _write_outputs(run: BenchRun) -> None:
    record, directory = run.record, run.directory
    figures: dict[str, str] = {}
    if record.latency or record.memory:
        for stem, figure in all_figures(record).items():
            try:
                paths = save_figure(figure, directory, stem)
            except ValueError as exc:  # a partial run can lack what a log axis needs; the data is saved below
                record.notes.append(f"figure {stem} not drawn: {exc}")
                continue
            figures[stem] = paths[0].name
            run.files.update({f"{stem}.{p.suffix[1:]}": p for p in paths})
    run.checks = bench_checks(record)
    run.files.update(save_bench(record, directory, run.checks))
    run.files["summary"] = write_new(directory / "summary.md", render_summary(record, run.checks, figures))


class BenchCommand(Command):
    name = "bench"
    help = "latency, memory and scaling of both versions over a grid of N, into a new results directory"
    group = "investigate"
    example = "bench --quick --grid 1000 10000"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--instance", help="instance to seed and measure (default: the subject's, its quick one with --quick)"
        )
        add_subject(parser)
        add_quick(parser, "the subject's small grid (subject.toml's quick_grid): about a minute")
        parser.add_argument(
            "--grid", type=positive_int, nargs="+", metavar="N", help="sizes N (default: the subject's grid)"
        )
        add_output(parser, RESULTS_DIR)
        parser.add_argument("--no-memory", action="store_true", help="skip the memray measurements")
        parser.add_argument(
            "--no-instructions", action="store_true", help="skip counting the backend's instructions under valgrind"
        )
        drawn = f"drawn at the largest N up to {FLAMEGRAPH_MAX_N:,}; with --quick, the largest counted"
        parser.add_argument("--no-flamegraphs", action="store_true", help=f"skip the flamegraphs ({drawn})")
        parser.add_argument(
            "--no-concurrency",
            action="store_true",
            help="skip the calls under concurrent clients (1 to 4 × the CPU count, at the headline and the "
            "subject's loaded N; with --quick, 1 and 2 × the CPU count at the quick grid's largest N)",
        )
        add_source_schema(parser, " instead of seeding an instance")
        add_statement_timeout(parser, "statement_timeout of the measurements")
        parser.add_argument(
            "--set",
            type=setting,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a setting for the bench's own sessions only (the server's configuration is never changed), "
            "e.g. --set random_page_cost=1.1 to try the advice of a plan regret",
        )

    def run(self, args: argparse.Namespace) -> int:
        subject = load_subject(args.subject)
        config = BenchConfig.quick_config(subject) if args.quick else BenchConfig.full(subject)
        overrides: dict[str, Any] = {
            "memory": config.memory and not args.no_memory,
            "flamegraphs": not args.no_flamegraphs,
            "instructions": not args.no_instructions,
            "session_settings": dict(args.set),
        }
        if args.no_concurrency:
            overrides["concurrency"] = None
        if args.statement_timeout is not None:
            overrides["statement_timeout_ms"] = args.statement_timeout
        config = replace(config, **overrides).on_grid(args.grid or ())
        if args.source_schema:
            if args.instance:
                raise ConfigurationError("--instance and --source-schema exclude each other")
            run = run_bench(
                server.resolve_server(),
                None,
                config,
                args.output,
                source_schema=args.source_schema,
                progress=sys.stderr.isatty(),
            )
        else:
            scale = subject.scale
            instance = read_instance(args.instance or (scale.quick_instance if args.quick else scale.instance), subject)
            run = run_bench(server.resolve_server(), instance, config, args.output, progress=sys.stderr.isatty())
        print_checks(run.checks)
        print(f"bench: summary in {run.files['summary']}")
        return 0
