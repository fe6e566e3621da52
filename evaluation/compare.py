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
from scipy import stats

SIGNIFICANCE = 0.05
"""A Mann–Whitney U p-value below this says the two samples differ in location."""


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
