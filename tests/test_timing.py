"""Percentiles, their sample-count labels and the interleaved sampler, on synthetic inputs."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from perfkit.commands.bench import BenchConfig
from perfkit.commands.try_ import with_candidates
from perfkit.data.candidates import load_candidate
from perfkit.measure.timing import (
    DECIDED,
    DECISION_MIN_SAMPLES,
    MAX_SAMPLES,
    SETTLED,
    TIME_BUDGET,
    SamplingPlan,
    describe,
    median,
    median_interval,
    percentile,
    ratio_interval,
    sample_interleaved,
    samples_needed,
)


@pytest.mark.parametrize(("q", "needed"), [(50, 2), (95, 20), (99, 100), (99.9, 1000)])
def test_samples_needed_before_a_percentile_differs_from_the_max(q: float, needed: int) -> None:
    assert samples_needed(q) == needed


@pytest.mark.parametrize("q", [0, 10, 50, 95, 99, 100])
def test_percentile_matches_numpy_linear(q: float) -> None:
    samples = [float(x) for x in np.random.default_rng(7).lognormal(size=257)]
    assert percentile(samples, q) == pytest.approx(float(np.percentile(samples, q)))


def test_p99_of_twenty_samples_is_labelled_as_the_max() -> None:
    samples = [float(i) for i in range(1, 21)]
    stats = describe(samples)
    assert stats["p99"].value == 20.0
    assert not stats["p99"].supported
    assert stats["p99"].label == "p99 unsupported: max of n=20 (needs n>=100)"
    assert stats["p95"].supported
    assert stats["p95"].label == "p95 (n=20)"
    assert stats["p50"].value == median(samples) == 10.5


def test_p99_of_a_hundred_samples_is_a_real_percentile() -> None:
    samples = [float(i) for i in range(1, 101)]
    p99 = describe(samples)["p99"]
    assert p99.supported
    assert p99.value == pytest.approx(99.01)
    assert p99.label == "p99 (n=100)"


def test_no_samples() -> None:
    stats = describe([])
    assert math.isnan(stats["p50"].value)
    assert stats["p50"].label == "p50 (no samples)"


class FakeClock:
    """Time advances only when a fake call says how long it took."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def call_taking(self, seconds: float, log: list[str], name: str) -> Callable[[], object]:
        def call() -> object:
            log.append(name)
            self.now += seconds
            return None

        return call


def test_interleaving_rotates_and_time_budget_bounds_slow_variants() -> None:
    clock, log = FakeClock(), []
    calls = {"fast": clock.call_taking(0.01, log, "fast"), "slow": clock.call_taking(2.0, log, "slow")}
    plans = {
        "fast": SamplingPlan(min_samples=10, max_samples=10, warmups=2),
        "slow": SamplingPlan(min_samples=2, max_samples=10, time_budget=5.0, warmups=1),
    }
    result = sample_interleaved(calls, plans, clock=clock)
    assert result["fast"].seconds == pytest.approx([0.01] * 10)
    assert result["fast"].warmup_seconds == pytest.approx([0.01, 0.01])
    # 2 s per call: after 3 samples the 5 s budget is spent (2, 4, 6).
    assert result["slow"].seconds == pytest.approx([2.0, 2.0, 2.0])
    assert result["slow"].warmup_seconds == pytest.approx([2.0])
    # Warm-ups, then A B / B A / A B ... while both run.
    assert log[:3] == ["fast", "slow", "fast"]
    assert log[3:9] == ["fast", "slow", "slow", "fast", "fast", "slow"]


def test_minimum_samples_are_taken_even_past_the_budget() -> None:
    clock, log = FakeClock(), []
    calls = {"slow": clock.call_taking(100.0, log, "slow")}
    result = sample_interleaved(
        calls, {"slow": SamplingPlan(min_samples=3, max_samples=50, time_budget=1.0, warmups=0)}, clock=clock
    )
    assert len(result["slow"].seconds) == 3
    assert result["slow"].stopped == TIME_BUDGET


def _calls_taking(clock: FakeClock, durations: list[float]) -> Callable[[], object]:
    remaining = iter(durations)

    def call() -> object:
        clock.now += next(remaining)
        return None

    return call


