"""The bench's targets: latency, plans and memory of a bench record, judged against `goals`."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from perfkit.judge import goals
from perfkit.judge.capacity import capacity_checks
from perfkit.judge.outcome import Check, Result
from perfkit.measure.results import FRESH, HEADLINE, MB, POOLED, BenchRecord
from perfkit.measure.scaling import LogLogFit, ratio
from perfkit.measure.statistics import compare_samples
from perfkit.measure.timing import describe, median, percentile_interval


def bench_checks(record: BenchRecord) -> list[Check]:
    """Latency targets at every N of the grid and at the headline, then memory over the grid."""
    checks: list[Check] = []
    for scope, n in record.scenarios():
        checks += _scenario_checks(record, scope, n)
    if record.grid:
        checks += _memory_checks(record, max(record.grid))
    checks += _instruction_checks(record)
    return checks


P99 = "p99 latency, optimized"
SCAN_FLOOR = "median over the scan floor"
NO_JIT = "the server has no JIT provider (pg_jit_available() is false with jit = on)"

PER_CALL, CLIENT_PER_EVENT, LINEAR = INSTRUCTION_TARGETS = (
    "backend instructions per call, optimized",
    "client instructions per event, optimized",
    "backend instructions linear in N, optimized",
)


def _instruction_checks(record: BenchRecord) -> Iterator[Check]:
    """What reproduces on any machine: the optimized call's backend instructions at each counted N,
    against the subject's scan floor counted the same way, and the line they lie on. Where the
    machine cannot count (no valgrind), the targets are listed as such, not left out."""
    if "unavailable" in record.counting:
        for name in INSTRUCTION_TARGETS:
            yield Check(name, "information", f"not counted: {record.counting['unavailable']}", Result.INFO)
        return
    scan = record.named("scan_floor")
    row = record.words.get("row", "row")
    after, floor = record.instruction_counts("after"), record.instruction_counts(scan)
    for n, count in after.items():
        versus = f"; {ratio(count, floor[n]):.2f}× {record.label(scan)}" if n in floor else ""
        yield Check.judged(
            PER_CALL,
            "information",
            f"{count:,} ({count / n:,.0f} per {row}, the call's own cost included{versus})",
            None,
            "one warm call, serial, counted under valgrind: the same on any machine",
            f"N={n:,}",
        )
    yield from _client_instruction_checks(record)
    fit = record.instruction_fit("after")
    if fit is None:
        return
    settled = fit.points >= goals.MIN_LINEAR_SIZES
    floor_fit = record.instruction_fit(scan) if scan else None
    over_floor = f"; {ratio(fit.slope, floor_fit.slope):.2f}× {record.label(scan)}'s" if floor_fit else ""
    yield Check.judged(
        LINEAR,
        f"r² ≥ {goals.LINEAR_R_SQUARED} over ≥ {goals.MIN_LINEAR_SIZES} sizes",
        f"{fit.slope:,.0f} per {row}{over_floor} + {fit.intercept:,.0f} per call, r² {fit.r_squared:.5f} "
        f"({fit.points} sizes)",
        fit.r_squared >= goals.LINEAR_R_SQUARED if settled else None,
        "per-event figures compare across sizes only on a line",
        f"N={min(after):,} to {max(after):,}",
    )


def scenario_label(record: BenchRecord, scope: str, n: int) -> str:
    if scope == HEADLINE:
        rows = record.parameters.get("headline", {}).get("table_rows")
        return f"headline N={n:,}" + (f" of {rows:,} rows" if rows else "")
    return f"N={n:,}"


def _scenario_checks(record: BenchRecord, scope: str, n: int) -> Iterator[Check]:
    at = scenario_label(record, scope, n)
    after = record.series("after", n, scope)
    if after is None:
        return
    stated = record.goals
    if "p99_ms" in stated:
        yield p99_check(after.seconds, at, stated["p99_ms"])
    yield from capacity_checks(record, at, scope, n)
    yield from _plan_checks(record, scope, n, at)
    for candidate in record.candidates():
        yield from _candidate_checks(record, candidate, scope, n, at)
    after_median = record.median_seconds("after", n, scope)
    scan_name = record.named("scan_floor")
    scan = record.fastest(scan_name, n, scope) if scan_name else None
    limit = stated.get("max_scan_floor_ratio")
    if scan is not None:
        name, scan_median = scan
        value = ratio(after_median, scan_median)
        floor_series = record.series(name, n, scope)
        yield Check.judged(
            SCAN_FLOOR,
            f"≤ {limit:g}×" if limit is not None else "information",
            f"{value:.2f}× ({name}: {scan_median * 1000:.1f} ms)",
            None if math.isnan(value) or limit is None else value <= limit,
            record.note(scan_name),
            at,
            figures={
                "ratio": value,
                "floor": name,
                "floor_median_ms": scan_median * 1000,
                "floor_p99": p99_text(floor_series.seconds) if floor_series is not None else None,
            },
        )
    rewrite = record.named("rewrite")
    for variant, name, goal, from_goal in (
        (rewrite, f"speedup over the {record.label(rewrite)}", "min_speedup_vs_rewrite", "rewrite_from_n"),
        ("before", "speedup over legacy", "min_speedup_vs_legacy", "legacy_from_n"),
    ):
        other = record.series(variant, n, scope) if variant else None
        if other is None:
            continue
        value = ratio(record.median_seconds(variant, n, scope), after_median)
        at_least, from_n = stated.get(goal), int(stated.get(from_goal, 0))
        judged = at_least is not None and n >= from_n and not math.isnan(value)
        expected = "information" if at_least is None else f"≥ {at_least:g}× (ratio of medians)"
        yield Check.judged(
            name,
            expected + ("" if at_least is None or n >= from_n else f"; judged from N={from_n:,}"),
            f"{value:.2f}× (n={len(other.seconds)} vs n={len(after.seconds)})",
            value >= at_least if judged and at_least is not None else None,
            at=at,
        )
    floor_name = record.named("floor")
    floor = record.series(floor_name, n, scope) if floor_name else None
    if floor is not None:
        value = ratio(after_median, record.median_seconds(floor_name, n, scope))
        yield Check.judged(
            f"median over {record.label(floor_name)}",
            "information",
            f"{value:.2f}× (n={len(after.seconds)} vs n={len(floor.seconds)})",
            None,
            record.note(floor_name),
            at,
        )


def _client_instruction_checks(record: BenchRecord) -> Iterator[Check]:
    """No per-event work in Python, shown by the client's instructions: the legacy version's grow by
    tens of thousands per event, the optimized version's must not grow by one loop iteration's worth."""
    fits = {impl: record.instruction_fit(impl, client=True) for impl in ("before", "after")}
    after, limit = fits["after"], record.goals.get("max_client_instructions_per_row")
    if after is None:
        return
    row = record.words.get("row", "row")
    counts = record.instruction_counts("after", client=True)
    legacy = f"; legacy: {fits['before'].slope:,.0f} per {row}" if fits["before"] is not None else ""
    yield Check.judged(
        CLIENT_PER_EVENT,
        "information" if limit is None else f"< {limit:g} (less than one Python loop iteration)",
        f"{after.slope:+,.1f} per {row} ({min(counts.values()):,} to {max(counts.values()):,} per call){legacy}",
        None if limit is None else abs(after.slope) < limit,
        "Python, psycopg and libpq of one warm call, counted under valgrind with hash randomization fixed",
        f"N={min(counts):,} to {max(counts):,}",
    )


def p99_text(seconds: Sequence[float]) -> str:
    """A p99 as a verdict quotes a reference's: labelled with its sample count, e.g. "max (n=40): 130.1 ms"."""
    p99 = describe(seconds)["p99"]
    return f"{p99.label}: {p99.value * 1000:,.1f} ms"


