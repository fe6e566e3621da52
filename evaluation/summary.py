"""summary.md of a bench run: the target table first, then the tables, plans and figures behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from evaluation.checks import Check, checks_frame
from evaluation.plans import buffers, plan_summary
from evaluation.results import MB, BenchRecord, latency_table, memory_table

LATENCY_SUMMARY_COLUMNS = [
    "scope",
    "connection",
    "variant",
    "n",
    "samples",
    "median_ms",
    "p95_ms",
    "p99_ms",
    "p99_label",
]


def markdown_table(frame: pd.DataFrame) -> str:
    """A pipe table (what pandas renders through tabulate), or a note when there is nothing to show."""
    if frame.empty:
        return "(no data)"
    return str(frame.to_markdown(index=False, floatfmt=",.3f", intfmt=","))


def run_header(record: BenchRecord) -> str:
    params, env = record.parameters, record.environment
    server = env.get("server", {})
    return (
        f"Run {record.created_at}{'' if record.complete else ' — INCOMPLETE: the run stopped early'}; "
        f"commit {str(env.get('git_commit'))[:12]}; {env.get('cpu_count')} CPUs; "
        f"{str(server.get('version', '')).split(' on ')[0]} "
        f"({'embedded' if server.get('embedded') else 'DATABASE_URL'}); "
        f"settings {', '.join(f'{k}={v}' for k, v in server.get('settings', {}).items())}; "
        f"instance {params.get('instance')} ({'quick' if params.get('quick') else 'full'})."
    )


def render_summary(record: BenchRecord, checks: Sequence[Check], figures: Mapping[str, str]) -> str:
    lines = [
        "# Benchmark: before vs after",
        "",
        run_header(record),
        "",
        "## Targets",
        "",
        markdown_table(checks_frame(checks)),
        "",
        "## Latency (ms; percentiles labelled with their sample counts)",
        "",
        markdown_table(latency_table(record)[LATENCY_SUMMARY_COLUMNS]),
        "",
        "## Memory of one call (fresh process, memray with native traces)",
        "",
        markdown_table(memory_table(record)),
        "",
    ]
    lines += ["## Scaling of peak memory with N (log-log fit)", ""]
    for implementation in ("before", "after"):
        fit = record.memory_fit(implementation)
        if fit is not None:
            lines.append(
                f"- {implementation}: slope {fit.slope:+.3f}, R² {fit.r_squared:.3f}, "
                f"growth {fit.growth / MB:+.2f} MB: **{fit.verdict}**"
            )
    lines += [
        "",
        "## Plans that ran",
        "",
        "Captured on each variant's own connection after its samples (`EXPLAIN (ANALYZE, BUFFERS)` through the "
        "same path: `EXECUTE` of the prepared statement where psycopg prepared one). `changed` names a plan "
        "whose shape differed before the samples.",
        "",
        markdown_table(plans_table(record)),
        "",
    ]
    if figures:
        lines += ["", "## Figures", "", *(f"![{name}]({path})" for name, path in figures.items())]
    if record.flamegraphs:
        lines += ["", "## memray flamegraphs (largest N)", ""]
        lines += [f"- [{impl}]({path})" for impl, path in record.flamegraphs.items()]
    if record.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in record.notes)]
    return "\n".join(lines) + "\n"


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
