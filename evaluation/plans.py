"""Reading plans: the facts of an ``EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)`` a reviewer looks for."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd


def plan_summary(plan: Any) -> dict[str, Any]:
    """Node chain, parallel workers, buffers, timings and JIT of one plan."""
    root = plan[0] if isinstance(plan, list) else plan
    nodes: list[str] = []
    facts: dict[str, Any] = {"workers_planned": 0, "workers_launched": 0}

    def walk(node: dict[str, Any]) -> None:
        name = node.get("Node Type", "?")
        if node.get("Partial Mode", "Simple") != "Simple":
            name = f"{node['Partial Mode']} {name}"
        if node.get("Parallel Aware"):
            name = f"Parallel {name}"
        nodes.append(name)
        for key, fact in (("Workers Planned", "workers_planned"), ("Workers Launched", "workers_launched")):
            facts[fact] = max(facts[fact], int(node.get(key, 0)))
        for child in node.get("Plans", []):
            walk(child)

    walk(root["Plan"])
    return {
        "nodes": " → ".join(nodes),
        **facts,
        "shared_hit_blocks": root["Plan"].get("Shared Hit Blocks"),
        "shared_read_blocks": root["Plan"].get("Shared Read Blocks"),
        "execution_ms": root.get("Execution Time"),
        "planning_ms": root.get("Planning Time"),
        "jit": "JIT" in root,
    }


def buffers(facts: Mapping[str, Any]) -> int:
    """Shared buffers a plan touched, hit or read."""
    return int(facts["shared_hit_blocks"] or 0) + int(facts["shared_read_blocks"] or 0)


def plans_frame(plans: Mapping[str, Any]) -> pd.DataFrame:
    """One row per scenario with the facts of its plan."""
    return pd.DataFrame.from_records([{"scenario": key, **plan_summary(plan)} for key, plan in plans.items()])
