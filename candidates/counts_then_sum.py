"""Two queries instead of one: the counts by type, then the price sum over purchases only.

A Python candidate (it declares no QUERY, so the bench times it without capturing a plan):
splitting the work gives the planner two simpler queries, at the cost of a second round trip.
"""

from typing import Any

import psycopg

from repository_after.summary import SUMMARY_QUERY

_PRICE_PATTERN = SUMMARY_QUERY.split("~ '", 1)[1].split("'", 1)[0]

COUNTS = """
SELECT
    count(*) FILTER (WHERE type = 'click'),
    count(*) FILTER (WHERE type = 'view'),
    count(*) FILTER (WHERE type = 'purchase')
FROM events
WHERE user_id = %(user_id)s
"""

TOTAL = f"""
SELECT COALESCE(sum((metadata ->> 'price')::numeric), 0)::float8
FROM events
WHERE user_id = %(user_id)s AND type = 'purchase' AND (metadata ->> 'price') ~ '{_PRICE_PATTERN}'
"""


def fetch_user_activity_summary(conn: psycopg.Connection[Any], user_id: int) -> dict[str, Any]:
    with conn.cursor() as cur:
        cur.execute(COUNTS, {"user_id": user_id}, prepare=False)
        counts = cur.fetchone()
        cur.execute(TOTAL, {"user_id": user_id}, prepare=False)
        total = cur.fetchone()
    assert counts is not None and total is not None
    return {"click": counts[0], "view": counts[1], "purchase": counts[2], "total_value": total[0]}
