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
    try:
        # The postmaster creates the file first and writes it after: it can be empty for a moment.
        recorded = (pgdata / "postmaster.pid").read_text().split()[:1]
        process = psutil.Process(int(recorded[0])) if recorded else None
    except (OSError, psutil.NoSuchProcess, ValueError):
        return None
    running = process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    return process if running else None


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


STOPPED = {signal.SIGINT: (130, "interrupted"), signal.SIGTERM: (143, "terminated")}


@pytest.mark.parametrize(
    ("command", "started", "sent"),
    [
        (["bench", "--quick", "--no-memory", "--no-instructions"], "bench-*/INCOMPLETE", signal.SIGTERM),
        (["try", "collate_c", "--quick"], "try-*/INCOMPLETE", signal.SIGINT),
        (["loadtest", "--quick"], "load-*/INCOMPLETE", signal.SIGTERM),
        # Ctrl-C reaches the kit, not its kernel (a session of its own): the kit interrupts the cell,
        # waits for the kernel's clean-up and shutdown, and says one word (no traceback, no TCP warning).
        (["report", "--quick", "--notebook", "02_scaling"], "*/02_scaling/bench-*/INCOMPLETE", signal.SIGINT),
    ],
    ids=["bench-SIGTERM", "try-SIGINT", "loadtest-SIGTERM", "report-SIGINT"],
)
def test_a_stopped_run_stays_incomplete_and_leaves_no_process(
    short_parent: Path, tmp_path: Path, command: list[str], started: str, sent: signal.Signals
) -> None:
    pgdata, output = short_parent / "pg", tmp_path / "results"
    env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
    run = subprocess.Popen(
        [sys.executable, "-m", "evaluation", *command, "--output", str(output)],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # a shell's background job ignores it
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(output.glob(started)) and time.monotonic() < deadline:
        time.sleep(0.5)  # seeding, then the run directory: the measuring has begun
    assert list(output.glob(started)), f"{command[0]} never started measuring"
    time.sleep(2)
    os.killpg(run.pid, sent)  # the whole group, as a terminal's Ctrl-C or a supervisor's stop
    _, err = run.communicate(timeout=60)
    code, word = STOPPED[sent]
    assert run.returncode == code, err[-2000:]
    assert err.strip() == word, err[-2000:]
    (directory,) = output.iterdir()
    assert (directory / "INCOMPLETE").exists()
    for results in directory.rglob("results.json"):  # a bench's, also inside a report's notebook
        assert json.loads(results.read_text())["complete"] is False
    stopped = time.monotonic() + 10
    while (_postmaster(pgdata) is not None or _kit_processes(pgdata)) and time.monotonic() < stopped:
        time.sleep(0.5)
    assert not _kit_processes(pgdata), "a process of the stopped run is still running"
    assert _postmaster(pgdata) is None, "the server the stopped run started is still up"


def _kit_processes(pgdata: Path) -> list[psutil.Process]:
    """Python processes still running for a scratch server's runs: kernels (sessions of their own),
    serving processes, probes."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if "python" in " ".join(process.info["cmdline"] or ()) and process.environ().get("PERFKIT_PGDATA") == str(
                pgdata
            ):
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_a_damaged_data_directory_is_one_line_and_a_reset_starts_afresh(short_parent: Path) -> None:
    pgdata = short_parent / "pg"
    assert _kit(pgdata, "from perfkit.data import server\nserver.resolve_server()").wait(timeout=120) == 0
    (pgdata / "PG_VERSION").unlink()

    def kit(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
        command = [sys.executable, "-m", "evaluation", *args]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)

    damaged = kit("seed", "small")
    assert damaged.returncode == 4, damaged.stderr
    assert damaged.stderr.count("\n") == 1, damaged.stderr
    assert "is damaged (PG_VERSION missing)" in damaged.stderr
    assert "perfkit datasets --reset-server" in damaged.stderr
    assert "initdb" not in damaged.stderr
    reset = kit("datasets", "--reset-server")
    assert reset.returncode == 0, reset.stderr
    assert not pgdata.exists()
    assert _kit(pgdata, "from perfkit.data import server\nserver.resolve_server()").wait(timeout=120) == 0
    assert (pgdata / "PG_VERSION").is_file(), "the next plain run started a fresh server"
    assert _postmaster(pgdata) is None


def test_a_running_server_is_not_reset(short_parent: Path) -> None:
    pgdata = short_parent / "pg"
    # Holds the server until its stdin closes, then exits as a kit process does, stopping it.
    code = "import sys\nfrom perfkit.data import server\nserver.resolve_server()\nsys.stdin.read()"
    holder = _kit(pgdata, code, stdin=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while _postmaster(pgdata) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
        refused = subprocess.run(
            [sys.executable, "-m", "evaluation", "datasets", "--reset-server"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert refused.returncode == 4, refused.stderr
        assert "is running on" in refused.stderr
        assert (pgdata / "PG_VERSION").is_file()
    finally:
        holder.communicate(input="", timeout=60)
    assert _postmaster(pgdata) is None


def test_a_server_killed_mid_bench_is_the_kits_one_line_and_the_next_run_works(
    short_parent: Path, tmp_path: Path
) -> None:
    """The probe: the postmaster SIGKILLed while the latencies are taken. The run names the cause in one
    line (exit 4), stays INCOMPLETE and leaves no process; the wheel's exit clean-up, which would try to
    stop the missing server, says nothing; the next run starts the server again."""
    pgdata, output = short_parent / "pg", tmp_path / "results"
    env = {**os.environ, "PERFKIT_PGDATA": str(pgdata)}
    run = subprocess.Popen(
        [sys.executable, "-m", "evaluation", "bench", "--quick", "--output", str(output)],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not list(output.glob("bench-*/INCOMPLETE")) and time.monotonic() < deadline:
        time.sleep(0.5)
    postmaster = _postmaster(pgdata)
    assert postmaster is not None, "the bench never started measuring"
    time.sleep(2)
    postmaster.kill()
    _, err = run.communicate(timeout=120)
    assert run.returncode == 4, err[-2000:]
    assert err.count("\n") == 1, err[-2000:]
    assert err.startswith("error: the embedded PostgreSQL stopped during the run: "), err
    (directory,) = output.iterdir()
    assert (directory / "INCOMPLETE").exists()
    stopped = time.monotonic() + 10
    while _kit_processes(pgdata) and time.monotonic() < stopped:
        time.sleep(0.5)
    assert not _kit_processes(pgdata), "a process of the failed run is still running"
    again = subprocess.run(
        [sys.executable, "-c", "from perfkit.data import server\nwith server.connect(server.resolve_server().dsn) "
         "as conn:\n    print(conn.execute('SELECT 41 + 1').fetchone()[0])"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert (again.returncode, again.stdout) == (0, "42\n"), again.stderr
