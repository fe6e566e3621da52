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

from perfkit.data.implementations import function_schema
from perfkit.data.instances import Instance, Observed
from perfkit.data.server import Dsn, DsnLike, plain
from perfkit.errors import ConfigurationError, DatabaseError, OwnershipError
from perfkit.subject import Subject, Table

KIT_PREFIX = "perfkit_"
REGISTRY_SCHEMA = "perfkit_registry"
_COPY_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Dataset:
    """A seeded instance: where it lives and what it holds."""

    instance: Instance
    schema: str
    rows: int
    reused: bool
    seconds: float

    def key_without_rows(self) -> int:
        """A key just below the smallest one the dataset holds: a cheap call that finds no rows."""
        key = min(self.instance.sizes, default=1) - 1
        while key in self.instance.sizes:
            key -= 1
        return key


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
    install_functions(conn, instance.subject)
    with _advisory_lock(conn, schema):
        if owned_schemas(conn).get(schema):
            return Dataset(instance, schema, instance.total_rows, True, time.perf_counter() - started)
        drop_dataset_schema(conn, schema, missing_ok=True)
        _load(conn, instance, schema, progress=progress)
        for table in instance.subject.tables:
            conn.execute(sql.SQL("VACUUM (FREEZE, ANALYZE) {}.{}").format(*_identifiers(schema, table.name)))
        conn.execute(
            sql.SQL("UPDATE {}.owned_schemas SET completed_at = now() WHERE schema_name = %s").format(
                sql.Identifier(REGISTRY_SCHEMA)
            ),
            (schema,),
        )
    return Dataset(instance, schema, instance.total_rows, False, time.perf_counter() - started)


def install_functions(conn: psycopg.Connection[Any], subject: Subject) -> None:
    """The subject's SQL implementations, each installed once in its kit-owned schema (`function_schema`)
    and registered as the kit's. ``conn`` must be in autocommit mode."""
    ensure_registry(conn)
    for name, implementation in subject.implementations.items():
        if implementation.install is None:
            continue
        schema = function_schema(subject, name)
        with _advisory_lock(conn, schema):
            if owned_schemas(conn).get(schema):
                continue
            drop_dataset_schema(conn, schema, missing_ok=True)
            with conn.transaction():
                conn.execute(
                    sql.SQL(
                        "INSERT INTO {}.owned_schemas (schema_name, instance, fingerprint, completed_at) "
                        "VALUES (%s, %s, %s, now())"
                    ).format(sql.Identifier(REGISTRY_SCHEMA)),
                    (schema, f"{subject.name}:{name}", subject.fingerprint),
                )
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
                conn.execute("SELECT set_config('search_path', %s, true)", (sql.Identifier(schema).as_string(conn),))
                conn.execute(implementation.install)  # the subject's own SQL


def _identifiers(*names: str) -> list[sql.Identifier]:
    return [sql.Identifier(name) for name in names]


