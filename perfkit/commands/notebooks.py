"""``notebooks``: the outputs committed with the notebooks, only those nbval compares.

Outputs of cells tagged ``nbval-ignore-output`` (timings, paths, figures) are never compared,
so committing them only adds noise and base64 images to the history.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from perfkit.commands._kernel import execute_notebook
from perfkit.commands._options import Command
from perfkit.commands.report import discover_notebooks

IGNORE_TAG = "nbval-ignore-output"
IMAGE_TYPES = ("image/png", "image/svg+xml", "image/jpeg")


def _read(path: Path) -> dict[str, Any]:
    notebook: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return notebook


def _write(notebook: dict[str, Any], path: Path) -> None:
    """As nbformat writes notebooks: one-space indent, sorted keys, a final newline."""
    path.write_text(json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")


def _code_cells(notebook: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    return [(index, cell) for index, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code"]


def _ignored(cell: dict[str, Any]) -> bool:
    return IGNORE_TAG in cell.get("metadata", {}).get("tags", [])


def uncompared_outputs(path: Path) -> list[str]:
    """Where a notebook carries outputs nbval will not compare, or images: one line each."""
    problems = []
    for index, cell in _code_cells(_read(path)):
        if _ignored(cell) and cell["outputs"]:
            problems.append(f"{path.name}: cell {index} is tagged {IGNORE_TAG} but carries outputs")
        images = [t for output in cell["outputs"] for t in output.get("data", {}) if t in IMAGE_TYPES]
        if images:
            problems.append(f"{path.name}: cell {index} carries images ({', '.join(images)})")
    return problems


def strip_uncompared_outputs(path: Path) -> None:
    """Drop outputs of ignored cells and execution metadata, in place."""
    notebook = _read(path)
    notebook["metadata"].pop("papermill", None)
    for cell in notebook["cells"]:
        cell.get("metadata", {}).pop("papermill", None)
        cell.get("metadata", {}).pop("execution", None)
    # nbval runs only cells with an execution count; numbering them 1, 2, ... keeps diffs quiet.
    for count, (_, cell) in enumerate(_code_cells(notebook), start=1):
        if _ignored(cell):
            cell["outputs"] = []
        cell["execution_count"] = count
        for output in cell["outputs"]:
            if "execution_count" in output:
                output["execution_count"] = count
    _write(notebook, path)


def refresh(paths: list[Path]) -> None:
    """Execute each notebook in place with its own (CI-scale) defaults, then strip what nbval ignores."""
    for path in paths:
        print(f"refreshing {path}")
        execute_notebook(path, path)
        strip_uncompared_outputs(path)


class NotebooksCommand(Command):
    name = "notebooks"
    help = "re-execute the notebooks in place at CI scale and keep only the outputs nbval compares"
    group = "maintain"
    example = "notebooks"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("notebooks", nargs="*", type=Path, help="notebook files (default: every one)")

    def run(self, args: argparse.Namespace) -> int:
        refresh(args.notebooks or discover_notebooks())
        return 0
