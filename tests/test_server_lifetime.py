"""The embedded server: its lifetime follows live kit processes (a terminated run included), and no other
OS user can reach it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from psycopg.conninfo import conninfo_to_dict

pytestmark = [pytest.mark.db, pytest.mark.slow]

if os.environ.get("DATABASE_URL"):
    pytest.skip("these tests start embedded servers of their own; DATABASE_URL is set", allow_module_level=True)

NOBODY = 65534


def _kit(pgdata: Path, code: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True, **kwargs)  # type: ignore[call-overload]


def _postmaster(pgdata: Path) -> psutil.Process | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        process = psutil.Process(int(pid_file.read_text().split()[0]))
    except (psutil.NoSuchProcess, ValueError):
        return None
    return process if process.is_running() and process.status() != psutil.STATUS_ZOMBIE else None


@pytest.fixture
def short_parent() -> Iterator[Path]:
    """A parent folder for a scratch server's data: short, and traversable by the server's OS user."""
    parent = Path(tempfile.mkdtemp(prefix="pk-", dir="/tmp"))
    parent.chmod(0o755)
    yield parent
    subprocess.run(["rm", "-rf", str(parent)], check=False)


def test_a_killed_kit_process_does_not_keep_the_server_alive(short_parent: Path) -> None:
    pgdata = short_parent / "pg"
    killed = _kit(
        pgdata,
        "import os, signal\nfrom perfkit.data import server\n"
        "server.resolve_server()\nos.kill(os.getpid(), signal.SIGKILL)",
    )
    killed.wait(timeout=120)
    assert killed.returncode == -9
    assert _postmaster(pgdata) is not None, "the killed process had started the server"
    assert killed.pid in json.loads((pgdata / ".handle_pids.json").read_text())
    finishing = _kit(pgdata, "from perfkit.data import server\nserver.resolve_server()")
    assert finishing.wait(timeout=120) == 0
    assert _postmaster(pgdata) is None, "the last live kit process stopped the server"
    assert json.loads((pgdata / ".handle_pids.json").read_text()) == []


def _probe_as(uid: int, socket_path: str) -> subprocess.CompletedProcess[str]:
    code = "import socket, sys\ns = socket.socket(socket.AF_UNIX)\ns.connect(sys.argv[1])\nprint('connected')"

    def become() -> None:
        if uid != os.getuid():
            os.setgid(uid)
            os.setuid(uid)

    return subprocess.run(
        ["/usr/bin/python3", "-c", code, socket_path],
        preexec_fn=become,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.skipif(os.geteuid() != 0, reason="probing as another OS user needs root (CI runs as root)")
@pytest.mark.parametrize("depth", ["short", "deep"])
def test_another_os_user_cannot_reach_the_embedded_server(short_parent: Path, depth: str) -> None:
    pgdata = short_parent / "pg" if depth == "short" else short_parent / ("d" * 60) / ("e" * 60) / "pg"
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    for folder in (pgdata.parent, pgdata.parent.parent):
        folder.chmod(0o755)
    with _kit(
        pgdata,
        "import sys\nfrom perfkit.data import server\n"
        "print(server.resolve_server().dsn.reveal(), flush=True)\nsys.stdin.read()",
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            host = conninfo_to_dict(holder.stdout.readline().strip())["host"]
            assert host is not None
            socket_path = next(str(p) for p in Path(str(host)).glob(".s.PGSQL.*") if p.is_socket())
            if depth == "deep":
                assert not socket_path.startswith(str(pgdata)), "a deep checkout moves the socket to a short path"
            assert "connected" in _probe_as(os.getuid(), socket_path).stdout  # the probe itself works
            refused = _probe_as(NOBODY, socket_path)
            assert refused.returncode != 0
            assert "PermissionError" in refused.stderr, refused.stderr
        finally:
            holder.stdin.close()  # the holder exits, and with it the server


def test_sigterm_mid_bench_leaves_the_run_incomplete_and_no_server(short_parent: Path, tmp_path: Path) -> None:
    pgdata, output = short_parent / "pg", tmp_path / "results"
    env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
    command = [sys.executable, "-m", "evaluation", "bench", "--quick", "--no-memory", "--no-instructions",
               "--output", str(output)]  # fmt: skip
    bench = subprocess.Popen(command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 300
    while not list(output.glob("bench-*/INCOMPLETE")) and time.monotonic() < deadline:
        time.sleep(0.5)  # seeding, then the run directory: the timing has begun
    assert list(output.glob("bench-*/INCOMPLETE")), "the bench never started timing"
    time.sleep(2)
    bench.send_signal(signal.SIGTERM)
    _, err = bench.communicate(timeout=60)
    assert bench.returncode == 143, err[-2000:]
    assert err.rstrip().endswith("terminated"), err[-2000:]
    assert "Traceback" not in err
    (run,) = output.glob("bench-*")
    assert (run / "INCOMPLETE").exists()
    assert json.loads((run / "results.json").read_text())["complete"] is False
    stopped = time.monotonic() + 10
    while _postmaster(pgdata) is not None and time.monotonic() < stopped:
        time.sleep(0.5)
    assert _postmaster(pgdata) is None, "the server the terminated run started is still up"


def _kernels_of(pgdata: Path) -> list[psutil.Process]:
    """Kernels still running for a scratch server's runs (they are in sessions of their own)."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "ipykernel_launcher" in " ".join(process.info["cmdline"] or ()) and process.environ().get(
                "PERFKIT_PGDATA"
            ) == str(pgdata):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_ctrl_c_mid_report_interrupts_the_notebook_and_leaves_no_server(short_parent: Path, tmp_path: Path) -> None:
    """Ctrl-C reaches the terminal's process group: the kit, not its kernel (a session of its own). The
    kit interrupts the running cell, waits for the kernel's clean-up, and says one word."""
    pgdata, output = short_parent / "pg", tmp_path / "reports"
    env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
    command = [sys.executable, "-m", "evaluation", "report", "--quick", "--notebook", "02_scaling",
               "--output", str(output)]  # fmt: skip
    report = subprocess.Popen(
        command, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores it
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(output.glob("*/02_scaling/bench-*/INCOMPLETE")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert list(output.glob("*/02_scaling/bench-*/INCOMPLETE")), "the notebook's bench never started"
    time.sleep(2)
    os.killpg(report.pid, signal.SIGINT)
    _, err = report.communicate(timeout=120)
    assert report.returncode == 130, err[-2000:]
    assert err.strip() == "interrupted", err[-2000:]  # no kernel traceback, no TCP warning
    (directory,) = output.iterdir()
    assert (directory / "INCOMPLETE").exists()
    (bench,) = (directory / "02_scaling").glob("bench-*")
    assert json.loads((bench / "results.json").read_text())["complete"] is False  # the cell's own clean-up ran
    stopped = time.monotonic() + 10
    while (_postmaster(pgdata) is not None or _kernels_of(pgdata)) and time.monotonic() < stopped:
        time.sleep(0.5)
    assert not _kernels_of(pgdata), "a kernel outlived the interrupted report"
    assert _postmaster(pgdata) is None, "the server of the interrupted report is still up"
