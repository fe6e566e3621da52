"""What the bench times: both implementations, reference queries, and forced plan alternatives.

Variants are data: a name, the SQL it sends (so its plan can be captured), the session
settings of its own connection, and a call. Each variant runs on a connection of its own, kept
for the whole run, as a pooled connection is in production.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg

import repository_after
import repository_before
from perfkit.data.candidates import Candidate, shown
from perfkit.errors import CandidateError
from repository_after.summary import SUMMARY_QUERY

LEGACY_QUERY = "SELECT id, type, metadata FROM events WHERE user_id = %s"
"""The one query the legacy version sends (a test keeps it equal to its source)."""

FLOOR_QUERY = "SELECT count(*) FROM events WHERE user_id = %(user_id)s"
"""Finding the user's rows: answered from the primary key index alone, it reads no column of the rows."""

SCAN_FLOOR_QUERY = "SELECT count(metadata) FROM events WHERE user_id = %(user_id)s"
"""Reading the user's rows and their metadata and computing nothing: the least any query that
looks at ``type`` or ``metadata`` must do, since no index covers them."""

PRICE_FLOOR_QUERY = """SELECT count(*) FILTER (WHERE type = 'click'), count(*) FILTER (WHERE type = 'view'),
    count(*) FILTER (WHERE type = 'purchase'),
    sum((metadata -> 'price')::numeric)
        FILTER (WHERE type = 'purchase' AND jsonb_typeof(metadata -> 'price') = 'number')
    FROM events WHERE user_id = %(user_id)s"""
"""The counts and the sum of the prices stored as JSON numbers, nothing else: each row's type compared,
each purchase's price looked up, typed, cast and added. Any query that returns the summary does at least
this (prices stored as text cost more), so its calls per second bound theirs. Not a summary: a reference."""

_USER_ROWS = re.compile(r"FROM events\s+WHERE user_id = %\(user_id\)s")
DISTINCT_QUERY = _USER_ROWS.sub(
    "FROM (SELECT DISTINCT id, type, metadata FROM events WHERE user_id = %(user_id)s) AS user_events",
    SUMMARY_QUERY,
    count=1,
)
"""The rewrite most people write first: the same aggregation over a de-duplicated subquery."""

if DISTINCT_QUERY == SUMMARY_QUERY:  # pragma: no cover - guards against an edit of SUMMARY_QUERY
    raise ImportError("SUMMARY_QUERY no longer reads `FROM events WHERE user_id = %(user_id)s`")

FORCED_ALTERNATIVES: dict[str, dict[str, str]] = {
    "no_seqscan": {"enable_seqscan": "off"},
    "no_index": {"enable_indexscan": "off", "enable_indexonlyscan": "off", "enable_bitmapscan": "off"},
    "serial": {"max_parallel_workers_per_gather": "0"},
    # PostgreSQL's own defaults, where a server configured for short queries (the embedded one) has it off.
    "jit": {
        "jit": "on",
        "jit_above_cost": "100000",
        "jit_inline_above_cost": "500000",
        "jit_optimize_above_cost": "500000",
    },
}
"""Session settings that take one family of plans away from the planner, to see what it did not choose,
or (``jit``) that compile the plan's expressions as a server with PostgreSQL's defaults would."""
JIT = "jit"

Call = Callable[[psycopg.Connection[Any], int], object]


@dataclass(frozen=True)
class Variant:
    name: str
    base: str  # the variant this one forces an alternative of (itself when none is forced)
    sql: str | None  # None: a Python candidate that did not declare its QUERY; its plan is not captured
    call: Call
    prepared_by_default: bool  # sent with psycopg's defaults, so prepared from its 5th execution
    settings: Mapping[str, str] = field(default_factory=dict)
    contained: str | None = None  # a candidate's file: its calls are bounded and checked (`containment`)

    @property
    def alternative(self) -> str | None:
        return self.name[len(self.base) + 1 : -1] if self.name != self.base else None


def _query(sql: str) -> Call:
    def run(conn: psycopg.Connection[Any], user_id: int) -> object:
        with conn.cursor() as cur:
            cur.execute(sql, {"user_id": user_id}, prepare=False)
            return cur.fetchall()

    return run


def _forced(variant: Variant) -> list[Variant]:
    return [
        Variant(f"{variant.base}[{name}]", variant.base, variant.sql, variant.call, False, settings, variant.contained)
        for name, settings in FORCED_ALTERNATIVES.items()
    ]


BEFORE = Variant("before", "before", LEGACY_QUERY, repository_before.fetch_user_activity_summary, True)
AFTER = Variant("after", "after", SUMMARY_QUERY, repository_after.fetch_user_activity_summary, False)
DISTINCT = Variant("distinct", "distinct", DISTINCT_QUERY, _query(DISTINCT_QUERY), False)
FLOOR = Variant("floor", "floor", FLOOR_QUERY, _query(FLOOR_QUERY), False)
SCAN_FLOOR = Variant("scan_floor", "scan_floor", SCAN_FLOOR_QUERY, _query(SCAN_FLOOR_QUERY), False)
PRICE_FLOOR = Variant("price_floor", "price_floor", PRICE_FLOOR_QUERY, _query(PRICE_FLOOR_QUERY), False)

VARIANTS: dict[str, Variant] = {
    variant.name: variant
    for variant in (BEFORE, AFTER, *_forced(AFTER), DISTINCT, FLOOR, SCAN_FLOOR, *_forced(SCAN_FLOOR), PRICE_FLOOR)
}


def candidate_variants(candidate: Candidate) -> dict[str, Variant]:
    """A candidate as the bench times it: as written, and under each forced plan alternative."""
    if candidate.name in VARIANTS:
        raise CandidateError(
            shown(candidate.path), f"is named like the kit's own variant {candidate.name!r}: rename it"
        )
    variant = Variant(
        candidate.name, candidate.name, candidate.query, candidate.fetch, False, {}, shown(candidate.path)
    )
    return {v.name: v for v in (variant, *_forced(variant))}
