"""The main job: every notebook executed by papermill into a new report directory, then report.md.

A failing notebook does not stop the batch: its error (the failing cell, the exception, the
saved notebook) is recorded, the other notebooks run, and the batch fails at the end.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from evaluation.db import PROJECT_ROOT
from evaluation.errors import ConfigurationError, NotebookError
from evaluation.outputs import new_run_directory, read_manifest

NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
REPORTS_DIR = PROJECT_ROOT / "evaluation" / "reports"
KERNEL_NAME = "summary-perfkit"

# Parameters of each notebook in the batch; notebooks absent here run with their own defaults
# (the CI-scale ones, also used by `make report QUICK=1`).
FULL_PARAMETERS: dict[str, dict[str, Any]] = {
    "01_parity": {"random_datasets": 20, "random_events": 5000},
    "02_scaling": {"quick": False},
    "03_load": {"quick": False},
    "04_candidates": {"candidates": "all", "quick": False},
}


@dataclass
class NotebookOutcome:
    name: str
    executed: str
    parameters: dict[str, Any]
    seconds: float = 0.0
    ok: bool = False
    error: dict[str, Any] | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # from the notebook's manifest: kind -> absolute path

    @property
    def error_line(self) -> str:
        if self.error is None:
            return ""
        cell = self.error.get("cell_index")
        where = f"cell {cell}" if cell is not None else "before any cell ran"
        error = f"{self.error.get('ename')}: {self.error.get('evalue')}"
        return f"{self.name}: {where}: {error} (see {self.executed})"


@dataclass
class BatchRun:
    directory: Path
    quick: bool
    outcomes: list[NotebookOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[NotebookOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def outcomes_json(self) -> list[dict[str, Any]]:
        """Each notebook's outcome, its paths relative to the report directory."""
        return [
            {
                **asdict(outcome),
                "executed": _relative(outcome.executed, self.directory),
                "parameters": {k: v for k, v in outcome.parameters.items() if k != "output_dir"},
                "outputs": {kind: _relative(path, self.directory) for kind, path in outcome.outputs.items()},
            }
            for outcome in self.outcomes
        ]


def _relative(path: str, directory: Path) -> str:
    return str(Path(path).relative_to(directory))


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
    return wanted


def ensure_kernel() -> str:
    """Register this interpreter as the ``summary-perfkit`` kernel inside its own prefix (the
    project's .venv), so executions never depend on a user-level kernelspec."""
    from ipykernel.kernelspec import install
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
        if spec.argv and spec.argv[0] == sys.executable:
            return KERNEL_NAME
    except NoSuchKernel:
        pass
    install(kernel_name=KERNEL_NAME, display_name="Python (summary-perfkit)", prefix=sys.prefix)
    return KERNEL_NAME


def run_batch(
    *,
    quick: bool,
    reports_base: Path = REPORTS_DIR,
    notebooks: list[Path] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
    stdout: TextIO | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> BatchRun:
    """Execute the notebooks into ``reports_base/<UTC timestamp>/``, each with an absolute
    ``output_dir`` of its own inside it, and return what happened to each, with the outputs it
    declared in its manifest."""
    import papermill
    from papermill.exceptions import PapermillExecutionError

    selected = notebooks if notebooks is not None else discover_notebooks()
    if not selected:
        raise ConfigurationError(f"no notebooks to run in {NOTEBOOKS_DIR}")
    overrides = overrides or {}
    unknown = sorted(set(overrides) - {nb.stem for nb in selected})
    if unknown:
        raise ConfigurationError(f"parameters given for notebook(s) {unknown} that are not run")
    # Refuse bad parameters before anything runs.
    plans = {nb: notebook_parameters(nb, quick, overrides.get(nb.stem)) for nb in selected}
    kernel = ensure_kernel()
    run = BatchRun(directory=new_run_directory(reports_base, ""), quick=quick)
    log(f"report: {len(selected)} notebooks ({'quick' if quick else 'full'} scale) into {run.directory}")
    for index, notebook in enumerate(selected, start=1):
        parameters = {**plans[notebook], "output_dir": str(run.directory / notebook.stem)}
        outcome = NotebookOutcome(notebook.stem, str(run.directory / notebook.name), parameters)
        log(f"[{index}/{len(selected)}] {notebook.name} ...")
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                outcome.executed,
                parameters=parameters,
                kernel_name=kernel,
                progress_bar=progress,
                stdout_file=stdout,  # the notebooks' own progress lines (one per N, per phase)
                cwd=str(notebook.parent),
            )
            outcome.ok = True
        except PapermillExecutionError as exc:
            outcome.error = {"cell_index": exc.cell_index, "ename": exc.ename, "evalue": exc.evalue}
        except Exception as exc:  # a dead kernel or a broken notebook must not stop the batch
            outcome.error = {"cell_index": None, "ename": type(exc).__name__, "evalue": str(exc)}
        outcome.seconds = time.perf_counter() - started
        outcome.outputs = {kind: str(path) for kind, path in read_manifest(Path(parameters["output_dir"])).items()}
        run.outcomes.append(outcome)
        status = "ok" if outcome.ok else f"FAILED: {outcome.error_line}"
        log(f"[{index}/{len(selected)}] {notebook.name}: {status} ({outcome.seconds:.0f} s)")
    return run


def raise_if_failed(run: BatchRun) -> None:
    if run.failed:
        raise NotebookError(
            f"{len(run.failed)} of {len(run.outcomes)} notebooks failed: "
            + "; ".join(outcome.error_line for outcome in run.failed)
        )
