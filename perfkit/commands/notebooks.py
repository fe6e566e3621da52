"""``notebooks``: the notebooks committed with the outputs of a CI-scale run, so that JupyterLab and
GitHub open them with their figures.

nbval compares only the cells not tagged ``nbval-ignore-output``; the others (timings, paths, figures)
are kept as a reader's first look, their figures re-encoded with a palette and the checkout's path
made relative, so the history stays small and free of where the run happened.
"""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any

from perfkit.commands._kernel import execute_notebook
from perfkit.commands._options import Command
from perfkit.commands.report import discover_notebooks
from perfkit.paths import PROJECT_ROOT, unwritable
from perfkit.record.evidence import compact_png_bytes

IGNORE_TAG = "nbval-ignore-output"
FIGURE_CALL = "_figure("
"""How a cell draws a figure: every figure of the notebooks comes from a ``kit.*_figure(...)`` call."""
MAX_FIGURE_BYTES = 96 * 1024
"""A committed figure, palette-encoded, stays under this: a larger one is a figure to simplify."""


def _read(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def write_notebook(notebook: dict[str, Any], path: Path) -> None:
    """As nbformat writes notebooks: one-space indent, sorted keys, a final newline."""
    with unwritable(path):
        path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _code_cells(notebook: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, cell) for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]


def _ignored(cell: dict[str, Any]) -> bool:
    return IGNORE_TAG in cell.get("metadata", {}).get("tags", [])


def _figures(cell: dict[str, Any]) -> list[bytes]:
    return [
        base64.b64decode(output["data"]["image/png"])
        for output in cell["outputs"]
        if "image/png" in output.get("data", {})
    ]


def committed_output_problems(path: Path) -> list[str]:
    """Where a committed notebook would open without a figure, or carries one too large, or names the
    checkout it ran in: one line each."""
    problems = []
    for index, cell in _code_cells(_read(path)):
        figures = _figures(cell)
        if FIGURE_CALL in "".join(cell["source"]) and not figures:
            problems.append(f"{path.name}: cell {index} draws a figure but carries none")
        problems += [
            f"{path.name}: cell {index} carries a figure of {len(figure):,} bytes (over {MAX_FIGURE_BYTES:,})"
            for figure in figures
            if len(figure) > MAX_FIGURE_BYTES
        ]
        if str(PROJECT_ROOT) in json.dumps(cell["outputs"]):
            problems.append(f"{path.name}: cell {index} names the checkout's path {PROJECT_ROOT}")
    return problems


def tidy_outputs(path: Path) -> None:
    """Figures palette-encoded, the checkout's path made relative, execution metadata dropped, in place."""
    notebook = _read(path)
    notebook["metadata"].pop("papermill", None)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    # nbval runs only cells with an execution count; numbering them 1, 2, ... keeps diffs quiet.
    for count, (_, cell) in enumerate(_code_cells(notebook), start=1):
        cell["execution_count"] = count
        for output in cell["outputs"]:
            if "execution_count" in output:
                output["execution_count"] = count
            data = output.get("data", {})
            if _ignored(cell) and "text/html" in data:
                data.pop("text/plain", None)  # a table's second rendering, for a terminal: never compared
            if "image/png" in data:
                data["image/png"] = base64.b64encode(compact_png_bytes(base64.b64decode(data["image/png"]))).decode()
        cell["outputs"] = json.loads(
            json.dumps(cell["outputs"]).replace(f"{PROJECT_ROOT}/", "").replace(str(PROJECT_ROOT), ".")
        )
    write_notebook(notebook, path)


def refresh(paths: list[Path]) -> None:
    """Execute each notebook in place with its own (CI-scale) defaults, then tidy its outputs."""
    for path in paths:
        print(f"refreshing {path}")
        execute_notebook(path, path)
        tidy_outputs(path)


class NotebooksCommand(Command):
    name = "notebooks"
    help = "re-execute the notebooks in place at CI scale, keeping their outputs and figures for readers"
    group = "maintain"
    example = "notebooks"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("notebooks", nargs="*", type=Path, help="notebook files (default: every one)")

    def run(self, args: argparse.Namespace) -> int:
        refresh(args.notebooks or discover_notebooks())
        return 0
