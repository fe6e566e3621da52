"""Against a database holding someone else's data, as a role with only the grants a team would give:
nothing outside the kit's schemas changes, and the password reaches no file and no output."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from perfkit.commands.cli import main
from perfkit.data import server as db
from tests.conftest import LONGEST_FIRST, conninfo_of
from tests.owner_data import SENTINELS, checksums

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
GENERATED_PASSWORD = "Pw-" + secrets.token_hex(8)


@dataclass(frozen=True)
class Foreign:
    """Where someone else's data lives, and how the kit reaches it: a DSN with a password."""

    dsn: str
    schema: str
    password_enforced: bool
    observer: str  # who takes the snapshots: the owner of everything, when the kit's role is restricted


def _password(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("password") or "")


def _with(dsn: str, **changes: str) -> str:
    params = {k: v for k, v in conninfo_to_dict(dsn).items() if v is not None}
    return make_conninfo("", **{k: str(v) for k, v in {**params, **changes}.items()})


@pytest.fixture(scope="module")
def foreign(server: db.ServerTarget) -> Iterator[Foreign]:
    """Someone else's data, reached as a role with a password: on the embedded server a restricted role
    (no CREATEDB) whose password the server really checks; through DATABASE_URL a scratch database
    where the role may create one, else a scratch schema in its own database."""
    with db.connect(server.dsn, autocommit=True) as admin:
        row = admin.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    if server.embedded:
        yield from _restricted_role(server)
    elif row is not None and row[0]:
        yield from _scratch_database(server)
    else:
        yield from _scratch_schema(server)


