"""``report``, the main job: every notebook executed by papermill into a new report directory, then
report.json, report.md and report.html, compared with the previous report of the same folder.

A failing notebook does not stop the batch: its error (the failing cell, the exception, the
saved notebook) is recorded, the other notebooks run, and the batch fails at the end.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from perfkit.commands._kernel import execute_notebook
from perfkit.commands._options import Command, add_output, add_quick, add_subject
from perfkit.data.candidates import list_candidates
from perfkit.data.server import resolve_server
from perfkit.errors import ConfigurationError, NotebookError, OutputError
from perfkit.judge.diff import RunDiff, diff_runs
from perfkit.paths import NOTEBOOKS_DIR, REPORTS_DIR, output_error, refused_write
from perfkit.record.batch import BatchRun, NotebookOutcome
from perfkit.record.format import load_run, write_record
from perfkit.record.history import finished_reports, previous_durations, report_history
from perfkit.record.runs import mark_complete, new_run_directory, read_manifest, write_new
from perfkit.render.diff import diff_markdown
from perfkit.render.report import ReportInputs, collect_inputs, write_report
from perfkit.subject import Subject, load_subject

# Parameters of each notebook in the batch; notebooks absent here run with their own defaults
# (the CI-scale ones, also used by `make report QUICK=1`).
FULL_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_parity": {"random_datasets": 20, "random_events": 5000},
    # Candidates are timed under concurrent calls by `try` (each adds minutes at full scale), not here.
    "02_scaling": {"quick": False, "under_load": []},
    "03_load": {"quick": False},
    "04_candidates": {"candidates": "all", "quick": False},
}


NEEDS = {"03_load": "load"}
"""Notebooks that measure what a subject may turn off (`Subject.measured`): not run for a subject without it."""


def not_applicable(notebook: Path, subject: Subject) -> str | None:
    """Why ``notebook`` says nothing of ``subject``, or None when it applies."""
    needed = NEEDS.get(notebook.stem)
    if needed is not None and needed not in subject.measured:
        return f"subject {subject.name} does not measure {needed}"
    if notebook.stem == CANDIDATES_TIMED_IN[0] and not list_candidates(subject):
        return f"subject {subject.name} has no candidates"
    return None


CANDIDATES_TIMED_IN = ("04_candidates", "timed_in", "02_scaling", "candidates")
"""When a batch runs both, the candidates notebook's candidates are timed in the scaling notebook's
bench and read from its folder: the optimized version and its references are timed once for the
whole report, and the candidates in the same interleaved rounds as everything else."""


def discover_notebooks(directory: Path = NOTEBOOKS_DIR) -> list[Path]:
    return sorted(directory.glob("[0-9][0-9]_*.ipynb"))


def notebook_parameters(notebook: Path, quick: bool, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The parameters the batch passes, refusing any the notebook's parameters cell does not declare."""
    import papermill

    declared = papermill.inspect_notebook(str(notebook))
    wanted = {} if quick else dict(FULL_PARAMETERS.get(notebook.stem, {}))
    wanted.update(extra or {})
    unknown = sorted(set(wanted) - set(declared))
    if "output_dir" not in declared:
        raise ConfigurationError(
            f"{notebook.name} declares no output_dir parameter: the batch could not collect its results"
        )
    if unknown:
        raise ConfigurationError(
            f"{notebook.name} has no parameter(s) {unknown}; its parameters cell declares {sorted(declared)}"
        )
    for name, value in wanted.items():
        problem = _unlike_default(declared[name].get("default"), value)
        if problem:
            raise ConfigurationError(f"{notebook.name}: parameter {name}={value!r} {problem}")
    return wanted


def _unlike_default(default_source: str | None, value: Any) -> str | None:
    """Why ``value`` cannot stand for a numeric or boolean parameter whose default is ``default_source``
    (a count given as -5 would silently mean nothing to do); None when it can."""
    try:
        default = ast.literal_eval(default_source or "")
    except (ValueError, SyntaxError):
        return None
    if isinstance(default, bool):
        return None if isinstance(value, bool) else "must be true or false, as its default"
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool):
            return "must be a whole number, as its default"
        if default >= 0 > value:
            return "must not be negative"
    return None


