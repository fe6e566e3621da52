"""What the bench times at each N: both implementations and two reference queries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

import repository_after
import repository_before
from repository_after.summary import SUMMARY_QUERY

FLOOR_QUERY = "SELECT count(*) FROM events WHERE user_id = %(user_id)s"
"""The cost of merely finding the user's rows: the optimized query cannot beat it."""

SCAN_FLOOR_QUERY = "SELECT count(metadata) FROM events WHERE user_id = %(user_id)s"
"""The cost of reading the user's rows and their metadata from the table itself: the least any
query that looks at ``type`` or ``metadata`` must do, since no index covers them."""

_USER_ROWS = "FROM events\nWHERE user_id = %(user_id)s"
DISTINCT_QUERY = SUMMARY_QUERY.replace(
    _USER_ROWS,
    "FROM (SELECT DISTINCT id, type, metadata FROM events WHERE user_id = %(user_id)s) AS user_events",
)
"""The rewrite most people write first: the same aggregation over a de-duplicated subquery."""

if DISTINCT_QUERY == SUMMARY_QUERY:  # pragma: no cover - guards against an edit of SUMMARY_QUERY
    raise ImportError("SUMMARY_QUERY no longer ends with the expected FROM clause")

VARIANTS = ("before", "after", "distinct", "floor", "scan_floor")
__all__ = ["DISTINCT_QUERY", "FLOOR_QUERY", "SCAN_FLOOR_QUERY", "SUMMARY_QUERY", "VARIANTS", "explain", "variant_calls"]


def variant_calls(
    conn: psycopg.Connection[Any], user_id: int, variants: tuple[str, ...] = VARIANTS
) -> dict[str, Callable[[], object]]:
    """One zero-argument call per variant, all on ``conn`` for the same user."""

    def query(sql: str) -> Callable[[], object]:
        def run() -> object:
            with conn.cursor() as cur:
                cur.execute(sql, {"user_id": user_id})
                return cur.fetchall()

        return run

    calls: dict[str, Callable[[], object]] = {
        "before": lambda: repository_before.fetch_user_activity_summary(conn, user_id),
        "after": lambda: repository_after.fetch_user_activity_summary(conn, user_id),
        "distinct": query(DISTINCT_QUERY),
        "floor": query(FLOOR_QUERY),
        "scan_floor": query(SCAN_FLOOR_QUERY),
    }
    return {name: calls[name] for name in variants}


def explain(conn: psycopg.Connection[Any], query: str, user_id: int) -> Any:
    """EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) of ``query`` for ``user_id``."""
    with conn.cursor() as cur:
        cur.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query, {"user_id": user_id})
        row = cur.fetchone()
    assert row is not None
    return row[0]
