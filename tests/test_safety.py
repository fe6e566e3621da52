"""Against a database holding someone else's data: nothing outside the kit's schemas changes,
and a password in DATABASE_URL never reaches a file or an output."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from evaluation import db

pytestmark = [pytest.mark.db, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
GENERATED_PASSWORD = "Pw-" + secrets.token_hex(8)
SNAPSHOT = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%'
  AND (n.nspname NOT LIKE 'perfkit\\_%%' OR n.nspname = 'perfkit_ds_imposter')
ORDER BY 1, 2
"""


def _checksums(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    objects = conn.execute(SNAPSHOT).fetchall()
    sums = {}
    for schema, name, kind in objects:
        if kind == "r":
            table = sql.Identifier(schema, name)
            row = conn.execute(sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t").format(table))
            sums[f"{schema}.{name}"] = row.fetchone()
    return {"objects": objects, "sums": sums}


def _password(dsn: str) -> str:
    return str(conninfo_to_dict(dsn).get("password") or "")


@pytest.fixture(scope="module")
def foreign_dsn(server: db.ServerTarget) -> Iterator[str]:
    """A scratch database shaped like a user's: public.events full of sentinel rows, another table,
    and a perfkit_-named schema the kit never created. The DSN carries a password: the server's
    own if it has one, else a generated one (the embedded server trusts local connections)."""
    name = f"perfkit_safety_{secrets.token_hex(4)}"
    with db.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = {k: v for k, v in conninfo_to_dict(server.dsn).items() if v is not None}
    params.update(dbname=name, password=_password(server.dsn) or GENERATED_PASSWORD)
    dsn = make_conninfo("", **{k: str(v) for k, v in params.items()})
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE public.events (id BIGINT NOT NULL, user_id BIGINT NOT NULL, type VARCHAR(32) NOT NULL,"
            " metadata JSONB DEFAULT '{}'::jsonb, PRIMARY KEY (id, user_id))"
        )
        conn.execute(
            "INSERT INTO public.events SELECT i, 1 + (i % 2), (ARRAY['click','view','purchase'])[1 + i % 3],"
            " jsonb_build_object('price', i, 'sentinel', true) FROM generate_series(1, 4000) i"
        )
        conn.execute("CREATE TABLE public.accounts (id int PRIMARY KEY, owner text)")
        conn.execute("INSERT INTO public.accounts VALUES (1, 'alice'), (2, 'bob')")
        conn.execute("CREATE SCHEMA perfkit_ds_imposter")
        conn.execute("CREATE TABLE perfkit_ds_imposter.events (id int)")
    yield dsn
    with db.connect(server.dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def _kit(args: list[str], dsn: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": dsn}
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=900, check=False
    )


def test_nothing_outside_the_kit_schemas_changes_and_no_password_leaks(foreign_dsn: str, tmp_path: Path) -> None:
    with psycopg.connect(foreign_dsn, autocommit=True) as conn:
        before = _checksums(conn)
    runs = {
        "tests": _kit(
            ["-m", "pytest", "-p", "no:cacheprovider", "-q", "-m", "db and not slow", "--rootdir", str(ROOT),
             "-c", str(ROOT / "pyproject.toml"), str(ROOT / "tests")],
            foreign_dsn,
            tmp_path,
        ),
        "bench": _kit(
            ["-m", "evaluation", "bench", "--quick", "--no-flamegraphs", "--output", "out"], foreign_dsn, tmp_path
        ),
        "source": _kit(
            ["-m", "evaluation", "bench", "--quick", "--source-schema", "public", "--grid", "2000", "--output", "out"],
            foreign_dsn,
            tmp_path,
        ),
        "report": _kit(
            ["-m", "evaluation", "report", "--quick", "--notebook", "01_parity", "--output", "reports"],
            foreign_dsn,
            tmp_path,
        ),
        "drop": _kit(["-m", "evaluation", "datasets", "--drop"], foreign_dsn, tmp_path),
    }  # fmt: skip
    for name, completed in runs.items():
        assert completed.returncode == 0, (name, completed.stdout[-3000:], completed.stderr[-3000:])
    with psycopg.connect(foreign_dsn, autocommit=True) as conn:
        after = _checksums(conn)
        leftovers = conn.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'perfkit\\_ds\\_%'").fetchall()
    assert after == before
    assert leftovers == [("perfkit_ds_imposter",)]  # datasets --drop removed only what the kit created
    assert "public.events" in before["sums"]

    password = _password(foreign_dsn)
    assert len(password) >= 8
    outputs = [c.stdout + c.stderr for c in runs.values()]
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "report.json" for p in files)
    assert any(p.name == "results.json" for p in files)
    leaks = [p for p in files if password.encode() in p.read_bytes()]
    assert not leaks, leaks
    assert not [o for o in outputs if password in o]