def p99_check(seconds: Sequence[float], at: str, limit_ms: float) -> Check:
    """The p99 with its bootstrap interval: pass or FAIL only when the whole interval is on one side."""
    p99 = describe(seconds)["p99"]
    measured = f"{p99.value * 1000:.1f} ms ({p99.label})"
    goal = f"< {limit_ms:.0f} ms"
    figures = {"p99_ms": p99.value * 1000, "goal_ms": limit_ms, "samples": len(seconds)}
    if not p99.supported:
        return Check(P99, goal, measured, Result.INFO, "too few samples for a p99", at, figures=figures)
    low, high = (1000 * v for v in percentile_interval(seconds, 99.0, confidence=goals.P99_CONFIDENCE))
    measured += f", {goals.P99_CONFIDENCE:.0%} CI {low:.1f}–{high:.1f} ms"
    if high < limit_ms:
        result = Result.PASS
    elif low >= limit_ms:
        result = Result.FAIL
    else:
        result = Result.INCONCLUSIVE
    return Check(P99, goal, measured, result, at=at, figures={**figures, "low_ms": low, "high_ms": high})


def _plan_checks(record: BenchRecord, scope: str, n: int, at: str) -> Iterator[Check]:
    plans = record.plans.get(f"{scope} N={n:,}", {})
    pooled, fresh = plans.get("after"), plans.get(f"after@{FRESH}")
    if pooled is not None and fresh is not None:
        shapes = {fresh["shape"], pooled["start_shape"], pooled["shape"]}
        fresh_median = record.median_seconds("after", n, scope, FRESH)
        yield Check.judged(
            "same plan on call 1 and on a pooled connection",
            "one plan shape",
            f"{pooled['kind']} plan after {pooled['calls_on_connection']} calls: {pooled['shape']}"
            + ("" if len(shapes) == 1 else f"; first call: {fresh['shape']}")
            + f"; medians {fresh_median * 1000:.1f} ms (first call) vs "
            f"{record.median_seconds('after', n, scope) * 1000:.1f} ms (pooled)",
            len(shapes) == 1,
            at=at,
        )
    yield from _jit_check(record, scope, n, at)
    regret, limit = plan_regret(record, scope, n), record.goals.get("max_plan_regret")
    if regret is not None:
        embedded = bool(record.environment.get("server", {}).get("embedded"))
        missed = limit is not None and regret.value > limit
        goal = "information" if limit is None else f"≤ {limit:g}×" + ("" if embedded else " (embedded server only)")
        yield Check.judged(
            "plan regret, optimized",
            goal,
            regret.describe(),
            not missed if embedded and limit is not None else None,
            regret_advice(regret.best) if missed else "",
            at,
        )


