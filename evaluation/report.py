"""report.json and report.md of a batch: assembled from what each notebook declared in its manifest."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from evaluation.batch import BatchRun
from evaluation.checks import Check, checks_frame
from evaluation.outputs import write_new
from evaluation.summary import markdown_table
from evaluation.trial import TrialOutcome, candidates_frame

REPORT_SCHEMA_VERSION = 2
BENCH_FIGURES = ("latency_vs_n", "memory_vs_n", "ratios_vs_n")
LOAD_FIGURES = ("rss_over_time", "latency_under_load")


@dataclass
class ReportInputs:
    """What the notebooks of one batch produced, read from their manifests."""

    parity: dict[str, Any] | None = None
    bench: dict[str, Any] | None = None
    bench_dir: Path | None = None
    load: dict[str, Any] | None = None
    load_dir: Path | None = None
    candidates: dict[str, Any] | None = None

    @property
    def checks(self) -> list[Check]:
        found = []
        if self.bench is not None:
            found += self.bench["derived"]["checks"]
        if self.load is not None:
            found += self.load["checks"]
        return [Check.from_json(check) for check in found]


def collect_inputs(run: BatchRun) -> ReportInputs:
    inputs = ReportInputs()
    for outcome in run.outcomes:
        for kind, path in outcome.outputs.items():
            document = json.loads(Path(path).read_text())
            if kind == "parity":
                inputs.parity = document
            elif kind == "bench":
                inputs.bench, inputs.bench_dir = document, Path(path).parent
            elif kind == "loadtest":
                inputs.load, inputs.load_dir = document, Path(path).parent
            elif kind == "candidates":
                inputs.candidates = document
    return inputs


def write_report(run: BatchRun) -> dict[str, Path]:
    """report.json (everything behind the report, paths relative to it) and report.md."""
    directory = run.directory
    inputs = collect_inputs(run)
    checks = inputs.checks
    document: dict[str, Any] = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": run.quick,
        "complete": not run.failed,
        "notebooks": run.outcomes_json(),
        "environment": inputs.bench["environment"] if inputs.bench else None,
        "targets": [check.to_json() for check in checks],
        "parity": inputs.parity,
        "bench": _relative_dir(inputs.bench_dir, directory),
        "load": _relative_dir(inputs.load_dir, directory),
        "candidates": inputs.candidates,
    }
    return {
        "json": write_new(directory / "report.json", json.dumps(document, indent=2, allow_nan=True) + "\n"),
        "markdown": write_new(directory / "report.md", render_report(run, inputs)),
    }


def _relative_dir(path: Path | None, directory: Path) -> str | None:
    return str(path.relative_to(directory)) if path is not None else None


def render_report(run: BatchRun, inputs: ReportInputs) -> str:
    directory = run.directory
    lines = [
        "# fetch_user_activity_summary: before vs after",
        "",
        f"Report {directory.name} ({'quick, CI-scale parameters' if run.quick else 'full scale'}). "
        f"{len(run.outcomes) - len(run.failed)} of {len(run.outcomes)} notebooks ran to the end.",
        "",
    ]
    if run.failed:
        lines += ["## Failed notebooks", "", *(f"- {outcome.error_line}" for outcome in run.failed), ""]
    lines += ["## Targets", ""]
    checks = inputs.checks
    lines.append(markdown_table(checks_frame(checks)) if checks else "No bench or load results to judge.")
    lines += ["", "## Parity", ""]
    if inputs.parity:
        lines += [f"- {report['verdict']}" for report in inputs.parity["reports"]]
        lines.append(f"- all agree: **{inputs.parity['all_agree']}**")
    else:
        lines.append("No parity results: the parity notebook did not finish.")
    if inputs.bench is not None and inputs.bench_dir is not None:
        rel = inputs.bench_dir.relative_to(directory)
        fits = inputs.bench["derived"]["memory_fits"]
        lines += ["", "## Scaling", ""]
        lines += [f"- {impl}: peak memory {fit['verdict']} (slope {fit['slope']:+.3f})" for impl, fit in fits.items()]
        lines += ["", *_figures(inputs.bench_dir, rel, BENCH_FIGURES)]
        lines += ["", f"Full tables, plans and flamegraphs: [{rel}/summary.md]({rel}/summary.md)"]
    if inputs.load_dir is not None:
        rel = inputs.load_dir.relative_to(directory)
        lines += ["", "## Load", "", *_figures(inputs.load_dir, rel, LOAD_FIGURES)]
    if inputs.candidates is not None:
        outcomes = [TrialOutcome(**outcome) for outcome in inputs.candidates["candidates"]]
        lines += ["", "## Candidates", "", markdown_table(candidates_frame(outcomes))]
    lines += ["", "## Notebooks", "", "| notebook | result | seconds | parameters |", "|---|---|---|---|"]
    for outcome in run.outcomes:
        params = ", ".join(f"{k}={v!r}" for k, v in outcome.parameters.items() if k != "output_dir")
        result = "ok" if outcome.ok else "FAILED"
        lines.append(
            f"| [{outcome.name}]({Path(outcome.executed).name}) | {result} | {outcome.seconds:.0f} | {params} |"
        )
    return "\n".join(lines) + "\n"


def _figures(source: Path, relative: Path, stems: tuple[str, ...]) -> list[str]:
    return [f"![{stem}]({relative}/{stem}.png)" for stem in stems if (source / f"{stem}.png").exists()]
