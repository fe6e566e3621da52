"""environment.yml (conda users) lists exactly the dependencies of pyproject.toml."""

from __future__ import annotations

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict))
    assert set(pip_section) - {"-e ."} == declared


def test_requirements_txt_installs_the_project_with_extras_it_declares() -> None:
    """requirements.txt names no version of its own: it installs this project, so pyproject.toml rules,
    and with the extras `make` installs into a fresh .venv at every CI run: the harness's install is the
    one the whole suite runs on."""
    extras = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    requirements = [line for line in lines if line and not line.startswith("#")]
    assert len(requirements) == 1, requirements
    editable, _, target = requirements[0].partition(" ")
    assert editable == "-e"
    assert target == f".[{target[2:-1]}]", target
    assert set(target[2:-1].split(",")) <= extras
    assert f"pip install --quiet -e '{target}'" in (ROOT / "Makefile").read_text()
