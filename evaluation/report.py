"""report.json, report.md and report.html of a batch: assembled from what each notebook declared in its
manifest, and compared with the previous report of the same folder when there is one."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.batch import BatchRun
from evaluation.checks import Check, checks_frame
from evaluation.diff import RunDiff, diff_runs, load_run
from evaluation.errors import KitError
from evaluation.htmlreport import checks_html, figures_html, link, notebook_html, paragraphs, table_html, write_page
from evaluation.outputs import INCOMPLETE, write_new
from evaluation.results import read_record
from evaluation.summary import markdown_table, plans_table
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


def previous_report(directory: Path) -> Path | None:
    """The latest finished report before ``directory`` in its folder whose bench results can be read."""
    earlier = sorted(
        (p for p in directory.parent.iterdir() if p.is_dir() and p.name < directory.name),
        reverse=True,
    )
    for candidate in earlier:
        if (candidate / "report.json").is_file() and not (candidate / INCOMPLETE).exists():
            try:
                load_run(candidate)
            except (KitError, KeyError, ValueError):  # an older format, or a report without a bench
                continue
            return candidate
    return None


def compare_with_previous(directory: Path, inputs: ReportInputs) -> RunDiff | None:
    previous = previous_report(directory)
    if previous is None or inputs.bench_dir is None:
        return None
    current = load_run(inputs.bench_dir)
    comparison = diff_runs(load_run(previous), replace(current, name=directory.name))
    write_new(directory / "diff.md", comparison.markdown())
    write_new(directory / "diff.json", json.dumps(comparison.to_json(), indent=2, allow_nan=True) + "\n")
    return comparison


def write_report(run: BatchRun) -> dict[str, Path]:
    """report.json (everything behind the report, paths relative to it), report.md and report.html."""
    directory = run.directory
    inputs = collect_inputs(run)
    checks = inputs.checks
    comparison = compare_with_previous(directory, inputs) if inputs.bench is not None else None
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
        "compared_with": comparison.a if comparison else None,
    }
    return {
        "json": write_new(directory / "report.json", json.dumps(document, indent=2, allow_nan=True) + "\n"),
        "markdown": write_new(directory / "report.md", render_report(run, inputs, comparison)),
        "html": write_page(directory / "report.html", _title(run), html_sections(run, inputs, comparison)),
    }


def _title(run: BatchRun) -> str:
    scale = "quick, CI-scale parameters" if run.quick else "full scale"
    return f"fetch_user_activity_summary: before vs after — report {run.directory.name} ({scale})"


def comparison_lines(comparison: RunDiff) -> list[str]:
    lines = [f"Compared with report {comparison.a} (diff.md, diff.json)."]
    if comparison.environment:
        fields = ", ".join(str(row["field"]) for row in comparison.environment)
        lines.append(f"The environments differ ({fields}): the comparison is doubtful.")
    ratios = comparison.significant_ratios()
    lines.append(
        f"{len(ratios)} of {len(comparison.ratios)} ratios changed significantly"
        + (": " + "; ".join(f"{r['ratio']} at N={r['n']:,} ({r['change']:.2f}×)" for r in ratios) if ratios else ".")
    )
    slower = comparison.regressions(0.0)
    lines.append(f"{len(slower)} of {len(comparison.latency)} latencies are significantly slower (any amount).")
    if comparison.plans:
        lines.append(f"{len(comparison.plans)} plan shapes changed.")
    return lines


def html_sections(run: BatchRun, inputs: ReportInputs, comparison: RunDiff | None) -> list[tuple[str, str]]:
    """The page: targets and verdicts first, then the figures, plans, candidates and notebooks behind them."""
    directory = run.directory
    intro = f"{len(run.outcomes) - len(run.failed)} of {len(run.outcomes)} notebooks ran to the end." + "".join(
        f" {outcome.error_line}." for outcome in run.failed
    )
    sections = [("", f'<p class="note">{html.escape(intro)}</p>'), ("Targets", checks_html(inputs.checks))]
    if comparison is not None:
        body = paragraphs(comparison_lines(comparison))
        if comparison.significant_ratios():
            body += table_html(pd.DataFrame.from_records(comparison.significant_ratios()))
        sections.append(("Compared with the previous report", body))
    if inputs.parity:
        verdicts = [report["verdict"] for report in inputs.parity["reports"]]
        sections.append(("Parity", paragraphs([*verdicts, f"all agree: {inputs.parity['all_agree']}"])))
    if inputs.bench_dir is not None:
        rel = inputs.bench_dir.relative_to(directory)
        record = read_record(inputs.bench_dir / "results.json")
        links = [link(f"{rel}/summary.md", "summary.md (every table)")]
        links += [link(f"{rel}/{name}", f"memray flamegraph, {impl}") for impl, name in record.flamegraphs.items()]
        sections.append(("Scaling", figures_html(inputs.bench_dir, BENCH_FIGURES) + "<p>" + " · ".join(links) + "</p>"))
        sections.append(("Plans that ran", table_html(plans_table(record))))
    if inputs.load_dir is not None:
        sections.append(("Load", figures_html(inputs.load_dir, LOAD_FIGURES)))
    if inputs.candidates is not None:
        outcomes = [TrialOutcome(**outcome) for outcome in inputs.candidates["candidates"]]
        sections.append(("Candidates", table_html(candidates_frame(outcomes))))
    for outcome in run.outcomes:
        executed = Path(outcome.executed)
        if executed.is_file():
            sections.append(
                (f"Notebook {outcome.name}", f'<section class="notebook">{notebook_html(executed)}</section>')
            )
    return sections


def _relative_dir(path: Path | None, directory: Path) -> str | None:
    return str(path.relative_to(directory)) if path is not None else None


def render_report(run: BatchRun, inputs: ReportInputs, comparison: RunDiff | None = None) -> str:
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
    if comparison is not None:
        lines += [
            "## Compared with the previous report",
            "",
            *(f"- {line}" for line in comparison_lines(comparison)),
            "",
        ]
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