def test_a_variant_judged_by_its_median_stops_once_the_median_is_known() -> None:
    """A steady variant settles at its minimum; a noisy one is sampled on, up to its maximum; each
    says why it stopped."""
    clock = FakeClock()
    steady = [0.100 + 0.001 * (i % 3) for i in range(100)]
    noisy = [0.100 * (1 + (i % 7)) for i in range(100)]  # spread over 0.1-0.7 s: never within ±3%
    plan = SamplingPlan(min_samples=10, max_samples=40, warmups=0, precision=0.03)
    result = sample_interleaved(
        {"steady": _calls_taking(clock, steady), "noisy": _calls_taking(clock, noisy)},
        {"steady": plan, "noisy": plan},
        clock=clock,
    )
    assert len(result["steady"].seconds) == 10
    assert result["steady"].stopped == SETTLED
    assert len(result["noisy"].seconds) == 40
    assert result["noisy"].stopped == MAX_SAMPLES


def test_a_variant_judged_by_its_ratio_stops_once_no_sample_could_change_the_verdict() -> None:
    """Judged against a boundary of 2× the reference: a variant about 3× slower, noisy as it is, is
    decided after the fewest samples; one about 2× slower is sampled on to its maximum, since its
    ratio may fall on either side."""
    clock = FakeClock()
    reference = [0.100 * (1 + 0.1 * (i % 5)) for i in range(100)]  # 0.10-0.14 s
    clear = [0.300 * (1 + 0.1 * (i % 5)) for i in range(100)]
    close = [0.200 * (1 + 0.1 * (i % 5)) for i in range(100)]
    judged = SamplingPlan(min_samples=3, max_samples=30, warmups=0, versus="reference", boundaries=(2.0,))
    result = sample_interleaved(
        {
            name: _calls_taking(clock, durations)
            for name, durations in [("reference", reference), ("clear", clear), ("close", close)]
        },
        {"reference": SamplingPlan(min_samples=30, max_samples=30, warmups=0), "clear": judged, "close": judged},
        clock=clock,
    )
    assert len(result["clear"].seconds) == DECISION_MIN_SAMPLES
    assert result["clear"].stopped == DECIDED
    assert len(result["close"].seconds) == 30
    assert result["close"].stopped == MAX_SAMPLES
    low, high = ratio_interval(result["clear"].seconds, result["reference"].seconds)
    assert 2.0 < low <= 3.0 <= high


def test_a_ratio_is_not_decided_on_fewer_samples_than_its_interval_needs() -> None:
    plan = SamplingPlan(min_samples=1, max_samples=100, versus="reference", boundaries=(1.0,))
    assert plan.stop([10.0] * (DECISION_MIN_SAMPLES - 1), [1.0] * 100) is None
    assert plan.stop([10.0] * DECISION_MIN_SAMPLES, [1.0] * (DECISION_MIN_SAMPLES - 1)) is None
    assert plan.stop([10.0] * DECISION_MIN_SAMPLES, [1.0] * DECISION_MIN_SAMPLES) == DECIDED


@pytest.mark.parametrize("count", [10, 20, 100, 1000])
def test_the_median_interval_holds_the_median_and_narrows_with_samples(count: int) -> None:
    samples = [float(i) for i in range(count)]
    low, high = median_interval(samples)
    assert low <= median(samples) <= high
    assert high - low <= 1.96 * math.sqrt(count) + 3  # ±z·√n/2 ranks around the middle, rounded outwards


def test_each_variant_of_the_full_bench_stops_at_the_boundary_of_the_goal_it_is_judged_by() -> None:
    config, _ = with_candidates(BenchConfig.full(), [load_candidate("collate_c")])
    boundaries = {name: (plan.versus, plan.boundaries) for name, plan in config.plans.items()}
    stated = config.subject.goals
    regret = 1 / stated["max_plan_regret"]
    assert boundaries["after[no_index]"] == ("after", (regret,))
    assert boundaries["scan_floor[serial]"] == ("after", (1 / stated["max_scan_floor_ratio"],))
    assert boundaries["distinct"] == ("after", (stated["min_speedup_vs_rewrite"],))
    assert boundaries["before"] == ("after", (stated["min_speedup_vs_legacy"],))
    assert boundaries["collate_c"] == ("after", (1.0,))
    assert boundaries["collate_c[no_seqscan]"] == ("collate_c", (regret,))
    assert boundaries["after"] == boundaries["floor"] == ("", ())  # a p99 and information: nothing to decide
    assert not config.plans["collate_c[serial]"].every_scenario
