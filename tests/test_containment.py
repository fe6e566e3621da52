"""What a Python candidate changes in the database is noticed after its call, even when it restores
every setting and transaction state the kit checks: the containment left where the kit may not
create a read-only role for it (a server given by DATABASE_URL)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from perfkit.data import server as db
from perfkit.data.implementations import apply_settings
from perfkit.errors import CandidateError
from perfkit.measure.containment import Containment, Watchdog

Call = Callable[[psycopg.Connection[Any], int], Any]


@pytest.fixture
def foreign_table(server: db.ServerTarget) -> Iterator[str]:
    """A table of someone else's: outside the kit's schemas, created by the test, not the kit."""
    schema = f"someone_{secrets.token_hex(4)}"
    with db.connect(server.dsn, autocommit=True) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
        owner.execute(sql.SQL("CREATE TABLE {}.ledger (i int)").format(sql.Identifier(schema)))
        owner.execute(sql.SQL("INSERT INTO {}.ledger SELECT generate_series(1, 10)").format(sql.Identifier(schema)))
    try:
        yield f"{schema}.ledger"
    finally:
        with db.connect(server.dsn, autocommit=True) as owner:
            owner.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def _calls_until_refused(server: db.ServerTarget, call: Call, *, calls: int) -> str | None:
    """Call ``call`` as the kit calls a candidate on a read-only session of the kit's own role;
    the refusal's message, or None if every call passed."""
    watchdog = Watchdog(10.0)
    with (
        db.connect(server.dsn, autocommit=True) as conn,
        db.connect(server.dsn, autocommit=True) as observer,
    ):
        apply_settings(conn, {"default_transaction_read_only": "on", "statement_timeout": "10000"})
        containment = Containment("sneaky.py", conn, observer, watchdog)
        try:
            for _ in range(calls):
                containment.call(call, 1)
                time.sleep(0.05)
        except CandidateError as exc:
            return str(exc)
        finally:
            watchdog.close()
    return None


def _as_writer(conn: psycopg.Connection[Any], statement: str) -> None:
    """Turn read-only off, write, and put everything back as it was."""
    conn.execute("SET default_transaction_read_only = off")
    conn.execute(statement)
    conn.execute("SET default_transaction_read_only = on")


@pytest.mark.db
def test_rows_written_in_the_candidates_own_session_refuse_it(server: db.ServerTarget, foreign_table: str) -> None:
    refusal = _calls_until_refused(
        server, lambda conn, _: _as_writer(conn, f"INSERT INTO {foreign_table} VALUES (-1)"), calls=1
    )
    assert refusal is not None
    assert f"changed the database while it ran: wrote 1 row of {foreign_table}" in refusal


@pytest.mark.db
def test_a_truncate_in_the_candidates_own_session_refuses_it(server: db.ServerTarget, foreign_table: str) -> None:
    refusal = _calls_until_refused(server, lambda conn, _: _as_writer(conn, f"TRUNCATE {foreign_table}"), calls=1)
    assert refusal is not None
    assert f"rewrote {foreign_table}" in refusal


@pytest.mark.db
def test_rows_written_on_a_session_the_candidate_opens_refuse_it(server: db.ServerTarget, foreign_table: str) -> None:
    """A second session publishes its statistics when its backend exits, maybe after the call: the kit
    counts from the candidate's first call, so a later call is refused, naming every row written by
    then: on a loaded machine, more than one call's session may have published by the first check
    that sees any (this test, asserting exactly one call's rows, failed once on PostgreSQL 15 under load)."""

    def elsewhere(conn: psycopg.Connection[Any], _: int) -> None:
        with db.connect(server.dsn, autocommit=True) as other:
            other.execute(f"UPDATE {foreign_table} SET i = i + 1")

    refusal = _calls_until_refused(server, elsewhere, calls=60)
    assert refusal is not None
    written = re.search(rf"wrote (\d+) rows of {re.escape(foreign_table)}", refusal)
    assert written is not None, refusal
    assert int(written[1]) >= 10, refusal
    assert int(written[1]) % 10 == 0, refusal  # whole calls, each updating the table's 10 rows


@pytest.mark.db
def test_a_candidate_that_only_reads_is_never_refused(server: db.ServerTarget, foreign_table: str) -> None:
    """Reads, the server's own work (autovacuum, statistics) and the kit's own schemas raise no alarm."""
    assert (
        _calls_until_refused(server, lambda conn, _: conn.execute(f"SELECT count(*) FROM {foreign_table}"), calls=40)
        is None
    )


@pytest.mark.db
def test_a_refusal_names_what_the_candidate_committed_whatever_check_fired_first(
    server: db.ServerTarget, foreign_table: str
) -> None:
    """The probe: a candidate that commits, creates a table and commits again is refused for the
    transaction state it leaves, and the refusal names the table it left behind."""
    schema = foreign_table.split(".")[0]

    def escapes(conn: psycopg.Connection[Any], _: int) -> None:
        conn.execute(f"BEGIN READ WRITE; CREATE TABLE {schema}.left_by_candidate (i int); COMMIT; BEGIN")

    refusal = _calls_until_refused(server, escapes, calls=1)
    assert refusal is not None
    assert "left its session in another transaction state (IDLE → INTRANS)" in refusal
    assert f"it also changed the database: created {schema}.left_by_candidate" in refusal
    assert "the kit undid none of it" in refusal
