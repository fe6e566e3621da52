"""Optimized summary: one round trip, every event aggregated inside PostgreSQL.

Python receives one row of four values, whatever the number of events, so application
memory does not depend on it.

No de-duplication: the legacy version de-duplicated events by ``id`` within one user, but
``events`` has ``PRIMARY KEY (id, user_id)``, so for a fixed ``user_id`` every ``id`` is
already unique. The query relies on that constraint instead of a DISTINCT (which would
sort or hash every row of the user).

Prices are summed as ``numeric`` (exact) and converted to ``double precision`` once, as the
legacy version does with ``Decimal``, so both round the same exact total to the same float.

The query is sent unprepared (``prepare=False``), so PostgreSQL plans it for the user at hand on
every call. Prepared (psycopg prepares a query after 5 executions on one connection), it would
move to a generic plan after 5 more whenever that plan's estimate, made for an average user,
looks cheaper: on a pooled connection, a large user would then be read with the plan made for a
small one. Planning costs well under a millisecond; a wrong plan costs tens.
"""

from typing import Any

import psycopg
from psycopg.rows import tuple_row

_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1

# `events` is resolved through the caller's search_path, never schema-qualified.
#
# `metadata ->> 'price'` renders a JSON number as its digits and a JSON string as its
# unescaped text (objects and arrays as JSON, booleans as true/false, JSON null and
# non-object metadata as SQL NULL), so one pattern decides both encodings: a number always
# matches, a string matches when its ASCII-trimmed text is a decimal literal. numeric's
# input skips the same ASCII whitespace the pattern allows around the literal.
SUMMARY_QUERY = r"""
SELECT
    count(*) FILTER (WHERE type = 'click')    AS click,
    count(*) FILTER (WHERE type = 'view')     AS view,
    count(*) FILTER (WHERE type = 'purchase') AS purchase,
    COALESCE(sum(
        CASE WHEN (metadata ->> 'price')
                  ~ '^[ \t\n\r\f\v]*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?[ \t\n\r\f\v]*$'
             THEN (metadata ->> 'price')::numeric
        END
    ) FILTER (WHERE type = 'purchase'), 0)::float8 AS total_value
FROM events
WHERE user_id = %(user_id)s
"""


def fetch_user_activity_summary(conn: psycopg.Connection[Any], user_id: int) -> dict[str, Any]:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise TypeError(f"user_id must be an int, not {type(user_id).__name__}")
    if not _BIGINT_MIN <= user_id <= _BIGINT_MAX:
        raise ValueError(f"user_id {user_id} is outside the BIGINT range")

    with conn.cursor(row_factory=tuple_row) as cur:
        cur.execute(SUMMARY_QUERY, {"user_id": user_id}, prepare=False)
        row = cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY always returns one row
    click, view, purchase, total_value = row
    return {"click": click, "view": view, "purchase": purchase, "total_value": total_value}
