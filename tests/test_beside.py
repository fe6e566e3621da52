"""Work run beside the main thread: its error reaches the caller, and an interrupt stops its processes."""

from __future__ import annotations

import sys
import threading
import time

import psutil
import pytest

from perfkit.errors import MeasurementError
from perfkit.measure.beside import STOP_GRACE_SECONDS, Runner, beside

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def test_work_beside_runs_while_the_body_runs_and_its_output_is_returned() -> None:
    seen: list[str] = []
    started = threading.Event()

    def work(run: Runner) -> None:
        started.set()
        seen.append(run([sys.executable, "-c", "print('beside')"]).stdout.strip())

    with beside(work):
        assert started.wait(10)  # the body runs while the work does, not after it
    assert seen == ["beside"]


def test_an_error_beside_is_raised_once_the_body_is_done() -> None:
    body_done = []

    def work(run: Runner) -> None:
        raise MeasurementError("the probe failed")

    def body() -> None:
        with beside(work):
            time.sleep(0.2)
            body_done.append(True)

    with pytest.raises(MeasurementError, match="the probe failed"):
        body()
    assert body_done == [True]


def test_an_interrupted_body_stops_the_processes_beside_it() -> None:
    def work(run: Runner) -> None:
        run(SLEEPER)

    def interrupted_body() -> None:
        with beside(work):
            while not _sleepers():
                time.sleep(0.05)
            raise KeyboardInterrupt  # as Ctrl-C or the kit's SIGTERM handler raise it in the main thread

    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        interrupted_body()
    assert time.monotonic() - started < 2 * STOP_GRACE_SECONDS + 5
    assert not _sleepers()


def _sleepers() -> list[psutil.Process]:
    return [p for p in psutil.Process().children() if "time.sleep(120)" in " ".join(p.cmdline())]


def test_without_a_second_core_the_work_runs_first_in_the_callers_thread() -> None:
    order: list[str] = []

    def work(run: Runner) -> None:
        order.append(threading.current_thread().name)

    with beside(work, enabled=False):
        order.append("body")
    assert order == [threading.main_thread().name, "body"]
