"""Tables a reader looks at: checks, plans, load latency and candidates, as DataFrames, and the one
Markdown table renderer every page uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from perfkit.judge import goals
from perfkit.judge.candidates import SPEED, CandidateOutcome
from perfkit.judge.capacity import loaded
from perfkit.judge.outcome import Check
from perfkit.measure.plans import buffers, plan_summary
from perfkit.measure.results import BenchRecord
from perfkit.measure.timing import percentile_interval

CHECK_COLUMNS = ["at", "target", "goal", "measured", "result", "note"]


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table (what pandas renders through tabulate), or a note when there is nothing to show."""
    if frame.empty:
        return "(no data)"
    return str(frame.to_markdown(index=False, floatfmt=",.3f", intfmt=","))


def checks_frame(checks: Sequence[Check]) -> pd.DataFrame:
    """The target table, as notebooks display it and summary.md, report.md and report.html render it."""
    return pd.DataFrame.from_records(
        [
            {
                "at": c.at,
                "target": c.name,
                "goal": c.goal,
                "measured": c.measured,
                "result": c.result.value,
                "note": c.note,
            }
            for c in checks
        ],
        columns=CHECK_COLUMNS,
    )


CONCURRENCY_COLUMNS = [
    "scenario", "variant", "clients", "samples", "p50_ms", "p99_ms", "p99_label", "p99_ci_ms",
    "calls_per_second", "server_cpu_ms_per_call", "parallel_workers",
]  # fmt: skip


def concurrency_table(record: BenchRecord) -> pd.DataFrame:
    """One row per loaded scenario, variant and client count: latency percentiles with their sample
    counts and the p99's interval, calls per second, and the server's CPU per call (workers included)."""
    rows = []
    for (scope, n), variants in loaded(record).items():
        for variant, series in variants.items():
            for s in sorted(series, key=lambda s: s.clients):
                low, high = percentile_interval(s.seconds, 99.0, confidence=goals.P99_CONFIDENCE)
                rows.append(
                    {
                        "scenario": f"{scope} N={n:,}",
                        "variant": variant,
                        **s.figures(),
                        "p99_ci_ms": f"{low * 1000:.1f}–{high * 1000:.1f}",
                    }
                )
    return pd.DataFrame.from_records(rows, columns=CONCURRENCY_COLUMNS)


def plans_table(record: BenchRecord) -> pd.DataFrame:
    """One row per scenario and variant: plan kind, shape and the figures of its last EXPLAIN ANALYZE."""
    rows = []
    for key, variants in record.plans.items():
        for variant, captured in variants.items():
            facts = plan_summary(captured["plan"])
            rows.append(
                {
                    "scenario": key,
                    "variant": variant,
                    "kind": captured["kind"],
                    "calls": captured["calls_on_connection"],
                    "plan": captured["shape"],
                    "changed": ""
                    if captured["start_shape"] == captured["shape"]
                    else f"from {captured['start_shape']}",
                    "workers": facts["workers_launched"],
                    "buffers": buffers(facts),
                    "execution_ms": facts["execution_ms"],
                }
            )
    return pd.DataFrame.from_records(rows)


def instructions_table(record: BenchRecord) -> pd.DataFrame:
    """Instructions of one warm call (millions) by N: the backend's per variant, the client's per implementation."""
    rows: dict[int, dict[str, Any]] = {}
    for call in record.instructions:
        rows.setdefault(int(call["n"]), {})[f"backend {call['variant']}"] = round(call["instructions"] / 1e6, 3)
    for call in record.client_instructions:
        rows.setdefault(int(call["n"]), {})[f"client {call['implementation']}"] = round(call["instructions"] / 1e6, 3)
    frame = pd.DataFrame.from_dict(rows, orient="index").sort_index()
    frame.index = [f"{n:,}" for n in frame.index]  # a label, not a figure to format with decimals
    return frame.rename_axis("N").reset_index()


def profile_table(record: BenchRecord) -> pd.DataFrame:
    """The optimized call's backend functions by instructions with their callees, and on their own."""
    counts = record.instruction_counts("after")
    if not record.instruction_profile or not counts:
        return pd.DataFrame()
    total = counts[max(counts)]
    return pd.DataFrame.from_records(
        {
            "function": entry["function"],
            "with callees (M)": round(entry["inclusive"] / 1e6, 2),
            "% of call": round(100 * entry["inclusive"] / total, 1),
            "own (M)": round(entry["own"] / 1e6, 2),
        }
        for entry in record.instruction_profile
    )


def serial_plans_table(record: BenchRecord) -> pd.DataFrame:
    """What each variant's serial plan reads: blocks (hit + read), temporary blocks, rows filtered out."""
    columns = ["scope", "n", "variant", "shared_blocks", "temp_blocks", "rows_removed", "shape_hash", "shape"]
    return pd.DataFrame.from_records(record.serial_plans, columns=columns)


def load_latency_table(summaries: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Latency under load by implementation and the key's size, percentiles labelled with their sample counts."""
    found = []
    for implementation, summary in summaries.items():
        for size, stats in summary["latency_ms_by_events"].items():
            found.append(
                {
                    "implementation": implementation,
                    "rows": int(size),
                    **{f"{name}_ms": stat["ms"] for name, stat in stats.items()},
                    "p99_label": stats["p99"]["label"],
                }
            )
    return pd.DataFrame.from_records(found)


def candidates_frame(outcomes: Sequence[CandidateOutcome]) -> pd.DataFrame:
    """One row per candidate and N: parity, then the ratio of medians to the optimized version."""
    rows = []
    for outcome in outcomes:
        speeds = [check for check in outcome.checks if check.name == SPEED]
        parity = "refused" if outcome.refused else "holds"
        cells = [(check.at, check.measured) for check in speeds] or [("", outcome.parity)]
        rows += [
            {"candidate": outcome.candidate, "parity": parity, "at": at, "candidate / optimized": measured}
            for at, measured in cells
        ]
    return pd.DataFrame.from_records(rows, columns=["candidate", "parity", "at", "candidate / optimized"])