def _restricted_role(server: db.ServerTarget) -> Iterator[Foreign]:
    name = f"perfkit_safety_{secrets.token_hex(4)}"
    with db.connect(server.dsn, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB NOSUPERUSER PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(GENERATED_PASSWORD)
            )
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        admin.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(*[sql.Identifier(name)] * 2))
        row = admin.execute("SHOW hba_file").fetchone()
        assert row is not None
        hba = Path(row[0])
        original = hba.read_text()
        hba.write_text(f"local all {name} scram-sha-256\n{original}")  # this role's password is checked
        admin.execute("SELECT pg_reload_conf()")
    try:
        with db.connect(_with(server.dsn.reveal(), dbname=name), autocommit=True) as owner:
            owner.execute(SENTINELS.format(schema="public"))
            owner.execute(sql.SQL("GRANT SELECT ON public.events TO {}").format(sql.Identifier(name)))
        yield Foreign(
            _with(server.dsn.reveal(), dbname=name, user=name, password=GENERATED_PASSWORD),
            "public",
            True,
            _with(server.dsn.reveal(), dbname=name),
        )
    finally:
        hba.write_text(original)
        with db.connect(server.dsn, autocommit=True) as admin:
            admin.execute("SELECT pg_reload_conf()")
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _scratch_database(server: db.ServerTarget) -> Iterator[Foreign]:
    name = f"perfkit_safety_{secrets.token_hex(4)}"
    with db.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = server.dsn.reveal()
    try:
        with db.connect(_with(dsn, dbname=name), autocommit=True) as owner:
            owner.execute(SENTINELS.format(schema="public"))
        foreign_dsn = _with(dsn, dbname=name, password=_password(dsn) or GENERATED_PASSWORD)
        yield Foreign(foreign_dsn, "public", False, foreign_dsn)
    finally:
        with db.connect(server.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _scratch_schema(server: db.ServerTarget) -> Iterator[Foreign]:
    schema = f"safety_{secrets.token_hex(4)}"
    with db.connect(server.dsn, autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip(
                "the role of DATABASE_URL may create neither a database nor a schema, so there is nowhere to put "
                "the sentinel data this test checks; the kit itself needs CREATE on its database"
            )
        conn.execute(SENTINELS.format(schema=sql.Identifier(schema).as_string(conn)))
    dsn = server.dsn.reveal()
    try:
        foreign_dsn = _with(dsn, password=_password(dsn) or GENERATED_PASSWORD)
        yield Foreign(foreign_dsn, schema, False, foreign_dsn)
    finally:
        with db.connect(server.dsn, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
            conn.execute("DROP SCHEMA IF EXISTS perfkit_ds_imposter CASCADE")


def _kit(args: list[str], dsn: str, tmp: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn, **extra}
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=900, check=False
    )


def _commands(schema: str) -> dict[str, tuple[list[str], int]]:
    """Every command of the CLI that reaches the server, with the exit code it should end with."""
    kit = ["-m", "evaluation"]
    return {
        "seed": ([*kit, "seed", "small"], 0),
        "compare": ([*kit, "compare", "small"], 0),
        "bench": ([*kit, "bench", "--quick", "--grid", "1000", "3000", "--no-flamegraphs", "--output", "out"], 0),
        "source": ([*kit, "bench", "--quick", "--source-schema", schema, "--grid", "2000", "--output", "out"], 0),
        "loadtest": ([*kit, "loadtest", "--quick", "--duration", "1", "--legacy-duration", "1", "--output", "out"], 0),
        "report": ([*kit, "report", "--quick", "--notebook", "01_parity", "--output", "reports"], 0),
        "try": ([*kit, "try", "float_sum", "--quick", "--output", "out"], 6),  # refused on parity, by design
        "evaluate": ([*kit, "evaluate", "--impl", "after", "--output", "evaluations"], 0),
        "datasets": ([*kit, "datasets", "--drop"], 0),
    }


def test_nothing_outside_the_kit_schemas_changes_and_no_password_leaks(foreign: Foreign, tmp_path: Path) -> None:
    password = _password(foreign.dsn)
    assert len(password) >= 8, (
        "give DATABASE_URL's role a password of 8 characters or more: a shorter one proves nothing when not found"
    )
    if foreign.password_enforced:
        with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
            psycopg.connect(_with(foreign.dsn, password="wrong-" + password)).close()
    with psycopg.connect(foreign.observer, autocommit=True) as conn:
        before = checksums(conn)
    # The suite's own tests are run against someone else's data on PostgreSQL 15 (the test below), and so
    # is `evaluate`, the task's harness (test_harness.py).
    commands = _commands(foreign.schema)
    del commands["evaluate"]
    expected = {name: code for name, (_, code) in commands.items()}
    dropping = commands.pop("datasets")
    # The other commands at once, as users of one database run them: each run in a directory of its own.
    with ThreadPoolExecutor(3) as pool:
        started = {name: pool.submit(_kit, args, foreign.dsn, tmp_path) for name, (args, _) in commands.items()}
        runs = {name: future.result() for name, future in started.items()}
    runs["datasets"] = _kit(dropping[0], foreign.dsn, tmp_path)  # last: it drops what the others seeded
    for name, completed in runs.items():
        assert completed.returncode == expected[name], (name, completed.stdout[-3000:], completed.stderr[-3000:])
    with psycopg.connect(foreign.observer, autocommit=True) as conn:
        after = checksums(conn)
        leftovers = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'perfkit\\_ds\\_%'").fetchall()
    assert after == before
    assert leftovers == [("perfkit_ds_imposter",)]  # datasets --drop removed only what the kit created
    assert f"{foreign.schema}.events" in before["sums"]
    # A table the kit did not seed is read where it lives, never copied out to count instructions.
    (source,) = [r for r in (tmp_path / "out").glob("bench-*/results.json") if foreign.schema in r.read_text()]
    assert "did not seed" in json.loads(source.read_text())["counting"]["unavailable"]
    _assert_nowhere(password, [c.stdout + c.stderr for c in runs.values()], tmp_path)


MISPLACED_SECRETS = {
    f"postgresql://u:{GENERATED_PASSWORD}@[::1": "a bracketed host is not closed",
    f"garbage password={GENERATED_PASSWORD} host": "a key=value pair lacks its '='",
    f"this is not a url {GENERATED_PASSWORD}": "a key=value pair lacks its '='",
    f"postgresql://probe:S3cret%{GENERATED_PASSWORD}@localhost/db": "a %-escape in it is invalid",
    f"postgres://u:pw {GENERATED_PASSWORD}@host/db": "it holds spaces where none may be",
}
"""Connection strings that do not parse, each holding a secret where libpq's own complaint would quote it."""


def test_a_malformed_url_is_named_by_its_shape_never_its_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every command refuses each malformed URL in one line; in this process (the refusal comes before
    any command runs), and once per URL through a process of its own, as a user's shell runs it."""
    monkeypatch.chdir(tmp_path)
    outputs = []
    for url, problem in MISPLACED_SECRETS.items():
        monkeypatch.setenv("DATABASE_URL", url)
        for name, (args, _) in _commands("public").items():
            code = main(args[2:])  # without "-m evaluation"
            stdout, stderr = capsys.readouterr()
            assert code == 2, (name, url, stderr)
            assert stderr.count("\n") == 1, (name, stderr)
            assert "DATABASE_URL is not a valid PostgreSQL connection string" in stderr
            assert f"{len(url)} characters: {problem}" in stderr, stderr
            outputs.append(stdout + stderr)
        completed = _kit(_commands("public")["bench"][0], url, tmp_path)
        assert completed.returncode == 2, (url, completed.stderr)
        assert f"{len(url)} characters: {problem}" in completed.stderr, completed.stderr
        outputs.append(completed.stdout + completed.stderr)
    _assert_nowhere(GENERATED_PASSWORD, outputs, tmp_path)


def test_a_failing_test_shows_the_server_without_its_password(foreign: Foreign, tmp_path: Path) -> None:
    test = tmp_path / "test_shows_the_server.py"
    test.write_text(
        "from perfkit.data import server as db\n\n\ndef test_fails_with_the_server_in_view():\n"
        "    server = db.resolve_server()\n    dsn = server.dsn\n    assert server is None, (server, dsn)\n"
    )
    completed = _kit(["-m", "pytest", "-p", "no:cacheprovider", "-l", "--no-header", "-o", "addopts=", str(test)],
                     foreign.dsn, tmp_path)  # fmt: skip
    assert completed.returncode == 1, completed.stdout[-2000:]
    assert "Dsn('" in completed.stdout  # the server was shown, redacted
    _assert_nowhere(_password(foreign.dsn), [completed.stdout + completed.stderr], tmp_path)


def _assert_nowhere(password: str, outputs: list[str], tmp_path: Path) -> None:
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    leaks = [p for p in files if password.encode() in p.read_bytes()]
    assert not leaks, leaks
    assert not [o for o in outputs if password in o]


def _db_suite(dsn: str, tmp: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """The suite's tests that need a server and run in seconds, through DATABASE_URL."""
    return _kit(
        ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "db and not slow", "--rootdir", str(ROOT),
         "-c", str(ROOT / "pyproject.toml"), str(ROOT / "tests")],
        dsn, tmp, **extra,
    )  # fmt: skip


@pytest.mark.db
@pytest.mark.slow
def test_on_postgres15_as_a_restricted_role_the_suite_holds_in_shuffled_order(
    postgres15: dict[str, str], tmp_path: Path
) -> None:
    """A shared PostgreSQL 15 of someone else's: a role with CREATE on its database and no CREATEDB
    runs the suite in an order of chance (the seed is in the message), and the owner's data beside it,
    including a schema named like the kit's, is left as it was, with the password in no output and no
    file; a role that may only connect gets one line and the database's exit code from the commands
    that would have to create a schema."""
    admin = conninfo_of(postgres15)
    name, reader = f"perfkit_pg15_{secrets.token_hex(4)}", f"perfkit_reader_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in (name, reader):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN NOCREATEDB NOSUPERUSER PASSWORD {}").format(
                    sql.Identifier(role), sql.Literal(GENERATED_PASSWORD)
                )
            )
        conn.execute(sql.SQL("CREATE DATABASE {} OWNER postgres").format(sql.Identifier(name)))
        conn.execute(sql.SQL("GRANT CONNECT, CREATE ON DATABASE {} TO {}").format(*map(sql.Identifier, (name, name))))
        conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(*map(sql.Identifier, (name, reader))))
    restricted = _with(admin, dbname=name, user=name, password=GENERATED_PASSWORD)
    owner = _with(admin, dbname=name)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(SENTINELS.format(schema="public"))
        before = checksums(conn)
    seed = str(secrets.randbelow(1_000_000))
    suite = _db_suite(restricted, tmp_path, PERFKIT_TEST_ORDER_SEED=seed)
    assert suite.returncode == 0, (f"PERFKIT_TEST_ORDER_SEED={seed}", suite.stdout[-3000:], suite.stderr[-2000:])
    assert " passed" in suite.stdout
    with psycopg.connect(owner, autocommit=True) as conn:
        assert checksums(conn) == before
    _assert_nowhere(GENERATED_PASSWORD, [suite.stdout + suite.stderr], tmp_path)
    only_connects = _with(admin, dbname=name, user=reader, password=GENERATED_PASSWORD)
    for args in (["seed", "small"], ["evaluate", "--impl", "after", "--output", "evaluations"]):
        completed = _kit(["-m", "evaluation", *args], only_connects, tmp_path)
        assert completed.returncode == 4, (args, completed.stderr[-2000:])
        assert completed.stderr.count("\n") == 1, completed.stderr
        assert "Traceback" not in completed.stderr
        assert GENERATED_PASSWORD not in completed.stdout + completed.stderr


