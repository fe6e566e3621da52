"""Interleaved latency sampling and percentiles that say how many samples they rest on."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

Clock = Callable[[], float]
"""Seconds from an arbitrary origin; `time.perf_counter` unless a test injects another."""

PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


@dataclass(frozen=True)
class Percentile:
    """A percentile of ``n`` samples. With fewer than ``required`` samples the value is the
    maximum observed, and the label says so, rather than passing a max off as a p99."""

    name: str
    q: float
    value: float
    n: int

    @property
    def required(self) -> int:
        return samples_needed(self.q)

    @property
    def supported(self) -> bool:
        return self.n >= self.required

    @property
    def label(self) -> str:
        if self.n == 0:
            return f"{self.name} (no samples)"
        if self.supported:
            return f"{self.name} (n={self.n})"
        return f"{self.name} unsupported: max of n={self.n} (needs n>={self.required})"


def samples_needed(q: float) -> int:
    """Samples needed before the q-th percentile is distinct from the maximum: 100/(100-q)."""
    return math.ceil(100.0 / (100.0 - q) - 1e-9) if q < 100 else 1


def percentile(samples: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile, for q in [0, 100]; NaN without samples."""
    return float(np.percentile(samples, q)) if len(samples) else math.nan


def percentile_interval(
    samples: Sequence[float], q: float, *, confidence: float = 0.95, resamples: int = 2000, seed: int = 0
) -> tuple[float, float]:
    """Bootstrap confidence interval (percentile method) of the q-th percentile, seeded so a record
    always renders the same interval. With fewer than two samples there is no interval: NaN."""
    if len(samples) < 2:
        return math.nan, math.nan
    from scipy import stats  # a second of import: only where used, not in every command

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)  # all samples equal: the interval is a point
        result = stats.bootstrap(
            (np.asarray(samples, dtype=float),),
            lambda values, axis: np.percentile(values, q, axis=axis),
            confidence_level=confidence,
            n_resamples=resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
            vectorized=True,
        )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def describe(samples: Sequence[float]) -> dict[str, Percentile]:
    """p50, p95 and p99 of ``samples``, each falling back to the max when unsupported."""
    result = {}
    for name, q in PERCENTILES.items():
        value = percentile(samples, q) if len(samples) >= samples_needed(q) else max(samples, default=math.nan)
        result[name] = Percentile(name=name, q=q, value=value, n=len(samples))
    return result


def median(samples: Sequence[float]) -> float:
    return percentile(samples, 50.0)


def median_interval(samples: Sequence[float], z: float = 1.96) -> tuple[float, float]:
    """The 95% interval of the median from order statistics: no assumption on the distribution,
    which for latencies is skewed and often has two modes."""
    ordered = sorted(samples)
    count = len(ordered)
    half = z * math.sqrt(count) / 2
    low = max(math.floor(count / 2 - half) - 1, 0)
    high = min(math.ceil(count / 2 + half), count - 1)
    return ordered[low], ordered[high]


MEDIAN_PRECISION = 0.03
"""A variant judged by its median may stop once the median's 95% interval is within ±3% of it."""
DECISION_MIN_SAMPLES = 5
"""Samples of each side before a ratio counts as decided: with five, the median's interval is the
range of the samples, which holds the median 94% of the time; with fewer it holds it less often."""
SETTLED = "settled"
"""Stopping reasons: the median's interval within the plan's precision; the ratio to the variant it
is judged against on one side of every goal; the most samples the plan allows; the plan's time
budget spent past its minimum."""
DECIDED = "decided"
MAX_SAMPLES = "max samples"
TIME_BUDGET = "time budget"


@dataclass(frozen=True)
class SamplingPlan:
    """How long each variant is sampled: at least ``min_samples``, at most ``max_samples``; past its
    minimum, until its median is known to within ``precision`` (the half-width of its 95% interval
    over the median; 0: never early), or until its ratio to ``versus`` is decided: the interval of
    (its median / the median of ``versus``) excludes every one of ``boundaries``, the ratios where a
    goal judged on it would change its verdict; or until ``time_budget`` seconds of its own calls
    are spent. ``every_scenario=False``: sampled in the run's last scenario only (the headline,
    else the largest N), for information that one size gives."""

    min_samples: int
    max_samples: int
    time_budget: float = math.inf
    warmups: int = 1
    precision: float = 0.0
    versus: str = ""
    boundaries: tuple[float, ...] = ()
    every_scenario: bool = True

    def stop(self, seconds: Sequence[float], versus: Sequence[float] = ()) -> str | None:
        """Why sampling of a variant with these samples ends now, or None to go on; ``versus``: the
        samples of the variant it is judged against, so far."""
        if len(seconds) >= self.max_samples:
            return MAX_SAMPLES
        if len(seconds) < self.min_samples:
            return None
        if sum(seconds) >= self.time_budget:
            return TIME_BUDGET
        if self.precision > 0:
            low, high = median_interval(seconds)
            if high - low <= 2 * self.precision * median(seconds):
                return SETTLED
        if self.boundaries and decided(seconds, versus, self.boundaries):
            return DECIDED
        return None


def ratio_interval(numerator: Sequence[float], denominator: Sequence[float]) -> tuple[float, float]:
    """An interval of median(numerator) / median(denominator) from the two medians' intervals, at
    least as wide as either (cheap enough to ask after every sample, unlike a bootstrap)."""
    low, high = median_interval(numerator)
    below, above = median_interval(denominator)
    return low / above, high / below if below > 0 else math.inf


def decided(seconds: Sequence[float], versus: Sequence[float], boundaries: Sequence[float]) -> bool:
    """Whether more samples could still move the ratio of medians across one of ``boundaries``."""
    if min(len(seconds), len(versus)) < DECISION_MIN_SAMPLES:
        return False
    low, high = ratio_interval(seconds, versus)
    return not any(low <= boundary <= high for boundary in boundaries)


@dataclass
class Samples:
    """Raw latencies (seconds) of one variant, in the order taken, and why sampling stopped."""

    seconds: list[float] = field(default_factory=list)
    warmup_seconds: list[float] = field(default_factory=list)
    stopped: str = ""

    @property
    def spent(self) -> float:
        return sum(self.seconds)


def sample_interleaved(
    calls: Mapping[str, Callable[[], object]],
    plans: Mapping[str, SamplingPlan],
    *,
    clock: Clock = time.perf_counter,
    progress: bool = False,
    description: str = "timing",
    checks: Mapping[str, tuple[Callable[[], None], Callable[[], None]]] | None = None,
) -> dict[str, Samples]:
    """Time the calls round-robin (A B C, B C A, ...) so that drift hits every variant alike.

    Warm-ups run first, interleaved the same way. A variant leaves the rotation when its plan says
    so (`SamplingPlan.stop`), with the reason kept in its `Samples`. ``checks`` gives, for a variant,
    what runs just before and just after each of its calls, outside the time taken (a candidate's
    containment).
    """
    names = list(calls)
    results = {name: Samples() for name in names}
    around = checks or {}

    def timed(name: str) -> float:
        if name in around:
            around[name][0]()
        start = clock()
        calls[name]()
        elapsed = clock() - start
        if name in around:
            around[name][1]()
        return elapsed

    warmup_rounds = max((plans[name].warmups for name in names), default=0)
    for round_index in range(warmup_rounds):
        for name in _rotated(names, round_index):
            if round_index < plans[name].warmups:
                results[name].warmup_seconds.append(timed(name))

    def active(name: str) -> bool:
        taken, plan = results[name], plans[name]
        if not taken.stopped:
            reference = results[plan.versus].seconds if plan.versus in results else []
            taken.stopped = plan.stop(taken.seconds, reference) or ""
        return not taken.stopped

    total = sum(plans[name].max_samples for name in names)
    with tqdm(total=total, desc=description, unit="call", disable=not progress, leave=False) as bar:
        round_index = 0
        while True:
            runnable = [name for name in _rotated(names, round_index) if active(name)]
            if not runnable:
                break
            for name in runnable:
                results[name].seconds.append(timed(name))
                bar.update(1)
            round_index += 1
    return results


def _rotated(names: list[str], offset: int) -> list[str]:
    if not names:
        return names
    shift = offset % len(names)
    return names[shift:] + names[:shift]
