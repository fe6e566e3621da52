"""Running both versions changes neither the schema nor the indexes of the table they read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import repository_after
import repository_before
from perfkit.data.datasets import Dataset

pytestmark = pytest.mark.db

CATALOG_SNAPSHOT = """
SELECT json_build_object(
  'columns', (SELECT json_agg(json_build_array(attname, format_type(atttypid, atttypmod),
                       attnotnull, pg_get_expr(d.adbin, d.adrelid)) ORDER BY attnum)
              FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
              WHERE attrelid = %(rel)s::regclass AND attnum > 0 AND NOT attisdropped),
  'indexes', (SELECT json_agg(pg_get_indexdef(indexrelid) ORDER BY indexrelid::regclass::text)
              FROM pg_index WHERE indrelid = %(rel)s::regclass),
  'constraints', (SELECT json_agg(pg_get_constraintdef(oid) ORDER BY conname)
                  FROM pg_constraint WHERE conrelid = %(rel)s::regclass),
  'relations', (SELECT json_agg(relname ORDER BY relname) FROM pg_class c
                JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = %(schema)s)
)::text
"""


def _snapshot(conn: psycopg.Connection[Any], schema: str) -> str:
    with conn.cursor() as cur:
        cur.execute(CATALOG_SNAPSHOT, {"rel": f"{schema}.events", "schema": schema})
        row = cur.fetchone()
    assert row is not None
    return str(row[0])


def test_schema_and_indexes_identical_after_many_runs(
    seeded: Callable[[str], Dataset],
    connect_to: Callable[[str], psycopg.Connection[Any]],
    admin_conn: psycopg.Connection[Any],
) -> None:
    dataset = seeded("small")
    before = _snapshot(admin_conn, dataset.schema)
    assert '"PRIMARY KEY (id, user_id)"' in before
    assert before.count("CREATE UNIQUE INDEX") == 1
    assert "CREATE INDEX" not in before
    conn = connect_to(dataset.schema)
    for _ in range(25):
        for user_id in dataset.instance.keys:
            repository_before.fetch_user_activity_summary(conn, user_id)
            repository_after.fetch_user_activity_summary(conn, user_id)
    conn.commit()
    assert _snapshot(admin_conn, dataset.schema) == before


def test_table_is_created_exactly_as_production_has_it(
    seeded: Callable[[str], Dataset], admin_conn: psycopg.Connection[Any]
) -> None:
    snapshot = _snapshot(admin_conn, seeded("small").schema)
    assert (
        '"columns" : [["id", "bigint", true, null], ["user_id", "bigint", true, null], '
        '["type", "character varying(32)", true, null], ["metadata", "jsonb", false, "\'{}\'::jsonb"]]'
    ) in snapshot
