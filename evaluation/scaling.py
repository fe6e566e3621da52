"""How a cost grows with N: log-log fits and the verdict drawn from them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# A slope this close to 0 on log-log axes means "does not grow with N" over the measured range.
FLAT_SLOPE = 0.1


@dataclass(frozen=True)
class LogLogFit:
    """``value ≈ exp(intercept) * n ** slope`` fitted by least squares on log-log axes."""

    slope: float
    intercept: float
    r_squared: float
    points: int
    growth: float  # value at the largest N minus value at the smallest, in the value's units

    @property
    def verdict(self) -> str:
        if self.points < 2:
            return "not enough points"
        if abs(self.slope) < FLAT_SLOPE:
            return "constant in N"
        if 0.8 <= self.slope <= 1.2:
            return "linear in N"
        return f"grows as N^{self.slope:.2f}"

    def predict(self, n: float) -> float:
        return float(math.exp(self.intercept) * n**self.slope)


def fit_loglog(ns: Sequence[float], values: Sequence[float]) -> LogLogFit:
    """Fit on log-log axes; values must be positive (bytes, seconds)."""
    if len(ns) != len(values):
        raise ValueError("ns and values differ in length")
    pairs = sorted(zip(ns, values, strict=True))
    if any(n <= 0 or v <= 0 for n, v in pairs):
        raise ValueError("log-log fit needs positive N and values")
    growth = pairs[-1][1] - pairs[0][1] if pairs else 0.0
    if len(pairs) < 2:
        return LogLogFit(math.nan, math.nan, math.nan, len(pairs), growth)
    x = np.log([n for n, _ in pairs])
    y = np.log([v for _, v in pairs])
    slope, intercept = np.polyfit(x, y, 1)
    residual = float(np.sum((y - (slope * x + intercept)) ** 2))
    total = float(np.sum((y - y.mean()) ** 2))
    r_squared = 1.0 - residual / total if total > 0 else 1.0
    return LogLogFit(float(slope), float(intercept), r_squared, len(pairs), float(growth))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN instead of an error when the denominator is 0 or NaN."""
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator
