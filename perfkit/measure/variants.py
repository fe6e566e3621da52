"""What the bench times: both implementations, reference queries, and forced plan alternatives.

Variants are data: a name, the SQL it sends (so its plan can be captured), the session
settings of its own connection, and a call. Each variant runs on a connection of its own, kept
for the whole run, as a pooled connection is in production.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import psycopg

from perfkit.data.candidates import Candidate, shown
from perfkit.data.implementations import call_statement, fetch_function
from perfkit.errors import CandidateError
from perfkit.subject import IMPLEMENTATIONS, Subject

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
CANDIDATE = "candidate"


@dataclass(frozen=True)
class Variant:
    name: str
    base: str  # the variant this one forces an alternative of (itself when none is forced)
    sql: str | None  # None: a Python candidate that did not declare its QUERY; its plan is not captured
    call: Call
    prepared_by_default: bool  # sent with psycopg's defaults, so prepared from its 5th execution
    settings: Mapping[str, str] = field(default_factory=dict)
    contained: str | None = None  # a candidate's file: its calls are bounded and checked (`containment`)
    role: str = CANDIDATE  # before, after, a reference's role (`perfkit.subject.ROLES`) or a candidate
    plan_sql: str | None = None  # the statement that does the work, where the call shows only a Function Scan

    @property
    def planned(self) -> str | None:
        """The statement whose plan is captured: the work a SQL function does, else what is sent."""
        return self.plan_sql or self.sql

    @property
    def alternative(self) -> str | None:
        return self.name[len(self.base) + 1 : -1] if self.name != self.base else None


def _query(sql: str, key: str) -> Call:
    def run(conn: psycopg.Connection[Any], value: int) -> object:
        with conn.cursor() as cur:
            cur.execute(sql, {key: value}, prepare=False)
            return cur.fetchall()

    return run


def _forced(variant: Variant) -> list[Variant]:
    return [
        replace(variant, name=f"{variant.base}[{name}]", prepared_by_default=False, settings=settings)
        for name, settings in FORCED_ALTERNATIVES.items()
    ]


FORCED_ROLES = ("scan_floor",)
"""References whose forced alternatives are timed too: the floor is judged under its best plan."""


def subject_variants(subject: Subject) -> dict[str, Variant]:
    """The subject's variants in the order they are interleaved: both implementations (the optimized one
    under each forced alternative too), then its references in the order its description gives them."""
    implementations = []
    for name in IMPLEMENTATIONS:
        own = subject.implementations[name]
        sent = call_statement(subject, name) if own.in_sql else own.query
        planned = own.query if own.in_sql else None
        call = fetch_function(subject, name)
        implementations.append(Variant(name, name, sent, call, own.prepared_by_default, role=name, plan_sql=planned))
    before, after = implementations
    variants = [before, after, *_forced(after)]
    for reference in subject.references:
        call = _query(reference.query, subject.key.name)
        variant = Variant(reference.name, reference.name, reference.query, call, False, role=reference.role)
        variants += [variant, *(_forced(variant) if reference.role in FORCED_ROLES else [])]
    return {variant.name: variant for variant in variants}


def candidate_variants(candidate: Candidate) -> dict[str, Variant]:
    """A candidate as the bench times it: as written, and under each forced plan alternative."""
    if candidate.name in subject_variants(candidate.subject):
        raise CandidateError(
            shown(candidate.path), f"is named like the kit's own variant {candidate.name!r}: rename it"
        )
    variant = Variant(
        candidate.name, candidate.name, candidate.query, candidate.fetch, False, {}, shown(candidate.path)
    )
    return {v.name: v for v in (variant, *_forced(variant))}