def test_the_files_started_first_exist() -> None:
    """A renamed file would silently lose its place at the front, and the suite its balance."""
    assert [name for name in LONGEST_FIRST if not (ROOT / name).is_file()] == []


SHUFFLED = ["tests/test_cli.py", "tests/test_layout.py", "notebooks/01_parity.ipynb", "notebooks/02_scaling.ipynb"]
"""Enough of the suite to shuffle: test files, and notebooks whose cells must stay in order."""


def test_a_seed_shuffles_the_order_of_the_tests_and_keeps_notebook_cells_in_order() -> None:
    def collected(**extra: str) -> list[str]:
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *SHUFFLED],
            cwd=ROOT, env={**os.environ, **extra}, capture_output=True, text=True, timeout=300, check=True,
        )  # fmt: skip
        return [line for line in completed.stdout.splitlines() if "::" in line]

    plain, shuffled = collected(), collected(PERFKIT_TEST_ORDER_SEED="7")
    assert sorted(plain) == sorted(shuffled)
    assert plain != shuffled
    assert collected(PERFKIT_TEST_ORDER_SEED="7") == shuffled  # a seed replays its order
    cells = [item for item in shuffled if item.startswith("notebooks/02_scaling.ipynb::")]
    assert cells == [item for item in plain if item.startswith("notebooks/02_scaling.ipynb::")]
    start = shuffled.index(cells[0])
    assert shuffled[start : start + len(cells)] == cells


