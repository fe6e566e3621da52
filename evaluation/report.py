"""report.json and report.md of a batch run: what a reviewer reads first."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.batch import BatchRun, outcomes_json, read_json
from evaluation.results import load_record
from evaluation.targets import TargetCheck, check_targets, memory_verdicts

REPORT_SCHEMA_VERSION = 1


def write_report(run: BatchRun) -> dict[str, Path]:
    """Collect every notebook's saved results into report.json and render report.md."""
    directory = run.directory
    parity = read_json(directory / "01_parity" / "parity.json")
    bench_dirs = sorted((directory / "02_scaling").glob("bench-*/results.json"))
    bench = load_record(bench_dirs[-1]) if bench_dirs else None
    checks = check_targets(bench) if bench else []
    load_files = sorted((directory / "03_load").glob("load-*/load.json"))
    load = read_json(load_files[-1]) if load_files else None
    if load is not None:
        load["directory"] = str(load_files[-1].parent.relative_to(directory))
    document: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": run.quick,
        "complete": not run.failed,
        "notebooks": outcomes_json(run),
        "environment": bench.environment if bench else None,
        "targets": [
            {"name": c.name, "goal": c.target, "measured": c.measured, "result": c.status, "note": c.note}
            for c in checks
        ],
        "parity": parity,
        "bench": {"directory": str(bench_dirs[-1].parent.relative_to(directory)), **bench.to_json()} if bench else None,
        "load": load,
    }
    paths = {"json": directory / "report.json", "markdown": directory / "report.md"}
    paths["json"].write_text(json.dumps(document, indent=2, allow_nan=True) + "\n")
    bench_dir = bench_dirs[-1].parent if bench_dirs else None
    paths["markdown"].write_text(render_report(run, checks, parity, bench_dir, load))
    return paths


def render_report(
    run: BatchRun,
    checks: list[TargetCheck],
    parity: dict[str, Any] | None,
    bench_dir: Path | None,
    load: dict[str, Any] | None,
) -> str:
    directory = run.directory
    lines = [
        "# fetch_user_activity_summary: before vs after",
        "",
        f"Report {directory.name} ({'quick, CI-scale parameters' if run.quick else 'full scale'}). "
        f"{len(run.outcomes) - len(run.failed)} of {len(run.outcomes)} notebooks ran to the end.",
        "",
    ]
    if run.failed:
        lines += ["## Failed notebooks", ""]
        lines += [f"- {outcome.error_line}" for outcome in run.failed]
        lines.append("")
    lines += ["## Targets", ""]
    if checks:
        lines += ["| target | goal | measured | result | note |", "|---|---|---|---|---|"]
        lines += [f"| {c.name} | {c.target} | {c.measured} | **{c.status}** | {c.note} |" for c in checks]
    else:
        lines.append("No bench results: the scaling notebook did not finish.")
    lines += ["", "## Parity", ""]
    if parity:
        lines += [f"- {report['verdict']}" for report in parity["reports"]]
        lines.append(f"- all agree: **{parity['all_agree']}**")
    else:
        lines.append("No parity results: the parity notebook did not finish.")
    if bench_dir is not None:
        record = load_record(bench_dir / "results.json")
        rel = os.path.relpath(bench_dir, directory)
        lines += ["", "## Scaling", "", *(f"- {line}" for line in memory_verdicts(record)), ""]
        for stem in ("latency_vs_n", "memory_vs_n", "ratios_vs_n"):
            if (bench_dir / f"{stem}.png").exists():
                lines.append(f"![{stem}]({rel}/{stem}.png)")
        lines += ["", f"Full tables, plans and flamegraphs: [{rel}/summary.md]({rel}/summary.md)"]
    if load:
        lines += ["", "## Load", "", *(f"- {line}" for line in load.get("verdicts", []))]
        for stem in ("rss_over_time", "latency_under_load"):
            lines.append(f"![{stem}]({load['directory']}/{stem}.png)")
    lines += ["", "## Notebooks", "", "| notebook | result | seconds | parameters |", "|---|---|---|---|"]
    for outcome in run.outcomes:
        params = ", ".join(f"{k}={v!r}" for k, v in outcome.parameters.items() if k != "output_dir")
        name = Path(outcome.executed).name
        result = "ok" if outcome.ok else "FAILED"
        lines.append(f"| [{outcome.name}]({name}) | {result} | {outcome.seconds:.0f} | {params} |")
    return "\n".join(lines) + "\n"
