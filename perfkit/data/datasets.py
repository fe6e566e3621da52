"""Datasets in the database: one kit-owned schema per instance, seeded with COPY.

Every object the kit creates lives in a schema whose name starts with ``KIT_PREFIX`` and is
recorded in the registry table; the kit drops only schemas it finds there. A dataset counts
as complete only once its load has committed and its row is marked complete, so a run that
died half-way is rebuilt, never reused.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo
from tqdm import tqdm

from perfkit.data.instances import Instance
from perfkit.data.server import Dsn, DsnLike, plain
from perfkit.errors import ConfigurationError, DatabaseError, OwnershipError

KIT_PREFIX = "perfkit_"
REGISTRY_SCHEMA = "perfkit_registry"
EVENTS_DDL = """
CREATE TABLE {schema}.events (
    id BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    type VARCHAR(32) NOT NULL,
    metadata JSONB DEFAULT '{{}}'::jsonb,
    PRIMARY KEY (id, user_id)
)
"""
_COPY_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Dataset:
    """A seeded instance: where it lives and what it holds."""

    instance: Instance
    schema: str
    rows: int
    reused: bool
    seconds: float

    def user_without_events(self) -> int:
        """A user id just below the smallest one the dataset holds: a cheap call that finds no rows."""
        user = min(self.instance.event_counts, default=1) - 1
        while user in self.instance.event_counts:
            user -= 1
        return user


def dataset_schema(instance: Instance) -> str:
    slug = re.sub(r"[^a-z0-9_]", "_", instance.name.lower())[:30]
    return f"{KIT_PREFIX}ds_{slug}_{instance.fingerprint}"


def ensure_registry(conn: psycopg.Connection[Any]) -> None:
    """Create the kit's registry of owned schemas if absent (in the kit's own schema). Two first runs on
    one database take turns: ``CREATE ... IF NOT EXISTS`` alone lets both create and one fail."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (REGISTRY_SCHEMA,))
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(REGISTRY_SCHEMA)))
        except psycopg.errors.InsufficientPrivilege as exc:
            role, database = conn.info.user, conn.info.dbname
            raise DatabaseError(
                f"role {role} may not create schemas in database {database}, and the kit keeps its datasets in "
                f"schemas of its own: GRANT CREATE ON DATABASE {database} TO {role}, or name a database where it may"
            ) from exc
        conn.execute(
            sql.SQL(
                """CREATE TABLE IF NOT EXISTS {}.owned_schemas (
                    schema_name text PRIMARY KEY,
                    instance text NOT NULL,
                    fingerprint text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    completed_at timestamptz
                )"""
            ).format(sql.Identifier(REGISTRY_SCHEMA))
        )


def owned_schemas(conn: psycopg.Connection[Any]) -> dict[str, bool]:
    """Schemas the kit created, with whether their load completed."""
    if not _schema_exists(conn, REGISTRY_SCHEMA):
        return {}
    with conn.transaction():
        rows = conn.execute(
            sql.SQL("SELECT schema_name, completed_at IS NOT NULL FROM {}.owned_schemas").format(
                sql.Identifier(REGISTRY_SCHEMA)
            )
        ).fetchall()
    return {name: complete for name, complete in rows}


def seed_dataset(conn: psycopg.Connection[Any], instance: Instance, *, progress: bool = True) -> Dataset:
    """Make ``instance`` available in its kit schema, reusing a complete load.

    ``conn`` must be in autocommit mode (VACUUM cannot run in a transaction). Concurrent
    callers for the same dataset wait on an advisory lock, then reuse the first one's load.
    """
    if not conn.autocommit:
        raise ValueError("seed_dataset needs an autocommit connection")
    schema = dataset_schema(instance)
    started = time.perf_counter()
    ensure_registry(conn)
    with _advisory_lock(conn, schema):
        if owned_schemas(conn).get(schema):
            return Dataset(instance, schema, instance.total_events, True, time.perf_counter() - started)
        drop_dataset_schema(conn, schema, missing_ok=True)
        _load(conn, instance, schema, progress=progress)
        conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}.events").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("UPDATE {}.owned_schemas SET completed_at = now() WHERE schema_name = %s").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            (schema,),
        )
    return Dataset(instance, schema, instance.total_events, False, time.perf_counter() - started)


