"""The task's harness, run as its compose file runs it: a PostgreSQL 15 named by the POSTGRES_*
variables (DATABASE_URL unset), then its three commands, from a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _harness(command: list[str], postgres: dict[str, str]) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("POSTGRES_")}
    completed = subprocess.run(
        [sys.executable, *command],
        cwd=ROOT,
        env={**environment, **postgres},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert postgres["POSTGRES_PASSWORD"] not in completed.stdout + completed.stderr
    return completed


@pytest.mark.db
@pytest.mark.slow
def test_the_harness_commands_run_on_the_server_it_names(postgres15: dict[str, str], tmp_path: Path) -> None:
    before = _harness(["tests/test_before.py"], postgres15)
    assert before.returncode == 0, before.stdout[-3000:] + before.stderr[-3000:]
    assert "[FAIL] memory_constant" in before.stdout
    assert "before: every result as expected" in before.stdout

    after = _harness(["-m", "pytest", "tests/test_after.py", "-v", "-p", "no:cacheprovider"], postgres15)
    assert after.returncode == 0, after.stdout[-3000:]
    assert "test_requirement[parity_reference] PASSED" in after.stdout

    evaluation = _harness(["evaluation/evaluation.py", "--output", str(tmp_path)], postgres15)
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    (report,) = tmp_path.glob("*/*/report.json")
    assert postgres15["POSTGRES_PASSWORD"] not in report.read_text()
    document = json.loads(report.read_text())
    harness = ("evaluation_id", "timestamp", "environment", "test_results", "performance_benchmarks")
    assert set(harness) | {"scalability_results", "summary"} <= set(document)
    assert document["summary"]["functional_parity_passed"] is True
    assert document["environment"]["server"]["version"].startswith("PostgreSQL 15")
    assert not document["environment"]["server"]["embedded"]


@pytest.mark.slow
def test_requirements_txt_installs_a_working_kit(tmp_path: Path) -> None:
    """What the harness's image does: pip install -r requirements.txt into a fresh environment."""
    subprocess.run([sys.executable, "-m", "venv", str(tmp_path / "venv")], check=True, timeout=120)
    python = tmp_path / "venv" / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-r", "requirements.txt"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    completed = subprocess.run(
        [str(python), "-m", "evaluation", "--help"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "evaluate" in completed.stdout
