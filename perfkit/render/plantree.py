"""Plans drawn as trees, side by side: what a reviewer reads in an ``EXPLAIN (ANALYZE, BUFFERS)``
without reading its JSON. Each node shows its rows against the planner's estimate, its loops, the
blocks it touched and its time; a node absent from the reference plan (the optimized version's) at
the same place is marked, so that where two plans part is seen at a glance.

The drawing is the kit's own HTML and CSS (nested lists), so a page stays self-contained and offline.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from perfkit.measure.plans import node_label, plan_root

MISESTIMATE_FACTOR = 10.0
"""Actual rows this many times above or below the estimate are flagged: the planner was misled there."""


@dataclass(frozen=True)
class PlanNode:
    label: str
    rows: float
    estimated_rows: float
    loops: int
    blocks: int
    total_ms: float | None
    removed: int
    children: tuple[PlanNode, ...] = ()

    @property
    def misestimated(self) -> bool:
        actual, estimate = max(self.rows, 1.0), max(self.estimated_rows, 1.0)
        return actual / estimate >= MISESTIMATE_FACTOR or estimate / actual >= MISESTIMATE_FACTOR

    def figures(self) -> str:
        parts = [f"rows {self.rows:,.0f} (est. {self.estimated_rows:,.0f})"]
        if self.loops != 1:
            parts.append(f"loops {self.loops}")
        parts.append(f"{self.blocks:,} blocks")
        if self.removed:
            parts.append(f"{self.removed:,} removed")
        if self.total_ms is not None:
            parts.append(f"{self.total_ms:,.1f} ms")
        return " · ".join(parts)


def plan_tree(plan: Any) -> PlanNode:
    """The tree of a captured plan (a list or object as ``EXPLAIN (FORMAT JSON)`` returns it)."""

    def build(node: dict[str, Any]) -> PlanNode:
        return PlanNode(
            label=node_label(node),
            rows=float(node.get("Actual Rows", 0.0)),
            estimated_rows=float(node.get("Plan Rows", 0.0)),
            loops=int(node.get("Actual Loops", 1)),
            blocks=int(node.get("Shared Hit Blocks", 0)) + int(node.get("Shared Read Blocks", 0)),
            total_ms=float(node["Actual Total Time"]) if "Actual Total Time" in node else None,
            removed=int(node.get("Rows Removed by Filter", 0)) + int(node.get("Rows Removed by Index Recheck", 0)),
            children=tuple(build(child) for child in node.get("Plans", [])),
        )

    return build(plan_root(plan))


def _paths(node: PlanNode, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    path = (*prefix, node.label)
    yield path
    for child in node.children:
        yield from _paths(child, path)


def differing_paths(tree: PlanNode, reference: PlanNode) -> set[tuple[str, ...]]:
    """The nodes of ``tree`` (as label paths from the root) that ``reference`` has not at the same place."""
    return set(_paths(tree)) - set(_paths(reference))


@dataclass(frozen=True)
class DrawnPlan:
    """One variant's plan with the caption a reader needs: which variant, which kind of plan, after how many calls."""

    variant: str
    caption: str
    tree: PlanNode
    differs: frozenset[tuple[str, ...]] = field(default_factory=frozenset)


def drawn_plans(plans: Sequence[tuple[str, str, Any]], reference: str) -> list[DrawnPlan]:
    """(variant, caption, plan) drawn, each marked where it departs from the ``reference`` variant's plan."""
    trees = {variant: plan_tree(plan) for variant, _, plan in plans}
    base = trees.get(reference)
    return [
        DrawnPlan(variant, caption, trees[variant], frozenset(differing_paths(trees[variant], base) if base else ()))
        for variant, caption, _ in plans
    ]


def tree_text(drawn: DrawnPlan) -> str:
    """The tree as indented text (Markdown code block); ``≠`` marks a node the reference plan lacks."""
    lines: list[str] = []

    def walk(node: PlanNode, path: tuple[str, ...], depth: int) -> None:
        mark = "≠ " if path in drawn.differs else ""
        warning = " ⚠ estimate off" if node.misestimated else ""
        lines.append(f"{'   ' * depth}{'└─ ' if depth else ''}{mark}{node.label}  [{node.figures()}{warning}]")
        for child in node.children:
            walk(child, (*path, child.label), depth + 1)

    walk(drawn.tree, (drawn.tree.label,), 0)
    return "\n".join(lines)


def tree_html(drawn: DrawnPlan) -> str:
    def walk(node: PlanNode, path: tuple[str, ...]) -> str:
        classes = ["node"] + (["differs"] if path in drawn.differs else [])
        figures = html.escape(node.figures())
        if node.misestimated:
            figures += ' <span class="misestimate" title="actual rows 10× off the estimate">estimate off</span>'
        children = "".join(walk(child, (*path, child.label)) for child in node.children)
        nested = f"<ul>{children}</ul>" if children else ""
        return (
            f'<li><span class="{" ".join(classes)}">{html.escape(node.label)}</span>'
            f'<span class="figures">{figures}</span>{nested}</li>'
        )

    body = walk(drawn.tree, (drawn.tree.label,))
    caption = f'<h4>{html.escape(drawn.variant)}</h4><p class="note">{html.escape(drawn.caption)}</p>'
    return f'<div class="plan">{caption}<ul class="tree">{body}</ul></div>'


PLAN_STYLE = """
.plans { display: flex; gap: 1em; align-items: flex-start; overflow-x: auto; }
.plan { flex: 1 1 0; min-width: 18em; border: 1px solid #ddd; border-radius: 4px; padding: 0.5em; }
.plan h4 { margin: 0; }
ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1em; border-left: 1px solid #bbb; }
ul.tree { border-left: none; padding-left: 0; }
ul.tree li { margin: 0.3em 0; }
.node { font-weight: 600; display: block; }
.node.differs { background: #fcf3cf; outline: 1px solid #e0b800; }
.figures { display: block; font-size: 0.8em; color: #555; }
.misestimate { color: #a93226; font-weight: 600; }
details { margin: 1em 0; }
"""