JIT_CHECK = "JIT at PostgreSQL's default thresholds, optimized"


def _jit_check(record: BenchRecord, scope: str, n: int, at: str) -> Iterator[Check]:
    """What compiling the plan costs or saves: the ``[jit]`` alternative's median over the chosen plan's
    (information; a JIT faster by the plan-regret margin is a plan regret too). Said at every N, also
    where the server cannot compile (then nothing was timed)."""
    if record.parameters.get("jit_available") is False:
        yield Check(JIT_CHECK, "information", f"not timed: {NO_JIT}", Result.INFO, at=at)
        return
    jit = record.series("after[jit]", n, scope)
    if jit is None or not jit.seconds:
        return
    assumed = record.parameters.get("session_settings", {}).get("jit") or record.environment.get("server", {}).get(
        "settings", {}
    ).get("jit")
    if assumed == "on":
        yield Check(
            JIT_CHECK,
            "information",
            "the timed sessions compile already (jit = on): `bench --set jit=off` shows what JIT costs",
            Result.INFO,
            at=at,
        )
        return
    plans = record.plans.get(f"{scope} N={n:,}", {})
    compiled = plans.get("after[jit]", {}).get("shape", "").endswith("+ JIT")
    value = ratio(median(jit.seconds), record.median_seconds("after", n, scope))
    yield Check(
        JIT_CHECK,
        "information",
        f"{value:.2f}× the chosen settings' median (n={len(jit.seconds)}); "
        + ("the plan was compiled" if compiled else "below the thresholds: not compiled"),
        Result.INFO,
        "the verdict assumes the server's own jit setting; a ratio above 1 is what JIT would cost",
        at,
    )


@dataclass(frozen=True)
class Regret:
    """The chosen plan's median over the fastest *different* plan's (forced alternatives that ran the
    chosen plan anyway are the chosen plan: their samples join it rather than pass for a rival)."""

    value: float
    best: str  # the forced alternative(s) that ran the fastest different plan, or "" when there was none
    best_median: float
    best_shape: str

    def describe(self) -> str:
        if not self.best:
            return "1.00× (every forced alternative ran the chosen plan)"
        fastest = f"{self.best}, {self.best_median * 1000:.1f} ms, {self.best_shape}"
        return f"{self.value:.2f}× (fastest other plan: {fastest})"


def plan_regret(record: BenchRecord, scope: str, n: int, base: str = "after") -> Regret | None:
    plans = record.plans.get(f"{scope} N={n:,}", {})
    groups: dict[str, tuple[list[str], list[float]]] = {}
    for series in record.latency:
        if (series.n, series.scope, series.connection) != (n, scope, POOLED) or series.variant.split("[")[0] != base:
            continue
        shape = plans.get(series.variant, {}).get("shape", series.variant)  # unknown plan: a group of its own
        names, seconds = groups.setdefault(shape, ([], []))
        names.append(series.variant)
        seconds.extend(series.seconds)
    chosen_shape = plans.get(base, {}).get("shape", base)
    if chosen_shape not in groups or sum(len(names) for names, _ in groups.values()) < 2:
        return None  # no forced alternative was timed
    chosen = median(groups[chosen_shape][1])
    others = {shape: (names, median(seconds)) for shape, (names, seconds) in groups.items() if shape != chosen_shape}
    if not others:
        return Regret(1.0, "", chosen, chosen_shape)
    best_shape = min(others, key=lambda shape: others[shape][1])
    names, best_median = others[best_shape]
    return Regret(ratio(chosen, best_median), ", ".join(names), best_median, best_shape)


