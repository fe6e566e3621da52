"""Notebooks executed by papermill in a kernel the kit can stop cleanly.

Two things papermill leaves to its caller. Its kernel listens on TCP ports of localhost, and
ipykernel warns about it on every start; the kit's kernel talks over unix sockets in a private
folder instead, so nothing is reachable from the network and nothing is printed. And nbclient
answers Ctrl-C or SIGTERM by shutting the kernel down under the running cell, then resets the
signals to their defaults, so the notebook's own clean-up never runs, the kernel is killed
with its handle on the embedded server, and a later SIGTERM kills the kit outright. Here the
notebook runs in a worker thread (where nbclient installs no signal handler); the main thread
keeps the kit's handlers and, on an interrupt, interrupts the cell as Ctrl-C in Jupyter would,
waits for the kernel to finish its clean-up and shut down, and re-raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, TextIO

KERNEL_NAME = "summary-perfkit"
STOP_GRACE_SECONDS = 60.0
"""How long an interrupted notebook may take to unwind (cancel its query, mark its run) and exit."""


def ensure_kernel() -> str:
    """Register this interpreter as the ``summary-perfkit`` kernel inside its own prefix (the
    project's .venv), so executions never depend on a user-level kernelspec."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and spec.argv[0] == sys.executable:
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    install(kernel_name=KERNEL_NAME, display_name="Python (summary-perfkit)", prefix=sys.prefix)
    return KERNEL_NAME


def execute_notebook(
    source: Path,
    executed: Path,
    *,
    parameters: dict[str, Any] | None = None,
    progress: bool = False,
    stdout: TextIO | None = None,
) -> None:
    """Execute ``source`` into ``executed`` with papermill, in the directory of ``source``.

    Raises what papermill raises for a failing cell; on KeyboardInterrupt (Ctrl-C, or the kit's
    SIGTERM) the running cell is interrupted and the kernel shut down before it propagates.
    """
    import papermill
    from jupyter_client.manager import AsyncKernelManager

    kernel = ensure_kernel()
    managers: list[AsyncKernelManager] = []
    failure: list[BaseException] = []
    with tempfile.TemporaryDirectory(prefix="perfkit-kernel-") as sockets:

        class PrivateKernelManager(AsyncKernelManager):
            """Unix sockets in a folder only this user can enter, short enough for any checkout."""

            def __init__(self, **kwargs: Any) -> None:
                super().__init__(transport="ipc", ip=os.path.join(sockets, "kernel"), **kwargs)
                managers.append(self)

        def run() -> None:
            try:
                papermill.execute_notebook(
                    str(source),
                    str(executed),
                    parameters=parameters or {},
                    kernel_name=kernel,
                    kernel_manager_class=PrivateKernelManager,
                    # Its own log would say "KeyboardInterrupt caught" at every shutdown (jupyter_client
                    # interrupts before it asks); a failing cell or a dead kernel reaches papermill anyway.
                    extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
                    progress_bar=progress,
                    stdout_file=stdout,
                    cwd=str(source.parent),
                )
            except BaseException as exc:  # handed to the main thread, which raises it
                failure.append(exc)
            finally:
                _close_thread_loop()
                finished.set()

        # An Event, not Thread.join: a join interrupted by Ctrl-C leaves the thread looking finished
        # to every later join (CPython gh-90882), so the kernel would be abandoned mid-clean-up.
        finished = threading.Event()
        threading.Thread(target=run, name=f"papermill {source.name}", daemon=True).start()
        try:
            while not finished.wait(0.2):
                pass
        except KeyboardInterrupt:
            _interrupt(managers)
            finished.wait(STOP_GRACE_SECONDS)
            raise
    if failure:
        raise failure[0]


def _close_thread_loop() -> None:
    """Close the event loop jupyter_core made for this thread: a thread's loop is never closed for it."""
    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:  # none was made
        return
    loop.close()
    policy.set_event_loop(None)


def _interrupt(managers: list[Any]) -> None:
    """SIGINT to the running kernel, as Jupyter's interrupt button sends: the cell raises
    KeyboardInterrupt where it stands, psycopg cancels its query, and the kit's clean-up runs."""
    for manager in managers:
        provisioner = getattr(manager, "provisioner", None)
        pid = getattr(provisioner, "pid", None)
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGINT)
