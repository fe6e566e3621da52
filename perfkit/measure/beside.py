"""Measurements run beside one another: those whose figures do not depend on the clock.

Memory (what one call allocates and keeps resident) and instruction counts (under valgrind, on a
server of their own) come out the same whether the machine is idle or busy, so on a machine with
more than one core the bench takes them at the same time; latencies are never timed beside
anything. Work beside the main thread starts its processes through a `Beside` so that an
interrupt, which Python delivers to the main thread only, stops them too.
"""

from __future__ import annotations

import signal
import subprocess
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Protocol

from perfkit.errors import MeasurementError

STOP_GRACE_SECONDS = 3.0
"""How long a process beside has, after Ctrl-C, to cancel its query and exit before it is killed."""


class Runner(Protocol):
    """Runs a command to its end, capturing its text output, as `subprocess.run` does."""

    def __call__(
        self, command: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]: ...


def run_process(
    command: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`Runner` for the main thread, where an interrupt reaches `subprocess.run`, which kills the child."""
    return subprocess.run(list(command), env=env, capture_output=True, text=True, timeout=timeout, check=False)


class Beside:
    """A `Runner` for work in another thread, whose processes `stop` interrupts, then kills."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen[str]] = set()
        self._stopped = False

    def __call__(
        self, command: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float | None = None
    ) -> subprocess.CompletedProcess[str]:
        with self._lock:
            if self._stopped:
                raise MeasurementError("stopped: the run it belongs to was interrupted")
            process = subprocess.Popen(
                list(command), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
        finally:
            with self._lock:
                self._running.discard(process)
        return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)

    def stop(self) -> None:
        """Interrupt every running process (a probe cancels its query on Ctrl-C), kill those still
        running after `STOP_GRACE_SECONDS`, and refuse to start more."""
        with self._lock:
            self._stopped = True
            running = list(self._running)
        for process in running:
            process.send_signal(signal.SIGINT)
        for process in running:
            try:
                process.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def beside(work: Callable[[Runner], None], *, enabled: bool = True) -> Iterator[None]:
    """Run ``work`` in a thread while the body of the ``with`` runs, then wait for it and raise
    what it raised. When the body raises (an error, Ctrl-C, SIGTERM), ``work``'s processes are
    stopped and its own error, if any, is dropped for the body's. ``enabled=False``: ``work`` runs
    first, in the caller's thread, as it would without a second core."""
    if not enabled:
        work(run_process)
        yield
        return
    runner = Beside()
    failure: list[BaseException] = []

    def target() -> None:
        try:
            work(runner)
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)

    thread = threading.Thread(target=target, name="perfkit-beside", daemon=True)
    thread.start()
    try:
        yield
        while thread.is_alive():
            thread.join(timeout=0.5)  # in short waits, so that Ctrl-C is seen while waiting too
    except BaseException:
        runner.stop()
        thread.join(timeout=2 * STOP_GRACE_SECONDS)
        raise
    if failure:
        raise failure[0]
