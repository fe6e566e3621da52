"""report.json, report.md and report.html of a batch: assembled from what each notebook declared in its
manifest, rendered from one list of sections."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from perfkit.errors import KitError
from perfkit.judge.candidates import CandidateOutcome
from perfkit.judge.diff import RunDiff
from perfkit.judge.outcome import Check
from perfkit.measure.results import BenchRecord
from perfkit.record.batch import BatchRun, NotebookOutcome
from perfkit.record.format import Kind, bench_checks_of, bench_record, load_bench, read_record, write_record
from perfkit.record.history import HistoryPoint, requirement_scenario
from perfkit.render.diff import comparison_lines
from perfkit.render.figures import save_figure
from perfkit.render.glossary import glossary
from perfkit.render.history import history_figure, history_frame
from perfkit.render.plantree import drawn_plans
from perfkit.render.sections import (
    Collapsed,
    Figures,
    Links,
    Notebook,
    Plans,
    Section,
    Table,
    Terms,
    Text,
    to_html,
    write_pages,
)
from perfkit.render.summary import CONCURRENCY_NOTE
from perfkit.render.tables import (
    candidates_frame,
    checks_frame,
    concurrency_table,
    instructions_table,
    plans_table,
    profile_table,
    serial_plans_table,
)
from perfkit.render.verdict import verdict_lines
from perfkit.subject import load_subject

BENCH_FIGURES = ("latency_vs_n", "memory_vs_n", "ratios_vs_n")
LOAD_FIGURES = ("rss_over_time", "latency_under_load")
MANIFEST_KINDS: dict[str, Kind] = {"parity": "parity", "bench": "bench", "loadtest": "load", "candidates": "candidates"}
"""The outputs a notebook may declare in its manifest, and the record kind each one is."""


@dataclass
class ReportInputs:
    """What the notebooks of one batch produced, read from their manifests through the record loader."""

    parity: dict[str, Any] | None = None
    bench: dict[str, Any] | None = None
    bench_dir: Path | None = None
    load: dict[str, Any] | None = None
    load_dir: Path | None = None
    candidates: dict[str, Any] | None = None
    candidates_dir: Path | None = None

    @property
    def checks(self) -> list[Check]:
        found = bench_checks_of(self.bench) if self.bench is not None else []
        if self.load is not None:
            found += [Check.from_json(check) for check in self.load["checks"]]
        return found

    @property
    def record(self) -> BenchRecord | None:
        return bench_record(self.bench) if self.bench is not None else None

    def verdict(self) -> list[str]:
        fits = self.bench["derived"]["memory_fits"] if self.bench is not None else {}
        return verdict_lines(parity=self.parity, record=self.record, memory_fits=fits, checks=self.checks)

    @property
    def environment(self) -> dict[str, Any] | None:
        return next((doc["environment"] for doc in (self.bench, self.load) if doc and doc.get("environment")), None)


def collect_inputs(run: BatchRun) -> ReportInputs:
    inputs = ReportInputs()
    for outcome in run.outcomes:
        for output, location in outcome.outputs.items():
            path = Path(location)
            document = read_record(path, MANIFEST_KINDS[output])
            if output == "parity":
                inputs.parity = document
            elif output == "bench":
                inputs.bench, inputs.bench_dir = document, path.parent
            elif output == "loadtest":
                inputs.load, inputs.load_dir = document, path.parent
            elif output == "candidates":
                inputs.candidates, inputs.candidates_dir = document, path.parent
    return inputs


def load_batch(directory: Path) -> BatchRun:
    """A report's batch as its report.json recorded it, every path made absolute again: what
    re-renders a report's page (slim, for the evidence) without running anything."""
    document = read_record(directory / "report.json", "report")
    run = BatchRun(directory=directory, quick=bool(document["quick"]))
    for notebook in document["notebooks"]:
        outcome = NotebookOutcome(**{**notebook, "executed": str(directory / notebook["executed"])})
        outcome.outputs = {kind: str(directory / path) for kind, path in notebook["outputs"].items()}
        run.outcomes.append(outcome)
    return run