def run_batch(
    *,
    quick: bool,
    reports_base: Path = REPORTS_DIR,
    notebooks: list[Path] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    stdout: TextIO | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
    subject: str | None = None,
) -> BatchRun:
    """Execute the notebooks into ``reports_base/<UTC timestamp>/``, each with an absolute
    ``output_dir`` of its own inside it, and return what happened to each, with the outputs it
    declared in its manifest. ``subject`` (a name or folder) is every notebook's subject parameter."""
    from papermill.exceptions import PapermillExecutionError

    selected = notebooks if notebooks is not None else discover_notebooks()
    if not selected:
        raise ConfigurationError(f"no notebooks to run in {NOTEBOOKS_DIR}")
    overrides = overrides or {}
    unknown = sorted(set(overrides) - {nb.stem for nb in selected})
    if unknown:
        raise ConfigurationError(f"parameters given for notebook(s) {unknown} that are not run")
    # Refuse bad parameters before anything runs.
    investigated = load_subject(subject)  # a malformed subject is refused before anything runs
    chosen = {} if subject is None else {"subject": investigated.argument}
    for notebook in list(selected):
        reason = not_applicable(notebook, investigated)
        if reason is not None:
            log(f"report: {notebook.name} not run: {reason}")
            selected = [nb for nb in selected if nb != notebook]
    plans = {nb: notebook_parameters(nb, quick, {**chosen, **overrides.get(nb.stem, {})}) for nb in selected}
    # The batch joins the embedded server for its whole length (a no-op for a configured one): the
    # server stays up between notebooks, and the batch's exit stops it even when a kernel was killed.
    resolve_server()
    run = BatchRun(directory=new_run_directory(reports_base, ""), quick=quick)
    log(f"report: {len(selected)} notebooks ({'quick' if quick else 'full'} scale) into {run.directory}")
    previous = previous_durations(run.directory.parent, before=run.directory.name, quick=quick)
    _time_candidates_in_scaling(plans, run.directory)
    for index, notebook in enumerate(selected, start=1):
        parameters = {**plans[notebook], "output_dir": str(run.directory / notebook.stem)}
        outcome = NotebookOutcome(notebook.stem, str(run.directory / notebook.name), parameters)
        left = time_left([nb.stem for nb in selected[index - 1 :]], previous)
        log(f"[{index}/{len(selected)}] {notebook.name} ...{left}")
        started = time.perf_counter()
        try:
            execute_notebook(
                notebook,
                Path(outcome.executed),
                parameters=parameters,
                progress=progress,
                stdout=stdout,  # the notebooks' own progress lines (one per N, per phase)
            )
            outcome.ok = True
        except PapermillExecutionError as exc:
            if exc.ename == OutputError.__name__:  # the notebooks after it could write no more
                raise OutputError(f"{notebook.name}: {exc.evalue}") from None
            outcome.error = {"cell_index": exc.cell_index, "ename": exc.ename, "evalue": exc.evalue}
        except Exception as exc:  # a dead kernel or a broken notebook must not stop the batch
            if refused_write(exc):  # papermill writing the executed notebook
                raise output_error(exc.filename or outcome.executed, exc) from None
            outcome.error = {"cell_index": None, "ename": type(exc).__name__, "evalue": str(exc)}
        outcome.seconds = time.perf_counter() - started
        outcome.outputs = {kind: str(path) for kind, path in read_manifest(Path(parameters["output_dir"])).items()}
        run.outcomes.append(outcome)
        status = "ok" if outcome.ok else f"FAILED: {outcome.error_line}"
        log(f"[{index}/{len(selected)}] {notebook.name}: {status} ({outcome.seconds:.0f} s)")
    total = sum(outcome.seconds for outcome in run.outcomes)
    log("report: " + ", ".join(f"{o.name} {o.seconds:.0f} s" for o in run.outcomes) + f"; {total / 60:.1f} min in all")
    return run


def _time_candidates_in_scaling(plans: dict[Path, dict[str, Any]], directory: Path) -> None:
    """Chain the two notebooks of `CANDIDATES_TIMED_IN` when both run and declare the parameters."""
    import papermill

    reader, folder_parameter, timer, names_parameter = CANDIDATES_TIMED_IN
    notebooks = {notebook.stem: notebook for notebook in plans}
    if reader not in notebooks or timer not in notebooks:
        return
    declared = {stem: papermill.inspect_notebook(str(notebooks[stem])) for stem in (reader, timer)}
    if folder_parameter not in declared[reader] or names_parameter not in declared[timer]:
        return
    names = plans[notebooks[reader]].get(names_parameter)
    if names is None:
        names = ast.literal_eval(declared[reader][names_parameter].get("default") or "[]")
    plans[notebooks[timer]][names_parameter] = names
    plans[notebooks[reader]][folder_parameter] = str(directory / timer)