def _candidate_checks(record: BenchRecord, candidate: str, scope: str, n: int, at: str) -> Iterator[Check]:
    """A candidate against the optimized version: ratio of medians, its interval, and whether it differs."""
    mine, after = record.series(candidate, n, scope), record.series("after", n, scope)
    if mine is None or after is None:
        return
    comparison = compare_samples(mine.seconds, after.seconds)
    yield Check(
        "candidate / optimized (median)", "information", comparison.describe(), Result.INFO, candidate, at, candidate
    )
    regret = plan_regret(record, scope, n, candidate)
    if regret is not None:
        yield Check("plan regret, candidate", "information", regret.describe(), Result.INFO, candidate, at, candidate)


def regret_advice(best: str) -> str:
    """What to change on a server whose planner misses the faster plan (the kit never changes it)."""
    if "[no_seqscan]" in best:
        return (
            "the planner chose a sequential scan where the index path was faster: with the table in cache "
            "or on SSD, random_page_cost = 1.1 (and effective_cache_size near the memory PostgreSQL can use) "
            "lets it see that"
        )
    if "[no_index]" in best:
        return "the planner chose an index path where a sequential scan was faster: check random_page_cost"
    if "[jit]" in best:
        return "the plan ran faster with its expressions compiled: this query wants jit = on at these thresholds"
    return "the planner's parallel plan was slower than a serial one: check max_parallel_workers_per_gather"


def _memory_checks(record: BenchRecord, largest: int) -> Iterator[Check]:
    after = [m for m in record.memory if m["implementation"] == "after"]
    if not after:
        return
    stated = record.goals
    at = f"N={min(int(m['n']) for m in after):,} to {largest:,}"
    target_n = int(stated.get("target_n", 0))
    note = "" if largest >= target_n else f"the target is stated up to N={target_n:,}"
    max_rss = max(m["max_rss_bytes"] for m in after) / MB
    rss_mb = stated.get("rss_mb")
    if rss_mb is not None:
        yield Check.judged(
            "peak RSS, optimized",
            f"≤ {rss_mb:.0f} MB",
            f"{max_rss:.1f} MB (process high-water mark, worst N)",
            max_rss <= rss_mb,
            at=at,
        )
    reductions, least = record.memory_reductions(), stated.get("min_memory_reduction")
    from_n = int(stated.get("reduction_from_n", 0))
    considered = {n: r for n, r in reductions.items() if n >= from_n} or reductions
    if considered and least is not None:
        worst_n = min(considered, key=lambda n: considered[n])
        yield Check.judged(
            "memory reduction vs legacy (memray peak)",
            f"≥ {least:.0%} at every N ≥ {from_n:,}",
            f"worst {considered[worst_n]:.3%} at N={worst_n:,}",
            all(r >= least for r in considered.values()),
            "" if any(n >= from_n for n in reductions) else f"no N ≥ {from_n:,} measured; judged on every N",
            at,
        )
    fit = record.memory_fit("after")
    if fit is not None:
        yield Check.judged(
            "memory slope, optimized (log-log)",
            f"abs(slope) < {goals.FLAT_SLOPE}",
            f"{fit.slope:+.3f} ({growth_verdict(fit)}, {fit.points} points)",
            abs(fit.slope) < goals.FLAT_SLOPE if fit.points >= 2 else None,
            at=at,
        )
        growth_mb, most = fit.growth / MB, stated.get("max_memory_growth_mb")
        if most is not None:
            yield Check.judged(
                "memory growth, optimized",
                f"< {most:g} MB",
                f"{growth_mb:+.3f} MB (memray peak)",
                growth_mb < most,
                note,
                at,
            )


def growth_verdict(fit: LogLogFit) -> str:
    """How a cost grows with N, in words: flat within `goals.FLAT_SLOPE`, linear, or the power."""
    if fit.points < 2:
        return "not enough points"
    if abs(fit.slope) < goals.FLAT_SLOPE:
        return "constant in N"
    if 0.8 <= fit.slope <= 1.2:
        return "linear in N"
    return f"grows as N^{fit.slope:.2f}"


def memory_verdicts(record: BenchRecord) -> list[str]:
    """One line per implementation: how its peak memory grows with N."""
    lines = []
    for implementation, label in (("before", "legacy (before)"), ("after", "optimized (after)")):
        fit = record.memory_fit(implementation)
        if fit is not None:
            lines.append(f"{label}: peak memory {growth_verdict(fit)}")
    return lines
