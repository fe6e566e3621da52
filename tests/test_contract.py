"""The call contract: argument checks before any SQL, and no trace left on the caller's session."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row, namedtuple_row

import repository_after
import repository_before
from perfkit.data import server as db
from perfkit.data.datasets import Dataset

IMPLEMENTATIONS = [repository_before, repository_after]
BAD_USER_IDS: list[tuple[object, type[Exception]]] = [
    (True, TypeError),
    (False, TypeError),
    ("1", TypeError),
    (1.0, TypeError),
    (None, TypeError),
    (2**63, ValueError),
    (-(2**63) - 1, ValueError),
]


@pytest.mark.db
@pytest.mark.parametrize("module", IMPLEMENTATIONS, ids=lambda m: m.__name__)
@pytest.mark.parametrize(("user_id", "error"), BAD_USER_IDS, ids=repr)
def test_bad_user_id_raises_before_any_sql(module: Any, user_id: object, error: type[Exception], server: Any) -> None:
    # A closed connection fails on any SQL: the argument error must come first.
    conn = db.connect(server.dsn)
    conn.close()
    with pytest.raises(error, match="user_id"):
        module.fetch_user_activity_summary(conn, user_id)


@pytest.mark.db
@pytest.mark.parametrize("module", IMPLEMENTATIONS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("autocommit", [False, True])
@pytest.mark.parametrize("row_factory", [dict_row, namedtuple_row], ids=["dict_row", "namedtuple_row"])
def test_caller_session_is_left_as_found(
    module: Any,
    autocommit: bool,
    row_factory: Any,
    seeded: Callable[[str], Dataset],
    connect_to: Callable[[str], psycopg.Connection[Any]],
) -> None:
    dataset = seeded("parity_literal")
    conn = connect_to(dataset.schema)
    conn.autocommit = autocommit
    conn.row_factory = row_factory

    def session_state() -> tuple[Any, ...]:
        with conn.cursor(row_factory=psycopg.rows.tuple_row) as cur:
            cur.execute(
                "SELECT current_setting('search_path'), current_setting('statement_timeout'),"
                " current_setting('transaction_read_only'), current_setting('DateStyle')"
            )
            settings = cur.fetchone()
        return (settings, conn.autocommit, conn.row_factory)

    before = session_state()
    if not autocommit:
        # The caller's open transaction and its uncommitted work must survive the call.
        conn.execute("CREATE TEMP TABLE caller_work (x int)")
    summary = module.fetch_user_activity_summary(conn, 1)
    assert summary["purchase"] == 33
    assert session_state() == before
    if not autocommit:
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS
        conn.execute("SELECT * FROM caller_work")
        conn.rollback()


_WRITES = re.compile(
    r"\b(CREATE|ALTER|DROP|TRUNCATE|INSERT|UPDATE|DELETE|GRANT|REVOKE|COMMENT|VACUUM|SET|RESET)\b"
    r"|\b(commit|rollback|autocommit)\b"
)


@pytest.mark.parametrize("module", IMPLEMENTATIONS, ids=lambda m: m.__name__)
def test_implementations_contain_no_ddl_and_no_transaction_control(module: Any) -> None:
    for path in Path(module.__file__).parent.glob("*.py"):
        found = sorted({m.group(0) for m in _WRITES.finditer(path.read_text())})
        assert not found, f"{path} contains {found}"


def test_optimized_version_reads_events_unqualified_and_in_one_query() -> None:
    query = repository_after.summary.SUMMARY_QUERY
    assert re.search(r"\bFROM events\b", query)
    assert not re.search(r"\.\s*events\b", query)
    assert "DISTINCT" not in query.upper()  # uniqueness comes from PRIMARY KEY (id, user_id)
    assert ";" not in query  # one statement: one round trip (counted for real by the `one_round_trip` requirement)