SECOND_SESSION_WRITER = '''"""Agrees with the legacy version; each call writes a row through a session of its own."""
import psycopg

import repository_after


def fetch_user_activity_summary(conn, user_id):
    with psycopg.connect(conn.info.dsn, password=conn.info.password, autocommit=True) as other:
        other.execute("INSERT INTO {table} VALUES (1)")
    return repository_after.fetch_user_activity_summary(conn, user_id)
'''


def test_a_candidate_writing_through_a_session_of_its_own_is_refused_naming_the_rows(
    foreign: Foreign, tmp_path: Path
) -> None:
    """Where the kit may not create a read-only role (any DATABASE_URL), a Python candidate runs as
    the kit's role: what it writes outside the kit's schemas is detected and refuses it (exit 9)."""
    schema = f"ledgers_{secrets.token_hex(4)}"
    with psycopg.connect(foreign.dsn, autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        owner.execute(sql.SQL("CREATE TABLE {}.ledger (i int)").format(sql.Identifier(schema)))
    try:
        candidate = tmp_path / "ledger_writer.py"
        candidate.write_text(SECOND_SESSION_WRITER.format(table=f"{schema}.ledger"))
        completed = _kit(
            ["-m", "evaluation", "try", str(candidate), "--quick", "--output", "out"], foreign.dsn, tmp_path
        )
        assert completed.returncode == 9, completed.stderr[-2000:]
        assert completed.stderr.count("\n") == 1, completed.stderr
        assert f"{candidate}: changed the database while it ran: wrote " in completed.stderr
        assert f" of {schema}.ledger (or another client did)" in completed.stderr
        assert not (tmp_path / "out").exists()
    finally:
        with psycopg.connect(foreign.dsn, autocommit=True) as owner:
            owner.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
