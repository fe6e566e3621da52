"""Two kit runs at once, from one checkout or one database: both finish, or one refuses in one line;
neither breaks the other's datasets or run directories."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from perfkit.data import server as db
from perfkit.data.datasets import (
    REGISTRY_SCHEMA,
    Dataset,
    dataset_schema,
    drop_dataset_schema,
    owned_schemas,
    seed_dataset,
)
from perfkit.data.instances import literal_instance
from perfkit.record.runs import INCOMPLETE

ROOT = Path(__file__).resolve().parents[1]


def _instance(label: str, events: int = 500) -> object:
    return literal_instance(
        f"{label}_{secrets.token_hex(3)}", {"events": [{"id": i, "user_id": 1, "type": "view"} for i in range(events)]}
    )


def _seed_twice_at_once(dsn: str, instance: object) -> list[bool]:
    """Two sessions seed the same dataset, released together: which one loads is up to the server."""
    start = threading.Barrier(2)

    def seed() -> bool:
        with db.connect(dsn, autocommit=True) as conn:
            start.wait(timeout=60)
            return seed_dataset(conn, instance, progress=False).reused  # type: ignore[arg-type]

    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(seed) for _ in range(2)]
        return sorted(future.result(timeout=300) for future in futures)


@pytest.mark.db
def test_two_sessions_seeding_one_dataset_load_it_once(server: db.ServerTarget) -> None:
    instance = _instance("seedtest_concurrent")
    try:
        assert _seed_twice_at_once(server.dsn.reveal(), instance) == [False, True]
    finally:
        with db.connect(server.dsn, autocommit=True) as conn:
            drop_dataset_schema(conn, dataset_schema(instance), missing_ok=True)  # type: ignore[arg-type]


@pytest.fixture
def fresh_database(server: db.ServerTarget) -> Iterator[str]:
    """A database the kit has never used (no registry yet), where the kit's role may create one."""
    with db.connect(server.dsn, autocommit=True) as admin:
        row = admin.execute("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
        if not (row and row[0]):
            pytest.skip("the kit's role may not create databases here (the suite runs in its one database)")
        name = f"perfkit_fresh_{secrets.token_hex(4)}"
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params = {k: str(v) for k, v in conninfo_to_dict(server.dsn.reveal()).items() if v is not None}
    try:
        yield make_conninfo("", **{**params, "dbname": name})
    finally:
        with db.connect(server.dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.db
def test_two_first_runs_on_a_database_create_the_registry_once(fresh_database: str) -> None:
    """The registry is created by whichever run comes first; the other waits for it instead of failing
    on a duplicate catalog entry (CREATE ... IF NOT EXISTS does not serialize concurrent creators)."""
    for _ in range(5):
        instance = _instance("first_runs", events=50)
        assert _seed_twice_at_once(fresh_database, instance) == [False, True]
        with db.connect(fresh_database, autocommit=True) as conn:
            assert dataset_schema(instance) in owned_schemas(conn)  # type: ignore[arg-type]
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(REGISTRY_SCHEMA)))
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(dataset_schema(instance))))  # type: ignore[arg-type]


@pytest.mark.db
@pytest.mark.slow
def test_two_benches_from_one_checkout_at_once_both_finish_in_runs_of_their_own(tmp_path: Path) -> None:
    """Same checkout, same second, same output folder: each run gets its own directory, and both
    complete with their own records (two sizes; the counting copy two runs share is
    test_instructions' own test, so these runs leave valgrind out)."""
    command = [
        sys.executable, "-m", "evaluation", "bench", "--quick", "--grid", "1000", "3000",
        "--no-memory", "--no-concurrency", "--no-instructions", "--output", str(tmp_path / "runs"),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONWARNINGS": "error"}
    runs = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=900) for run in runs]
    for run, (_, err) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, err[-2000:]
    directories = sorted(path for path in (tmp_path / "runs").iterdir() if path.is_dir())
    assert len(directories) == 2, directories
    for directory in directories:
        assert not (directory / INCOMPLETE).exists()
        record = json.loads((directory / "results.json").read_text())
        assert record["complete"] is True
        assert record["latency"], directory
        assert record["serial_plans"], directory


@pytest.mark.db
def test_a_dataset_another_test_dropped_is_seeded_again(
    seeded: Callable[[str], Dataset], admin_conn: psycopg.Connection[Any]
) -> None:
    # On a database the suite shares (a DATABASE_URL whose role may not create databases), a test
    # of `datasets --drop` drops every kit dataset; a dataset remembered from earlier named a schema
    # that was gone (PostgreSQL 15, shuffled seed 777).
    first = seeded("small")
    drop_dataset_schema(admin_conn, first.schema)
    again = seeded("small")
    assert again.schema == first.schema
    assert not again.reused
    count = admin_conn.execute(sql.SQL("SELECT count(*) FROM {}.events").format(sql.Identifier(again.schema)))
    assert count.fetchone() == (again.instance.total_rows,)
