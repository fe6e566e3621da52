"""summary.md of a bench run: the target table first, then the tables, plans and figures behind it."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from evaluation.checks import Check, checks_frame
from evaluation.plans import buffers, plan_summary
from evaluation.results import MB, BenchRecord, latency_table, memory_table
from evaluation.scaling import ratio

LATENCY_SUMMARY_COLUMNS = ["scope", "variant", "n", "samples", "median_ms", "p95_ms", "p99_ms", "p99_label"]
LATENCY_CHECKS = ("p99 latency, optimized", "median over the count(*) floor")


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
    evidence = latency_evidence(record, checks)
    if evidence:
        lines += ["## Evidence behind the missed latency targets", "", *(f"- {line}" for line in evidence), ""]
    lines += ["## Scaling of peak memory with N (log-log fit)", ""]
    for implementation in ("before", "after"):
        fit = record.memory_fit(implementation)
        if fit is not None:
            lines.append(
                f"- {implementation}: slope {fit.slope:+.3f}, R² {fit.r_squared:.3f}, "
                f"growth {fit.growth / MB:+.2f} MB: **{fit.verdict}**"
            )
    lines += ["", "## Plan of the optimized query", ""]
    for key, plan in record.plans.items():
        facts = plan_summary(plan)
        lines.append(
            f"- {key}: {facts['nodes']}; workers {facts['workers_launched']}/{facts['workers_planned']}; "
            f"buffers hit {facts['shared_hit_blocks']}, read {facts['shared_read_blocks']}; "
            f"execution {facts['execution_ms']:.1f} ms; JIT {'on' if facts['jit'] else 'off'}"
        )
    if figures:
        lines += ["", "## Figures", "", *(f"![{name}]({path})" for name, path in figures.items())]
    if record.flamegraphs:
        lines += ["", "## memray flamegraphs (largest N)", ""]
        lines += [f"- [{impl}]({path})" for impl, path in record.flamegraphs.items()]
    if record.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in record.notes)]
    return "\n".join(lines) + "\n"


def latency_evidence(record: BenchRecord, checks: Sequence[Check]) -> list[str]:
    """What this run measured around a failed latency target: plans, floors and settings, no prose
    about the implementation (which would go stale as soon as the query changes)."""
    if not any(c.passed is False and c.name in LATENCY_CHECKS for c in checks):
        return []
    focus = record.latency_focus()
    if focus is None:
        return []
    scope, n = focus
    key = f"{scope} N={n:,}"
    lines = []
    optimized = plan_summary(record.plans[key]) if key in record.plans else None
    floor = plan_summary(record.floor_plans[key]) if key in record.floor_plans else None
    if optimized is not None:
        lines.append(
            f"optimized query at {key}: {optimized['nodes']}; {buffers(optimized):,} shared buffers; "
            f"{optimized['workers_launched']} parallel workers; JIT {'on' if optimized['jit'] else 'off'}"
        )
    if floor is not None:
        fewer = ratio(buffers(optimized), buffers(floor)) if optimized else math.nan
        lines.append(
            f"count(*) floor at {key}: {floor['nodes']}; {buffers(floor):,} shared buffers "
            f"({fewer:.1f}× fewer than the optimized query)"
        )
    after_median = record.median_seconds("after", n, scope)
    scan_median = record.median_seconds("scan_floor", n, scope)
    if not math.isnan(scan_median):
        lines.append(
            f"count(metadata), which reads the same rows and computes nothing: median {scan_median * 1000:.1f} ms; "
            f"optimized median {after_median * 1000:.1f} ms ({ratio(after_median, scan_median):.2f}×)"
        )
    settings = record.environment.get("server", {}).get("settings", {})
    shown = ", ".join(f"{k}={v}" for k, v in settings.items())
    lines.append(f"settings: {shown}; {record.environment.get('cpu_count')} CPUs")
    return lines