def _load(conn: psycopg.Connection[Any], instance: Instance, schema: str, *, progress: bool) -> None:
    """Create the schema and the table and COPY the rows, all in one transaction."""
    ident = sql.Identifier(schema)
    bar = tqdm(
        total=instance.total_events,
        desc=f"seeding {instance.name}",
        unit="row",
        unit_scale=True,
        disable=not progress,
    )
    with bar, conn.transaction():
        conn.execute(
            sql.SQL("INSERT INTO {}.owned_schemas (schema_name, instance, fingerprint) VALUES (%s, %s, %s)").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            (schema, instance.name, instance.fingerprint),
        )
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(ident))
        conn.execute(sql.SQL(EVENTS_DDL).format(schema=ident))
        copy_sql = sql.SQL("COPY {}.events (id, user_id, type, metadata) FROM STDIN").format(ident)
        with conn.cursor() as cur, cur.copy(copy_sql) as copy:
            pending = 0
            for row in instance.rows():
                copy.write_row(row)
                pending += 1
                if pending == _COPY_BATCH_ROWS:
                    bar.update(pending)
                    pending = 0
            bar.update(pending)


def drop_dataset_schema(conn: psycopg.Connection[Any], schema: str, *, missing_ok: bool = False) -> None:
    """Drop a dataset schema, but only one that the kit's registry says the kit created."""
    if not schema.startswith(KIT_PREFIX) or schema == REGISTRY_SCHEMA:
        raise OwnershipError(f"refusing to drop schema {schema!r}: it is not a kit dataset schema")
    registered = schema in owned_schemas(conn)
    exists = _schema_exists(conn, schema)
    if exists and not registered:
        raise OwnershipError(
            f"schema {schema!r} exists but the kit's registry has no record of creating it; "
            "the kit leaves it alone: drop or rename it yourself if it is disposable"
        )
    if not registered:
        if missing_ok:
            return
        raise ConfigurationError(f"no dataset {schema!r} was seeded: nothing to drop (see `datasets` for the list)")
    with conn.transaction():
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL("DELETE FROM {}.owned_schemas WHERE schema_name = %s").format(sql.Identifier(REGISTRY_SCHEMA)),
            (schema,),
        )


def _schema_exists(conn: psycopg.Connection[Any], schema: str) -> bool:
    with conn.transaction():
        row = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    return row is not None


@contextmanager
def _advisory_lock(conn: psycopg.Connection[Any], key: str) -> Iterator[None]:
    conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))


def use_dataset(conn: psycopg.Connection[Any], schema: str) -> None:
    """Point ``conn``'s search_path at a dataset so unqualified ``events`` resolves there."""
    with conn.transaction():
        conn.execute("SELECT set_config('search_path', %s, false)", (sql.Identifier(schema).as_string(conn),))


EXPECTED_COLUMNS = [
    ("id", "bigint", True),
    ("user_id", "bigint", True),
    ("type", "character varying(32)", True),
    ("metadata", "jsonb", False),
]


def verify_events_table(conn: psycopg.Connection[Any], schema: str) -> None:
    """Refuse, naming the difference, an ``events`` table whose columns or key differ from production's."""
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        relation = conn.execute("SELECT to_regclass(format('%%I.events', %s::text))", (schema,)).fetchone()
        if relation is None or relation[0] is None:
            raise ConfigurationError(f"there is no table {schema}.events (check --source-schema and the search rights)")
        columns = conn.execute(
            """SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
               WHERE attrelid = format('%%I.events', %s::text)::regclass AND attnum > 0 AND NOT attisdropped
               ORDER BY attnum""",
            (schema,),
        ).fetchall()
        primary_key = conn.execute(
            """SELECT pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = format('%%I.events', %s::text)::regclass AND contype = 'p'""",
            (schema,),
        ).fetchone()
    found = {name: (kind, not_null) for name, kind, not_null in columns}
    problems = []
    for name, kind, not_null in EXPECTED_COLUMNS:
        if name not in found:
            problems.append(f"column {name} is missing")
        elif found[name] != (kind, not_null):
            actual_kind, actual_not_null = found[name]
            problems.append(
                f"column {name} is {actual_kind}{' NOT NULL' if actual_not_null else ''}, "
                f"expected {kind}{' NOT NULL' if not_null else ''}"
            )
    extra = sorted(set(found) - {name for name, _, _ in EXPECTED_COLUMNS})
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    if primary_key is None or primary_key[0] != "PRIMARY KEY (id, user_id)":
        found_key = primary_key[0] if primary_key else "no primary key"
        problems.append(f"{found_key}, expected PRIMARY KEY (id, user_id) (the optimized version relies on it)")
    if problems:
        raise ConfigurationError(f"{schema}.events differs from the fixed schema: " + "; ".join(problems))


