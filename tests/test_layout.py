"""The library's shape: stages in the order data flows, and no import climbing against that flow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import perfkit

PACKAGE = Path(perfkit.__file__).parent
STAGES = ("data", "measure", "judge", "record", "render", "commands")
"""In data-flow order; `errors`, `paths` and `subject` are the foundations every stage may import."""
FOUNDATIONS = ("errors", "paths", "subject")


def _stage(module: str) -> int:
    """The rank of a ``perfkit`` module: -1 for the foundations, else its stage's index."""
    part = module.split(".")[1]
    if part in FOUNDATIONS:
        return -1
    return STAGES.index(part)


def _perfkit_imports(path: Path) -> list[str]:
    """Every ``perfkit`` module ``path`` imports, at the top or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "perfkit":
            if node.module == "perfkit":  # from perfkit import data
                found += [f"perfkit.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("perfkit.")]
    return found


def _modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE)


def test_the_top_level_shows_the_stages_and_nothing_else() -> None:
    folders = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    modules = sorted(p.stem for p in PACKAGE.glob("*.py"))
    assert folders == sorted(STAGES)
    assert modules == sorted(["__init__", "__main__", *FOUNDATIONS])


@pytest.mark.parametrize("stage", STAGES)
def test_each_stage_says_what_enters_and_what_leaves(stage: str) -> None:
    doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text())) or ""
    assert "Enters:" in doc, stage
    assert "Leaves:" in doc, stage


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_climbs_to_a_later_stage(path: Path) -> None:
    own = _stage("perfkit." + ".".join(path.relative_to(PACKAGE).with_suffix("").parts))
    climbing = [module for module in _perfkit_imports(path) if _stage(module) > own]
    assert not climbing, f"{path.relative_to(PACKAGE)} ({STAGES[own]}) imports from a later stage: {climbing}"


def test_the_foundations_import_no_stage() -> None:
    for name in FOUNDATIONS:
        assert all(_stage(module) == -1 for module in _perfkit_imports(PACKAGE / f"{name}.py")), name
