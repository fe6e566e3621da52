"""Calls under concurrent clients: which calls count, what they say, and the capacity judged from them
(threads calling fakes, and synthetic series: no server, no clock read for a verdict)."""

from __future__ import annotations

import threading
import time

import pytest

from perfkit.judge.capacity import capacity
from perfkit.measure.concurrency import ConcurrentSeries, client_counts, closed_loop, quick_client_counts


def test_client_counts_go_from_one_to_four_times_the_cores() -> None:
    assert client_counts(2) == (1, 2, 4, 8)
    assert client_counts(1) == (1, 2, 4)


def test_a_quick_run_tries_an_idle_server_and_a_queue_on_every_core() -> None:
    for cores in (1, 2, 8):
        quick = quick_client_counts(cores)
        assert set(quick) <= set(client_counts(cores))  # cells a full run has too
        assert quick == (1, 2 * cores)


def test_clients_keep_calling_until_the_last_counted_call_returns() -> None:
    """A slow call started in the window holds the burst open: the fast client keeps the load on
    (uncounted calls) until it returns, so the slow call ran with both clients busy all along."""
    released = threading.Event()
    fast_calls: list[float] = []

    def slow() -> None:
        released.wait(10)

    def fast() -> None:
        fast_calls.append(time.perf_counter())
        time.sleep(0.001)
        if len(fast_calls) == 200:
            released.set()

    burst = closed_loop([slow, fast], window=0.02)
    assert len(fast_calls) >= 200
    assert burst.calls >= 201
    assert len(burst.seconds) < 50  # the fast client's calls after the window are not counted
    assert max(burst.seconds) >= 0.2  # the slow call, counted, lasted through the 200 fast ones


def test_a_failing_call_stops_the_burst_and_is_raised() -> None:
    def broken() -> None:
        raise RuntimeError("connection lost")

    with pytest.raises(RuntimeError, match="connection lost"):
        closed_loop([broken, lambda: time.sleep(0.001)], window=0.05)


def _series(clients: int, seconds: float, count: int = 100) -> ConcurrentSeries:
    return ConcurrentSeries("after", "headline", 900_000, 3000, clients, [seconds] * count, calls=count)


def test_calls_per_second_follow_littles_law() -> None:
    assert _series(4, 0.1).calls_per_second == pytest.approx(40.0)
    assert _series(2, 0.1, count=0).calls_per_second != _series(2, 0.1, count=0).calls_per_second  # NaN


def test_capacity_is_the_most_clients_below_the_goal_counting_up() -> None:
    found = capacity([_series(8, 0.4), _series(1, 0.05), _series(4, 0.15), _series(2, 0.1)], 200.0)
    assert (found.clients, found.low, found.high, found.tried) == (4, 4, 4, (1, 2, 4, 8))
    assert (found.peak_calls_per_second, found.peak_at) == (pytest.approx(26.67, abs=0.01), 4)
    assert found.supported
    assert "holds up to 4 concurrent calls" in found.describe()


def test_a_p99_whose_interval_straddles_the_goal_widens_the_capacity() -> None:
    straddling = ConcurrentSeries("after", "grid", 100_000, 1, 2, [0.1] * 97 + [0.19, 0.21, 0.25], calls=100)
    found = capacity([_series(1, 0.05), straddling, _series(4, 0.5)], 200.0)
    assert (found.low, found.high) == (1, 2)


def test_no_client_within_the_goal_is_a_capacity_of_zero() -> None:
    found = capacity([_series(1, 0.3), _series(2, 0.5)], 200.0)
    assert (found.clients, found.low, found.high) == (0, 0, 0)
    assert "not even for one call at a time" in found.describe()


def test_a_p99_of_few_calls_is_flagged_as_a_maximum() -> None:
    found = capacity([_series(1, 0.05, count=20)], 200.0)
    assert not found.supported
    assert "maxima of fewer than 100 calls" in found.describe()