def report_sections(
    run: BatchRun,
    inputs: ReportInputs,
    comparison: RunDiff | None,
    history: Sequence[HistoryPoint] = (),
    *,
    notebooks: bool = True,
) -> list[Section]:
    """The verdict first, then the targets, and the figures, plans, history, candidates and notebooks
    behind them; without ``notebooks`` the executed notebooks are left out (the slim page)."""
    directory = run.directory
    scale = "quick, CI-scale parameters" if run.quick else "full scale"
    opening = f"Report {directory.name} ({scale}). {len(run.outcomes) - len(run.failed)} of {len(run.outcomes)} "
    record = inputs.record
    verdict = inputs.verdict()
    sections = [
        Section("", [Text([opening + "notebooks ran to the end."], bullets=False)]),
        Section("Verdict", [Text(verdict)]),
        Section("Failed notebooks", [Text([outcome.error_line for outcome in run.failed])]),
    ]
    if comparison is not None:
        significant = pd.DataFrame.from_records(comparison.significant_ratios())
        sections.append(
            Section(
                "Compared with the previous report", [Text(comparison_lines(comparison)), Table(significant, empty="")]
            )
        )
    checks = inputs.checks
    sections.append(
        Section("Targets", [Table(checks_frame(checks), "result", empty="No bench or load results to judge.")])
    )
    if inputs.parity:
        verdicts = [report["verdict"] for report in inputs.parity["reports"]]
        declared = [f"declared difference {d['line']}" for d in inputs.parity.get("differences") or []]
        lines = [*verdicts, f"all agree: {inputs.parity['all_agree']}", *declared]
        sections.append(Section("Parity", [Text(lines)]))
    else:
        sections.append(Section("Parity", [Text(["No parity results: the parity notebook did not finish."], False)]))
    if inputs.bench is not None and inputs.bench_dir is not None and record is not None:
        rel = inputs.bench_dir.relative_to(directory)
        links = [(f"{rel}/summary.md", "summary.md: every table, plan and flamegraph")]
        links += [(f"{rel}/{name}", f"memray flamegraph, {impl}") for impl, name in record.flamegraphs.items()]
        fit_lines = [
            f"{impl}: peak memory {fit['verdict']} (slope {fit['slope']:+.3f})"
            for impl, fit in inputs.bench["derived"]["memory_fits"].items()
        ]
        sections.append(
            Section("Scaling", [Text(fit_lines), Figures(inputs.bench_dir, rel, BENCH_FIGURES), Links(links)])
        )
        if record.concurrency:
            sections.append(
                Section(
                    "Under concurrent calls",
                    [
                        Text([CONCURRENCY_NOTE], bullets=False),
                        Figures(inputs.bench_dir, rel, ("concurrency",)),
                        Table(concurrency_table(record)),
                    ],
                )
            )
        sections.append(_drawn_plans_section(record, _candidate_records(inputs)))
        sections.append(Section("Plans that ran", [Table(plans_table(record))]))
        sections.append(_reproducible_section(record, inputs.bench_dir, rel))
    sections.append(_history_section(directory, history))
    if inputs.load_dir is not None:
        sections.append(
            Section("Load", [Figures(inputs.load_dir, inputs.load_dir.relative_to(directory), LOAD_FIGURES)])
        )
    if inputs.candidates is not None:
        outcomes = [CandidateOutcome.from_json(outcome) for outcome in inputs.candidates["candidates"]]
        sections.append(Section("Candidates", [Table(candidates_frame(outcomes))]))
    if inputs.environment is not None:
        sections.append(Section("Environment", [Table(environment_frame(inputs.environment))]))
    terms = (record.subject if record is not None else load_subject().to_json()).get("glossary", [])
    sections.append(Section("Glossary", [Terms(glossary(terms))]))
    sections.append(Section("Notebooks", [Table(_notebooks_frame(run))]))
    if notebooks:
        sections += [Section(f"Notebook {o.name}", [Notebook(Path(o.executed))]) for o in run.outcomes]
    return sections


MAIN_PLANS = ("after", "rewrite", "before")
"""Drawn side by side, by role: the optimized plan, the rewrite's and the legacy query's (then candidates')."""


def _candidate_records(inputs: ReportInputs) -> dict[str, BenchRecord]:
    """Each timed candidate's bench record, where its run directory is still there to read."""
    if inputs.candidates is None or inputs.candidates_dir is None:
        return {}
    found = {}
    for outcome in inputs.candidates["candidates"]:
        results = inputs.candidates_dir / outcome["directory"] / "results.json" if outcome["directory"] else None
        if results is not None and results.is_file():
            try:
                found[outcome["candidate"]] = load_bench(results)
            except KitError:
                continue
    return found


def _caption(captured: dict[str, Any]) -> str:
    changed = "" if captured["start_shape"] == captured["shape"] else f"; changed from {captured['start_shape']}"
    return f"{captured['kind']} plan, after {captured['calls_on_connection']} calls on its connection{changed}"


def _drawn_plans_section(record: BenchRecord, candidates: dict[str, BenchRecord]) -> Section:
    """Each variant's timed plan as a tree: the requirement's scenario open, side by side and marked
    where it departs from the optimized plan; every other variant and scenario one click away."""
    scenario = requirement_scenario(record)
    if scenario is None:
        return Section("Plans drawn", [])
    keys = [f"{scope} N={n:,}" for scope, n in record.scenarios()]
    opened = f"{scenario[0]} N={scenario[1]:,}"
    blocks: list[Any] = [
        Text(
            [
                "Per node: actual rows (the planner's estimate), loops, shared blocks hit or read, time. A node "
                'marked ≠ (shaded) is not in the optimized plan at that place; "estimate off" marks rows ten '
                "times away from the estimate."
            ],
            bullets=False,
        )
    ]
    for key in [opened, *(k for k in keys if k != opened)]:
        captured = record.plans.get(key, {})
        shown = [record.named(role) or role for role in MAIN_PLANS]
        main = [(v, _caption(captured[v]), captured[v]["plan"]) for v in shown if v in captured]
        main += [
            (name, _caption(other.plans[key][name]), other.plans[key][name]["plan"])
            for name, other in candidates.items()
            if name in other.plans.get(key, {})
        ]
        rest = [(v, _caption(c), c["plan"]) for v, c in captured.items() if v not in MAIN_PLANS]
        drawn = Plans(drawn_plans(main, "after"), heading=key)
        others = Plans(
            drawn_plans([*main[:1], *rest], "after"), heading=f"{key}: forced alternatives, floors, first call"
        )
        if key == opened:
            blocks += [drawn, Collapsed(f"{key}: every other variant's plan", [others])]
        else:
            blocks.append(Collapsed(f"{key}: plans", [drawn, others]))
    return Section("Plans drawn", blocks)


def _history_section(directory: Path, history: Sequence[HistoryPoint]) -> Section:
    if len(history) < 2:
        said = "The first finished report of its scale in this folder: the history starts with the next one."
        return Section("History", [Text([said], bullets=False)])
    said = (
        f"{len(history)} finished reports of this scale in {directory.parent.name}/, the requirement's scenario of "
        "each; a report is marked where `diff` finds a change against the one before significant (latency: "
        "Holm-adjusted, beyond the machine's noise; instructions: beyond 1%; serial plans: any change)."
    )
    return Section("History", [Text([said], bullets=False), Figures(directory, Path("."), ("history",)),
                               Table(history_frame(history))])  # fmt: skip


ENVIRONMENT_ROWS = (
    ("CPU", "cpu_model"), ("CPU MHz", "cpu_mhz"), ("CPUs", "cpu_count"), ("memory bytes", "memory_total_bytes"),
    ("kernel", "kernel"), ("platform", "platform"), ("Python", "python"), ("commit", "git_commit"),
    ("uncommitted changes", "git_dirty"), ("collected at", "collected_at"),
)  # fmt: skip


def environment_frame(environment: dict[str, Any]) -> pd.DataFrame:
    """Where the figures were taken: machine, software and the server with its settings."""
    rows = [{"what": label, "value": environment.get(key)} for label, key in ENVIRONMENT_ROWS]
    server = environment.get("server") or {}
    rows += [
        {"what": "server", "value": server.get("version")},
        {"what": "server is embedded", "value": server.get("embedded")},
        {"what": "server address", "value": server.get("dsn")},
    ]
    rows += [{"what": f"setting {name}", "value": value} for name, value in (server.get("settings") or {}).items()]
    return pd.DataFrame.from_records(rows)


def _reproducible_section(record: BenchRecord, bench_dir: Path, rel: Path) -> Section:
    """The figures that do not depend on the machine, apart from the times and RSS that do."""
    counting = record.counting
    if "unavailable" in counting:
        said = f"Instructions were not counted: {counting['unavailable']}."
    else:
        said = (
            f"Instructions of one warm call, counted under valgrind on {counting.get('server_version', '?')} "
            f"(serial, JIT off) and, for the client, in a fresh Python with hash randomization fixed: two runs "
            "agree to about one part in ten thousand, where times on one machine move by a third. Parity, "
            "allocations, blocks and plan shapes reproduce too; latencies and resident memory depend on the machine."
        )
    parts: list[Any] = [Text([said], bullets=False)]
    if record.instructions:
        parts += [Table(instructions_table(record)), Figures(bench_dir, rel, ("instructions_vs_n",))]
        parts.append(Table(profile_table(record), empty="No profile."))
    parts.append(Table(serial_plans_table(record), empty="No serial plans recorded."))
    return Section("What reproduces on any machine", parts)


def _notebooks_frame(run: BatchRun) -> pd.DataFrame:
    rows = [
        {
            "notebook": outcome.name,
            "result": "ok" if outcome.ok else "FAILED",
            "seconds": round(outcome.seconds),
            "executed": Path(outcome.executed).name,
            "parameters": ", ".join(f"{k}={v!r}" for k, v in outcome.parameters.items() if k != "output_dir"),
        }
        for outcome in run.outcomes
    ]
    return pd.DataFrame.from_records(rows, columns=["notebook", "result", "seconds", "executed", "parameters"])


def title(run: BatchRun, record: BenchRecord | None) -> str:
    """The page's title: the subject's function (from its bench record), before against after."""
    scale = "quick, CI-scale parameters" if run.quick else "full scale"
    measured = (record.subject if record is not None else {}).get("title") or load_subject().title
    return f"{measured}: before vs after — report {run.directory.name} ({scale})"


def write_report(
    run: BatchRun, inputs: ReportInputs, comparison: RunDiff | None, history: Sequence[HistoryPoint] = ()
) -> dict[str, Path]:
    """report.json (everything behind the report, paths relative to it), history.png, report.md and report.html."""
    directory = run.directory
    if len(history) >= 2:
        save_figure(history_figure(history), directory, "history")
    body: dict[str, Any] = {
        "quick": run.quick,
        "complete": not run.failed,
        "notebooks": run.outcomes_json(),
        "targets": [check.to_json() for check in inputs.checks],
        "parity": inputs.parity,
        "bench": _relative_dir(inputs.bench_dir, directory),
        "load": _relative_dir(inputs.load_dir, directory),
        "candidates": inputs.candidates,
        "compared_with": comparison.a if comparison else None,
        "history": [asdict(point) for point in history],
    }
    paths = {"json": write_record(directory, "report", body, environment=inputs.environment)}
    sections = report_sections(run, inputs, comparison, history)
    return paths | write_pages(directory, "report", title(run, inputs.record), sections)


def report_verdict(report: Path) -> list[str]:
    """The verdict of a finished report (or its curated copy), as its page opens with it."""
    return collect_inputs(load_batch(report)).verdict()


def slim_page(report: Path) -> str:
    """report.html of a finished report without its executed notebooks, its figures linked: what the
    curated evidence keeps beside those figures, readable without running anything."""
    run = load_batch(report)
    document = read_record(report / "report.json", "report")
    history = [HistoryPoint(**point) for point in document.get("history", [])]
    comparison = None
    if (report / "diff.json").is_file():
        compared = read_record(report / "diff.json", "diff")
        comparison = RunDiff(**{f.name: compared[f.name] for f in fields(RunDiff) if f.name in compared})
    inputs = collect_inputs(run)
    sections = report_sections(run, inputs, comparison, history, notebooks=False)
    return to_html(title(run, inputs.record), sections, link_figures=True)


def _relative_dir(path: Path | None, directory: Path) -> str | None:
    return str(path.relative_to(directory)) if path is not None else None
