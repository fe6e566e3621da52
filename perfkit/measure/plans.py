"""Plans as measurements: the plan a connection really runs, captured, and the facts a reviewer reads in it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql


def _nodes(plan: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each node of a plan, depth first, with its label: type, parallel mode, and index used."""

    def walk(node: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        yield node_label(node), node
        for child in node.get("Plans", []):
            yield from walk(child)

    yield from walk(plan_root(plan))


def node_label(node: dict[str, Any]) -> str:
    """A plan node as a reader names it: its type, parallel mode and the index it uses."""
    name = str(node.get("Node Type", "?"))
    if node.get("Partial Mode", "Simple") != "Simple":
        name = f"{node['Partial Mode']} {name}"
    if node.get("Parallel Aware"):
        name = f"Parallel {name}"
    if "Index Name" in node:
        name = f"{name} using {node['Index Name']}"
    return name


def plan_root(plan: Any) -> dict[str, Any]:
    """The top node of an ``EXPLAIN (FORMAT JSON)`` plan."""
    top: dict[str, Any] = _root(plan)["Plan"]
    return top


def _root(plan: Any) -> dict[str, Any]:
    root: dict[str, Any] = plan[0] if isinstance(plan, list) else plan
    return root


def plan_shape(plan: Any) -> str:
    """The plan without its figures: node types, parallel modes and the indexes used, and whether its
    expressions are compiled (JIT changes no node, yet it is another way to run the plan)."""
    shape = " → ".join(name for name, _ in _nodes(plan))
    return f"{shape} + JIT" if "JIT" in _root(plan) else shape


def plan_summary(plan: Any) -> dict[str, Any]:
    """Shape, parallel workers, buffers, timings and JIT of one plan."""
    root = _root(plan)
    nodes = [node for _, node in _nodes(plan)]
    return {
        "nodes": plan_shape(plan),
        "workers_planned": max(int(node.get("Workers Planned", 0)) for node in nodes),
        "workers_launched": max(int(node.get("Workers Launched", 0)) for node in nodes),
        "shared_hit_blocks": root["Plan"].get("Shared Hit Blocks"),
        "shared_read_blocks": root["Plan"].get("Shared Read Blocks"),
        "execution_ms": root.get("Execution Time"),
        "planning_ms": root.get("Planning Time"),
        "jit": "JIT" in root,
    }


def jit_available(conn: psycopg.Connection[Any]) -> bool:
    """Whether the server can compile plans (a JIT provider is installed), whatever its ``jit`` setting."""
    with conn.transaction():
        conn.execute("SET LOCAL jit = on", prepare=False)
        row = conn.execute("SELECT pg_jit_available()", prepare=False).fetchone()
    return bool(row and row[0])


_NAMED_PARAMETER = re.compile(r"%\((\w+)\)s")


def serial_facts(conn: psycopg.Connection[Any], query: str, key: int) -> dict[str, Any]:
    """What one call's serial plan reads, from ``EXPLAIN (ANALYZE, BUFFERS)`` with parallelism off:
    figures that do not depend on the machine (the split of hits and reads does, on the cache; their
    sum does not), against any server. The plan's shape is hashed so two runs compare at a glance."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0", prepare=False)
        cur.execute(_EXPLAIN + query, call_parameters(query, key), prepare=False)
        row = cur.fetchone()
    assert row is not None
    plan = row[0]
    top = plan_root(plan)
    nodes = [node for _, node in _nodes(plan)]
    shape = plan_shape(plan)
    return {
        "shape": shape,
        "shape_hash": hashlib.sha256(shape.encode()).hexdigest()[:12],
        "shared_blocks": int(top.get("Shared Hit Blocks", 0)) + int(top.get("Shared Read Blocks", 0)),
        "temp_blocks": int(top.get("Temp Read Blocks", 0)) + int(top.get("Temp Written Blocks", 0)),
        "rows_removed": sum(
            int(node.get("Rows Removed by Filter", 0)) + int(node.get("Rows Removed by Index Recheck", 0))
            for node in nodes
        ),
    }


def buffers(facts: Mapping[str, Any]) -> int:
    """Shared buffers a plan touched, hit or read."""
    return int(facts["shared_hit_blocks"] or 0) + int(facts["shared_read_blocks"] or 0)


@dataclass(frozen=True)
class CapturedPlan:
    """The plan a connection runs for a query now: ``generic`` once PostgreSQL's plan cache has
    switched a prepared statement to its generic plan, else ``custom`` (planned for this value)."""

    kind: str
    prepared: bool
    plan: Any
    generic_plans: int = 0
    custom_plans: int = 0

    @property
    def shape(self) -> str:
        return plan_shape(self.plan)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "shape": self.shape}


def call_parameters(query: str, key: int) -> dict[str, int] | tuple[int]:
    """The parameters of one call: a query names its key (``%(name)s``) or takes it positionally (``%s``)."""
    named = set(_NAMED_PARAMETER.findall(query))
    return dict.fromkeys(named, key) if named else (key,)


def capture_plan(conn: psycopg.Connection[Any], query: str, key: int, *, analyze: bool = True) -> CapturedPlan:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of what ``conn`` runs for ``query`` now, through the same path;
    ``analyze=False``: the plan alone, without running it (its shape and kind, not its figures).

    On a connection where psycopg has prepared the query, that is ``EXPLAIN EXECUTE`` of the
    prepared statement, which takes PostgreSQL's plan-cache decision exactly as the next call
    would. The connection must hold at most that one prepared statement (the bench gives each
    variant a connection of its own), and the kit's own statements are sent unprepared.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE NOT from_sql",
            prepare=False,
        )
        prepared = cur.fetchall()
        if len(prepared) > 1:
            raise ValueError(f"{len(prepared)} prepared statements on one connection: which one ran is unknown")
        explain = _EXPLAIN if analyze else _EXPLAIN_ONLY
        if prepared:
            name, generic, custom = prepared[0]
            statement = sql.SQL("EXECUTE {}({})").format(sql.Identifier(name), sql.Literal(key))
            cur.execute(sql.SQL(explain) + statement, prepare=False)
        else:
            generic = custom = 0
            cur.execute(explain + query, call_parameters(query, key), prepare=False)
        row = cur.fetchone()
    assert row is not None
    kind = "generic" if prepared and generic > 0 else "custom"
    return CapturedPlan(kind, bool(prepared), row[0], int(generic), int(custom))


_EXPLAIN = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "
_EXPLAIN_ONLY = "EXPLAIN (FORMAT JSON) "
