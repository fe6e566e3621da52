"""How a cost grows with N: least-squares and log-log fits (the verdict drawn from them is the judge's)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LinearFit:
    """``y ≈ intercept + slope * x`` by least squares."""

    slope: float
    intercept: float
    r_squared: float
    points: int


def fit_line(xs: Sequence[float], ys: Sequence[float]) -> LinearFit:
    """Least squares; NaN where fewer than two distinct x make a line meaningless."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    if len(set(xs)) < 2:
        return LinearFit(math.nan, math.nan, math.nan, len(xs))
    from scipy import stats  # a second of import: only where used, not in every command

    result = stats.linregress(np.asarray(xs, dtype=float), np.asarray(ys, dtype=float))
    r_squared = float(result.rvalue) ** 2 if not math.isnan(result.rvalue) else 1.0  # constant y: a perfect fit
    return LinearFit(float(result.slope), float(result.intercept), r_squared, len(xs))


@dataclass(frozen=True)
class LogLogFit:
    """``value ≈ exp(intercept) * n ** slope`` fitted by least squares on log-log axes."""

    slope: float
    intercept: float
    r_squared: float
    points: int
    growth: float  # value at the largest N minus value at the smallest, in the value's units

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
    line = fit_line([math.log(n) for n, _ in pairs], [math.log(v) for _, v in pairs])
    return LogLogFit(line.slope, line.intercept, line.r_squared, len(pairs), float(growth))


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN instead of an error when the denominator is 0 or NaN."""
    if denominator == 0 or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator
