"""Comparing two samples of latencies: ratio of medians, its bootstrap interval, and a rank test.

Used wherever two figures meet: a candidate against the optimized version, a report against
the previous one. Seeded, so the same samples always give the same interval.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

SIGNIFICANCE = 0.05
"""A (Holm-adjusted) p-value below this says the two samples differ in location."""


@dataclass(frozen=True)
class Comparison:
    """``ratio`` = median of ``new`` / median of ``old``: below 1 is faster."""

    ratio: float
    low: float
    high: float
    p_value: float
    new_samples: int
    old_samples: int

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE

    @property
    def direction(self) -> str:
        if not self.significant:
            return "no significant difference"
        return "faster" if self.ratio < 1 else "slower"

    def describe(self) -> str:
        return (
            f"{self.ratio:.2f}× [{self.low:.2f}–{self.high:.2f}], {self.direction} "
            f"(Mann–Whitney p={self.p_value:.2g}; n={self.new_samples} vs n={self.old_samples})"
        )

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "significant": self.significant, "direction": self.direction}


def compare_samples(new: Sequence[float], old: Sequence[float], *, resamples: int = 2000, seed: int = 0) -> Comparison:
    """Ratio of medians with a 95% bootstrap interval (samples resampled independently, so their
    sizes may differ) and a two-sided Mann–Whitney U test."""
    if len(new) < 2 or len(old) < 2:
        ratio = float(np.median(new) / np.median(old)) if len(new) and len(old) else math.nan
        return Comparison(ratio, math.nan, math.nan, math.nan, len(new), len(old))
    from scipy import stats  # a second of import: only where used, not in every command

    new_values, old_values = np.asarray(new, dtype=float), np.asarray(old, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.DegenerateDataWarning)
        interval = stats.bootstrap(
            (new_values, old_values),
            lambda a, b, axis: np.median(a, axis=axis) / np.median(b, axis=axis),
            paired=False,
            vectorized=True,
            n_resamples=resamples,
            method="percentile",
            rng=np.random.default_rng(seed),
        ).confidence_interval
    p_value = float(stats.mannwhitneyu(new_values, old_values, alternative="two-sided").pvalue)
    ratio = float(np.median(new_values) / np.median(old_values))
    return Comparison(ratio, float(interval.low), float(interval.high), p_value, len(new), len(old))


def compare_ratios(
    new_numerator: Sequence[float],
    new_denominator: Sequence[float],
    old_numerator: Sequence[float],
    old_denominator: Sequence[float],
    *,
    resamples: int = 2000,
    seed: int = 0,
) -> Comparison:
    """How a ratio of medians changed between two runs: (new ratio) / (old ratio), with a bootstrap
    interval and a bootstrap p-value (all four samples resampled independently).

    Ratios measured within one interleaved run cancel the drift of a shared machine; comparing
    them across runs is how the kit tells a change of the code from a change of the weather."""
    samples = [np.asarray(s, dtype=float) for s in (new_numerator, new_denominator, old_numerator, old_denominator)]
    if any(len(s) < 2 for s in samples):
        return Comparison(math.nan, math.nan, math.nan, math.nan, len(new_numerator), len(old_numerator))
    rng = np.random.default_rng(seed)
    medians = [np.median(rng.choice(s, size=(resamples, len(s)), replace=True), axis=1) for s in samples]
    change = (medians[0] / medians[1]) / (medians[2] / medians[3])
    point = float((np.median(samples[0]) / np.median(samples[1])) / (np.median(samples[2]) / np.median(samples[3])))
    below = float(np.mean(change <= 1.0))
    p_value = min(1.0, 2 * max(min(below, 1.0 - below), 1.0 / resamples))
    low, high = np.percentile(change, [2.5, 97.5])
    return Comparison(point, float(low), float(high), p_value, len(new_numerator), len(old_numerator))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values: a family of comparisons keeps its error rate at the level
    chosen for one (NaN stays NaN)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if not math.isnan(p))
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (len(indexed) - rank) * p))
        adjusted[i] = running
    return adjusted
