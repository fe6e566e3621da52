"""The statistics of comparisons, on small synthetic samples."""

from __future__ import annotations

import math

from perfkit.measure.statistics import compare_ratios, compare_samples, holm

BASE = [0.010 + 0.0002 * (i % 9) for i in range(40)]


def test_a_ratio_that_did_not_change_is_not_significant() -> None:
    change = compare_ratios([v * 30 for v in BASE[::2]], BASE[1::2], [v * 30 for v in BASE[1::2]], BASE[::2])
    assert 0.9 < change.ratio < 1.1
    assert not change.significant
    assert change.low <= 1.0 <= change.high


def test_a_ratio_that_halved_is_significant() -> None:
    change = compare_ratios([v * 15 for v in BASE], BASE, [v * 30 for v in BASE], BASE)
    assert math.isclose(change.ratio, 0.5, rel_tol=0.05)
    assert change.significant
    assert change.high < 1.0


def test_a_slowdown_is_flagged_and_its_interval_excludes_one() -> None:
    slower = compare_samples([v * 1.3 for v in BASE], BASE)
    assert slower.direction == "slower"
    assert slower.low > 1.0


def test_holm_keeps_the_family_error_rate() -> None:
    adjusted = holm([0.01, 0.04, 0.03])
    assert adjusted == [0.03, 0.06, 0.06]
    assert math.isnan(holm([math.nan])[0])
