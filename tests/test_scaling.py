"""Log-log fits and verdicts on synthetic series."""

from __future__ import annotations

import math

import pytest

from perfkit.judge.bench import growth_verdict
from perfkit.measure.scaling import fit_loglog, ratio

NS = [1_000, 10_000, 100_000, 1_000_000]


def test_linear_growth_has_slope_one() -> None:
    fit = fit_loglog(NS, [2_400.0 * n for n in NS])
    assert fit.slope == pytest.approx(1.0)
    assert fit.r_squared == pytest.approx(1.0)
    assert growth_verdict(fit) == "linear in N"
    assert fit.growth == pytest.approx(2_400.0 * (NS[-1] - NS[0]))
    assert fit.predict(50_000) == pytest.approx(2_400.0 * 50_000)


def test_constant_memory_has_slope_zero() -> None:
    fit = fit_loglog(NS, [6_588.0, 6_588.0, 6_600.0, 6_588.0])
    assert abs(fit.slope) < 0.01
    assert growth_verdict(fit) == "constant in N"


def test_square_root_growth_is_named() -> None:
    fit = fit_loglog(NS, [math.sqrt(n) for n in NS])
    assert growth_verdict(fit) == "grows as N^0.50"


def test_fit_refuses_non_positive_values() -> None:
    with pytest.raises(ValueError, match="positive"):
        fit_loglog([1, 2], [0.0, 1.0])


def test_single_point_has_no_slope() -> None:
    fit = fit_loglog([10], [5.0])
    assert growth_verdict(fit) == "not enough points"
    assert math.isnan(fit.slope)


def test_ratio_guards_zero_and_nan() -> None:
    assert ratio(10.0, 4.0) == 2.5
    assert math.isnan(ratio(1.0, 0.0))
    assert math.isnan(ratio(math.nan, 1.0))
