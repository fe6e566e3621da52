"""Someone else's data beside the kit's, and a snapshot of it: what the kit must leave as it was."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

SNAPSHOT = """
SELECT n.nspname, c.relname, c.relkind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND n.nspname NOT LIKE 'pg_temp%%' AND n.nspname NOT LIKE 'pg_toast_temp%%'
  AND (n.nspname NOT LIKE 'perfkit\\_%%' OR n.nspname = 'perfkit_ds_imposter')
ORDER BY 1, 2
"""
SENTINELS = """
CREATE TABLE {schema}.events (id BIGINT NOT NULL, user_id BIGINT NOT NULL, type VARCHAR(32) NOT NULL,
    metadata JSONB DEFAULT '{{}}'::jsonb, PRIMARY KEY (id, user_id));
INSERT INTO {schema}.events SELECT i, 1 + (i % 2), (ARRAY['click','view','purchase'])[1 + i % 3],
    jsonb_build_object('price', i, 'sentinel', true) FROM generate_series(1, 4000) i;
CREATE TABLE {schema}.accounts (id int PRIMARY KEY, owner text);
INSERT INTO {schema}.accounts VALUES (1, 'alice'), (2, 'bob');
CREATE SCHEMA perfkit_ds_imposter;
CREATE TABLE perfkit_ds_imposter.events (id int);
"""


def checksums(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Every relation outside the kit's schemas (the imposter named like one included), and each table's rows
    as a digest."""
    objects = conn.execute(SNAPSHOT).fetchall()
    sums = {}
    for schema, name, kind in objects:
        if kind == "r":
            table = sql.Identifier(schema, name)
            row = conn.execute(sql.SQL("SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {} t").format(table))
            sums[f"{schema}.{name}"] = row.fetchone()
    return {"objects": objects, "sums": sums}
