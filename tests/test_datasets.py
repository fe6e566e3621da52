"""Seeding: COPY into a kit schema, marked complete only after commit, reused, rebuilt, owned."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import psycopg
import pytest
from psycopg import sql

from perfkit.data import server as db
from perfkit.data.datasets import (
    REGISTRY_SCHEMA,
    Dataset,
    dataset_schema,
    drop_dataset_schema,
    owned_schemas,
    seed_dataset,
)
from perfkit.data.instances import Instance, literal_instance
from perfkit.errors import OwnershipError

pytestmark = pytest.mark.db


def _instance(tag: str) -> Instance:
    return literal_instance(f"seedtest_{tag}", {"events": [{"id": 1, "user_id": 7, "type": "click"}]})


def _count(conn: psycopg.Connection[Any], schema: str) -> int:
    row = conn.execute(sql.SQL("SELECT count(*) FROM {}.events").format(sql.Identifier(schema))).fetchone()
    assert row is not None
    return int(row[0])


def test_seed_marks_complete_then_reuses(
    admin_conn: psycopg.Connection[Any], fresh_dataset: Callable[[Instance], Dataset]
) -> None:
    instance = _instance("reuse")
    first = fresh_dataset(instance)
    assert not first.reused
    assert owned_schemas(admin_conn)[first.schema] is True
    second = seed_dataset(admin_conn, instance, progress=False)
    assert second.reused
    assert _count(admin_conn, first.schema) == 1


def test_incomplete_dataset_is_rebuilt(
    admin_conn: psycopg.Connection[Any], fresh_dataset: Callable[[Instance], Dataset]
) -> None:
    dataset = fresh_dataset(_instance("rebuild"))
    # Simulate a run that died after its load committed but before it was marked complete.
    admin_conn.execute(
        sql.SQL("UPDATE {}.owned_schemas SET completed_at = NULL WHERE schema_name = %s").format(
            sql.Identifier(REGISTRY_SCHEMA)
        ),
        (dataset.schema,),
    )
    admin_conn.execute(sql.SQL("INSERT INTO {}.events VALUES (99, 7, 'junk')").format(sql.Identifier(dataset.schema)))
    rebuilt = seed_dataset(admin_conn, dataset.instance, progress=False)
    assert not rebuilt.reused
    assert _count(admin_conn, dataset.schema) == 1


def test_failed_load_leaves_nothing_behind(admin_conn: psycopg.Connection[Any]) -> None:
    instance = literal_instance("seedtest_fail", {"events": [{"id": 1, "user_id": 1, "type": "x"}]})
    broken = Instance(
        name=instance.name,
        description="",
        source="<broken>",
        body=replace(instance.body, events=((1, 1, "x", "{not json"),)),  # type: ignore[type-var]
        subject=instance.subject,
        fingerprint=instance.fingerprint,
    )
    with pytest.raises(psycopg.errors.InvalidTextRepresentation):
        seed_dataset(admin_conn, broken, progress=False)
    schema = dataset_schema(broken)
    assert schema not in owned_schemas(admin_conn)
    assert admin_conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None


def test_refuses_to_drop_what_it_did_not_create(admin_conn: psycopg.Connection[Any]) -> None:
    stranger = "perfkit_ds_not_ours_000000000000"
    admin_conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(stranger)))
    try:
        with pytest.raises(OwnershipError, match="no record of creating it"):
            drop_dataset_schema(admin_conn, stranger)
        with pytest.raises(OwnershipError, match="not a kit dataset schema"):
            drop_dataset_schema(admin_conn, "public")
        assert admin_conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (stranger,)).fetchone()
    finally:
        admin_conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(stranger)))


def test_seed_needs_autocommit(server: Any) -> None:
    with db.connect(server.dsn) as conn, pytest.raises(ValueError, match="autocommit"):
        seed_dataset(conn, _instance("tx"), progress=False)