def _load(conn: psycopg.Connection[Any], instance: Instance, schema: str, *, progress: bool) -> None:
    """Create the schema and the subject's tables and COPY their rows, all in one transaction. The tables'
    DDL runs with the schema first on the search_path, so it names them unqualified."""
    ident = sql.Identifier(schema)
    bar = tqdm(
        total=instance.total_rows,
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
        conn.execute("SELECT set_config('search_path', %s, true)", (ident.as_string(conn),))
        for table in instance.subject.tables:
            conn.execute(table.ddl)  # the subject's own SQL
        for table in instance.subject.tables:
            copy_sql = sql.SQL("COPY {}.{} ({}) FROM STDIN").format(
                ident, sql.Identifier(table.name), sql.SQL(", ").join(_identifiers(*table.column_names))
            )
            with conn.cursor() as cur, cur.copy(copy_sql) as copy:
                pending = 0
                for row in instance.rows(table.name):
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
    """Point ``conn``'s search_path at a dataset so the subject's unqualified tables resolve there."""
    with conn.transaction():
        conn.execute("SELECT set_config('search_path', %s, false)", (sql.Identifier(schema).as_string(conn),))


def verify_table(conn: psycopg.Connection[Any], schema: str, table: Table) -> None:
    """Refuse, naming the difference, a table whose columns or key differ from the subject's."""
    qualified = f"{schema}.{table.name}"
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        relation = conn.execute("SELECT to_regclass(format('%%I.%%I', %s::text, %s::text))", (schema, table.name))
        found_relation = relation.fetchone()
        if found_relation is None or found_relation[0] is None:
            raise ConfigurationError(f"there is no table {qualified} (check --source-schema and the search rights)")
        columns = conn.execute(
            """SELECT attname::text, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute
               WHERE attrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND attnum > 0 AND NOT attisdropped
               ORDER BY attnum""",
            (schema, table.name),
        ).fetchall()
        primary_key = conn.execute(
            """SELECT pg_get_constraintdef(oid) FROM pg_constraint
               WHERE conrelid = format('%%I.%%I', %s::text, %s::text)::regclass AND contype = 'p'""",
            (schema, table.name),
        ).fetchone()
    found = {name: (kind, not_null) for name, kind, not_null in columns}
    problems = []
    for column in table.columns:
        if column.name not in found:
            problems.append(f"column {column.name} is missing")
        elif found[column.name] != (column.sql_type, column.not_null):
            actual_kind, actual_not_null = found[column.name]
            problems.append(
                f"column {column.name} is {actual_kind}{' NOT NULL' if actual_not_null else ''}, "
                f"expected {column.sql_type}{' NOT NULL' if column.not_null else ''}"
            )
    extra = sorted(set(found) - set(table.column_names))
    if extra:
        problems.append(f"unexpected column(s) {extra}")
    wanted_key = f"PRIMARY KEY ({', '.join(table.primary_key)})"
    if primary_key is None or primary_key[0] != wanted_key:
        found_key = primary_key[0] if primary_key else "no primary key"
        reason = f" ({table.primary_key_reason})" if table.primary_key_reason else ""
        problems.append(f"{found_key}, expected {wanted_key}{reason}")
    if problems:
        raise ConfigurationError(f"{qualified} differs from the fixed schema: " + "; ".join(problems))


def source_dataset(conn: psycopg.Connection[Any], schema: str, subject: Subject) -> Dataset:
    """Existing tables the kit did not create, to be read and never written.

    Counting the rows of each key scans the sized table once, in a read-only transaction.
    """
    started = time.perf_counter()
    for table in subject.tables:
        verify_table(conn, schema, table)
    install_functions(conn, subject)
    sized = subject.sized_table.name
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        counts = conn.execute(
            sql.SQL("SELECT {key}, count(*) FROM {schema}.{table} GROUP BY {key}").format(
                key=sql.Identifier(subject.key.name), schema=sql.Identifier(schema), table=sql.Identifier(sized)
            )
        ).fetchall()
    instance = Instance(
        name=f"source_{schema}",
        description=f"the existing tables of {schema}, read only",
        source=f"{schema}.{sized}",
        body=Observed(f"{schema}.{sized}", {int(key): int(count) for key, count in counts}),
        subject=subject,
        fingerprint="source",
    )
    return Dataset(instance, schema, instance.total_rows, True, time.perf_counter() - started)


def nearest_keys(counts: dict[int, int], sizes: list[int]) -> dict[int, int]:
    """For each wanted size, the key whose row count is closest on a log scale: {count: key}."""
    candidates = [(count, key) for key, count in counts.items() if count > 0]
    if not candidates:
        raise ConfigurationError("the table has no rows")
    chosen: dict[int, int] = {}
    for size in sizes:
        count, key = min(candidates, key=lambda c: (abs(math.log(c[0]) - math.log(size)), c[1]))
        chosen[count] = key
    return dict(sorted(chosen.items()))


def keys_for_grid(instance: Instance, grid: Sequence[int]) -> dict[int, int]:
    """The key of exactly N rows, for each N of the grid."""
    by_count = {count: key for key, count in instance.sizes.items()}
    missing = [n for n in grid if n not in by_count]
    if missing:
        available = ", ".join(f"{c:,}" for c in sorted(by_count) if c > 0)
        wanted = ", ".join(f"{n:,}" for n in missing)
        words = instance.subject.words
        raise ConfigurationError(
            f"instance {instance.name} has no {words.key} with exactly {wanted} {words.rows} "
            f"(available: {available}); pick N from those or add {words.keys} to the instance"
        )
    return {n: by_count[n] for n in grid}


CANDIDATE_ROLE = "perfkit_candidate"
"""The login role candidates are timed under where the kit may create roles: it may read the
datasets' tables and nothing else, so a candidate holding its connection cannot write."""


def candidate_reader(admin: psycopg.Connection[Any], dsn: DsnLike, schemas: Sequence[str]) -> Dsn | None:
    """A connection string for `CANDIDATE_ROLE`, granted read access to ``schemas``' tables, on the
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
    """Let `CANDIDATE_ROLE` read ``schemas``' tables (and do nothing else with them)."""
    role = sql.Identifier(CANDIDATE_ROLE)
    for schema in schemas:
        admin.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(sql.Identifier(schema), role))
        admin.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(sql.Identifier(schema), role))
