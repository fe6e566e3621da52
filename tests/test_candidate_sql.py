"""A SQL candidate is read by PostgreSQL's parser and its calls resolved in the catalog before it runs:
one SELECT that reads, calling only immutable or stable functions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.data import server as db
from perfkit.data.candidate_sql import NotASummaryError, called_names, volatile_calls
from perfkit.data.candidates import load_candidate
from perfkit.errors import CandidateError
from repository_after.summary import SUMMARY_QUERY

KEY = "%(user_id)s"

WHAT_SUMMARIES_CALL = (
    "SELECT coalesce(length(metadata ->> 'price'), 0), jsonb_typeof(metadata -> 'price'),"
    " (metadata ->> 'price') ~ '^[0-9]+$', (metadata ->> 'price') ~* 'e', regexp_replace(type, 'a', 'b'),"
    " substring(type from 'c'), lower(type), (metadata ->> 'price')::numeric, round(1.5::numeric, 1),"
    " '1e3'::float8, count(*) FILTER (WHERE id BETWEEN 1 AND 9), sum(id) OVER (), nullif(type, ''),"
    " greatest(1, 2), type LIKE 'c%%', metadata #>> '{price}', now(), to_char(1, '9')"
    f" FROM events WHERE user_id = {KEY} GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13, 14, 15, 16, 17, 18, id"
)

VOLATILE = {
    "pg_terminate_backend(integer,bigint)": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity",
    "pg_cancel_backend(integer)": "SELECT pg_cancel_backend(pid) FROM pg_stat_activity",
    "set_config(text,text,boolean)": "SELECT set_config('search_path', 'public', false)",
    "pg_sleep(double precision)": "SELECT 1 FROM events WHERE pg_sleep(0.1) IS NULL",
    "nextval(regclass)": "SELECT nextval('some_sequence')",
    "pg_advisory_lock(bigint)": "SELECT pg_catalog.pg_advisory_lock(1)",
    "lo_import(text)": "SELECT * FROM lo_import('/etc/hostname')",
    "random()": "SELECT count(*) FROM events WHERE random() < 0.5",
}


def test_what_summaries_call_is_read_as_functions_operators_and_casts() -> None:
    called = called_names(WHAT_SUMMARIES_CALL, KEY)
    assert {("", "length"), ("", "jsonb_typeof"), ("", "regexp_replace"), ("", "count"), ("", "sum")} <= {
        (schema or "", name) for schema, name in called.functions
    }
    assert {(None, "~"), (None, "~*"), (None, "->>"), (None, "<="), (None, ">="), (None, "~~")} <= called.operators
    assert ("pg_catalog", "numeric") in called.casts


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("SELECT 1; SELECT 2", "holds 2 statements"),
        ("DELETE FROM events", "is a DELETE statement"),
        ("WITH gone AS (DELETE FROM events RETURNING 1) SELECT count(*) FROM gone", "its WITH DELETE writes"),
        ("SELECT * INTO kept FROM events", "its SELECT INTO creates a table"),
        ("SELECT * FROM events FOR UPDATE", "its FOR UPDATE/SHARE locks rows"),
        ("SELEC 1", 'does not parse as SQL: syntax error at or near "SELEC"'),
    ],
)
def test_anything_but_one_select_that_reads_is_refused_unparsed_by_the_server(query: str, problem: str) -> None:
    with pytest.raises(NotASummaryError, match=problem):
        called_names(query, KEY)


def test_a_semicolon_inside_a_literal_is_one_statement() -> None:
    assert called_names("SELECT ';' WHERE 1 = %(user_id)s", KEY).functions == frozenset()


@pytest.mark.db
def test_immutable_and_stable_calls_pass(admin_conn: psycopg.Connection[Any]) -> None:
    assert volatile_calls(admin_conn, called_names(WHAT_SUMMARIES_CALL, KEY)) == []
    assert volatile_calls(admin_conn, called_names(SUMMARY_QUERY, KEY)) == []


@pytest.mark.db
@pytest.mark.parametrize("signature", sorted(VOLATILE))
def test_a_volatile_call_is_named_by_its_signature(admin_conn: psycopg.Connection[Any], signature: str) -> None:
    assert signature in volatile_calls(admin_conn, called_names(VOLATILE[signature], KEY))


@pytest.mark.db
def test_a_candidate_that_would_end_other_sessions_is_refused_before_its_first_call(
    server: db.ServerTarget, tmp_path: Path
) -> None:
    """The probe: a correct summary that terminates every other session of its role in a lateral
    subquery. A read-only transaction does not stop it (ending a backend is not a write); the
    catalog does, before the query reaches the server, and the application's session lives on."""
    candidate = tmp_path / "terminates.sql"
    candidate.write_text(
        "-- a correct summary that also ends every other session of its role\n"
        + SUMMARY_QUERY.rstrip()
        + "\nCROSS JOIN LATERAL (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE usename = current_user AND pid <> pg_backend_pid()) AS ended\n"
    )
    loaded = load_candidate(candidate)
    with (
        db.connect(server.dsn, autocommit=True, application_name="an application") as application,
        db.connect(server.dsn, autocommit=True) as conn,
    ):
        with pytest.raises(CandidateError, match=r"calls pg_terminate_backend\(integer,bigint\), volatile.*not run"):
            loaded.fetch(conn, 1)
        assert application.execute("SELECT 1").fetchone() == (1,)