def source_dataset(conn: psycopg.Connection[Any], schema: str) -> Dataset:
    """An existing ``events`` table the kit did not create, to be read and never written.

    Counting events per user scans the table once, in a read-only transaction.
    """
    started = time.perf_counter()
    verify_events_table(conn, schema)
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        counts = conn.execute(
            sql.SQL("SELECT user_id, count(*) FROM {}.events GROUP BY user_id").format(sql.Identifier(schema))
        ).fetchall()
    instance = Instance(
        name=f"source_{schema}",
        description=f"the existing table {schema}.events, read only",
        source=f"{schema}.events",
        fingerprint="source",
        observed_counts={int(user): int(count) for user, count in counts},
    )
    return Dataset(instance, schema, instance.total_events, True, time.perf_counter() - started)


def nearest_users(counts: dict[int, int], sizes: list[int]) -> dict[int, int]:
    """For each wanted size, the user whose event count is closest on a log scale: {count: user}."""
    candidates = [(count, user) for user, count in counts.items() if count > 0]
    if not candidates:
        raise ConfigurationError("the table has no events")
    chosen: dict[int, int] = {}
    for size in sizes:
        count, user = min(candidates, key=lambda c: (abs(math.log(c[0]) - math.log(size)), c[1]))
        chosen[count] = user
    return dict(sorted(chosen.items()))


def users_for_grid(instance: Instance, grid: Sequence[int]) -> dict[int, int]:
    """The user owning exactly N events, for each N of the grid."""
    by_count = {count: user for user, count in instance.event_counts.items()}
    missing = [n for n in grid if n not in by_count]
    if missing:
        available = ", ".join(f"{c:,}" for c in sorted(by_count) if c > 0)
        wanted = ", ".join(f"{n:,}" for n in missing)
        raise ConfigurationError(
            f"instance {instance.name} has no user with exactly {wanted} events "
            f"(available: {available}); pick N from those or add users to the instance"
        )
    return {n: by_count[n] for n in grid}


CANDIDATE_ROLE = "perfkit_candidate"
"""The login role candidates are timed under where the kit may create roles: it may read the
datasets' ``events`` and nothing else, so a candidate holding its connection cannot write."""


def candidate_reader(admin: psycopg.Connection[Any], dsn: DsnLike, schemas: Sequence[str]) -> Dsn | None:
    """A connection string for `CANDIDATE_ROLE`, granted read access to ``schemas``' events, on the
    embedded server (whose local connections are trusted and whose superuser is the kit); None where
    the kit's role may not create roles, and candidates are then contained by detection only."""
    row = admin.execute(
        "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user", prepare=False
    ).fetchone()
    if row is None or not row[0]:
        return None
    role = sql.Identifier(CANDIDATE_ROLE)
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (CANDIDATE_ROLE,), prepare=False).fetchone()
    if exists is None:
        with suppress(psycopg.errors.DuplicateObject):  # another kit run created it meanwhile
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT").format(role))
    grant_reading(admin, schemas)
    return Dsn(make_conninfo(plain(dsn), user=CANDIDATE_ROLE))


def grant_reading(admin: psycopg.Connection[Any], schemas: Sequence[str]) -> None:
    """Let `CANDIDATE_ROLE` read ``schemas``' events (and nothing else of them)."""
    role = sql.Identifier(CANDIDATE_ROLE)
    for schema in schemas:
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role))
        admin.execute(sql.SQL("GRANT SELECT ON {}.events TO {}").format(sql.Identifier(schema), role))