def time_left(remaining: list[str], previous: tuple[str, dict[str, float]] | None) -> str:
    """An estimate of the time the remaining notebooks will take, from the latest finished report of
    the same scale in the folder (empty when there is none, or it ran none of them)."""
    if previous is None:
        return ""
    name, seconds = previous
    known = [seconds[stem] for stem in remaining if stem in seconds]
    if not known:
        return ""
    total = sum(known)
    said = f"{total:.0f} s" if total < 120 else f"{total / 60:.0f} min"
    return f" (about {said} left, as report {name} took)"


def raise_if_failed(run: BatchRun) -> None:
    if run.failed:
        raise NotebookError(
            f"{len(run.failed)} of {len(run.outcomes)} notebooks failed: "
            + "; ".join(outcome.error_line for outcome in run.failed)
        )


def compare_with_previous(directory: Path, inputs: ReportInputs, earlier: list[Path]) -> RunDiff | None:
    """diff.md and diff.json of the latest of ``earlier`` against this report, when both have a bench."""
    if not earlier or inputs.bench_dir is None:
        return None
    current = load_run(inputs.bench_dir)
    comparison = diff_runs(load_run(earlier[-1]), replace(current, name=directory.name))
    write_new(directory / "diff.md", diff_markdown(comparison))
    write_record(directory, "diff", comparison.to_json(), environment=inputs.environment)
    return comparison


def assemble_report(run: BatchRun) -> dict[str, Path]:
    """report.json, report.md and report.html of a batch, after its comparison with the previous
    report of the same scale and the history of every finished one before it."""
    inputs = collect_inputs(run)
    if inputs.bench_dir is None:
        return write_report(run, inputs, None)
    measured = load_run(inputs.bench_dir).record.subject["name"]
    earlier = finished_reports(run.directory.parent, before=run.directory.name, quick=run.quick, subject=measured)
    comparison = compare_with_previous(run.directory, inputs, earlier)
    current = replace(load_run(inputs.bench_dir), name=run.directory.name)
    history = report_history(earlier, current, datetime.now(UTC).isoformat(timespec="seconds"))
    return write_report(run, inputs, comparison, history)


class ReportCommand(Command):
    name = "report"
    help = "every notebook through papermill into reports/<UTC time>/, then the verdict and its page"
    group = "main"
    example = "report --quick --subject customer_billing"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_quick(parser, "the notebooks' CI-scale parameters")
        add_output(parser, REPORTS_DIR, "parent of the report directory")
        parser.add_argument("--notebook", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 01_parity)")
        parser.add_argument(
            "--param",
            "-p",
            action="append",
            default=[],
            metavar="NOTEBOOK:NAME=VALUE",
            help="override a notebook parameter, e.g. 01_parity:random_datasets=5 (VALUE read as JSON if it parses)",
        )
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        notebooks = None
        if args.notebook:
            available = {path.stem: path for path in discover_notebooks()}
            unknown = sorted(set(args.notebook) - set(available))
            if unknown:
                raise ConfigurationError(f"no notebook(s) {unknown}; available: {sorted(available)}")
            notebooks = [available[name] for name in args.notebook]
        run = run_batch(
            quick=args.quick,
            reports_base=args.output,
            notebooks=notebooks,
            progress=sys.stderr.isatty(),
            stdout=sys.stdout,
            overrides=_parse_parameters(args.param),
            subject=args.subject,
        )
        paths = assemble_report(run)
        print(f"report: {paths['markdown']}")
        raise_if_failed(run)
        mark_complete(run.directory)
        return 0


def _parse_parameters(items: list[str]) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for item in items:
        notebook, _, assignment = item.partition(":")
        name, equals, raw = assignment.partition("=")
        if not notebook or not name or not equals:
            raise ConfigurationError(
                f"--param {item!r}: expected NOTEBOOK:NAME=VALUE, e.g. 01_parity:random_datasets=5"
            )
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parsed.setdefault(notebook, {})[name] = value
    return parsed
