"""The task's harness, run as its compose file runs it: a PostgreSQL 15 named by the POSTGRES_*
variables (DATABASE_URL unset), then its three commands, from a clean environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import psycopg
import pytest

from perfkit.measure.concurrency import quick_client_counts
from perfkit.paths import TASK_REPORT_SCHEMA
from tests.conftest import conninfo_of
from tests.owner_data import SENTINELS, checksums

ROOT = Path(__file__).resolve().parent.parent


def _harness(command: list[str], postgres: dict[str, str], cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("POSTGRES_")}
    completed = subprocess.run(
        [sys.executable, *command],
        cwd=cwd,
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
    """The three commands, beside data of the database's owner that they leave as it was."""
    owner = conninfo_of(postgres15)
    with psycopg.connect(owner, autocommit=True) as conn:
        conn.execute(SENTINELS.format(schema="public"))
        untouched = checksums(conn)
    before = _harness(["tests/test_before.py"], postgres15)
    assert before.returncode == 0, before.stdout[-3000:] + before.stderr[-3000:]
    assert "[FAIL] memory_constant" in before.stdout
    assert "before: every result as expected" in before.stdout

    after = _harness(["-m", "pytest", "tests/test_after.py", "-v", "-p", "no:cacheprovider"], postgres15)
    assert after.returncode == 0, after.stdout[-3000:]
    assert "test_requirement[parity_reference] PASSED" in after.stdout

    # From inside the package's folder, where `evaluation` would name the script itself if anything put
    # that folder first on sys.path.
    evaluation = _harness(["evaluation.py", "--output", str(tmp_path)], postgres15, cwd=ROOT / "evaluation")
    assert evaluation.returncode == 0, evaluation.stderr[-3000:]
    assert "fail to pass:" in evaluation.stdout
    (report,) = tmp_path.glob("*/*/report.json")
    assert postgres15["POSTGRES_PASSWORD"] not in report.read_text()
    document = json.loads(report.read_text())
    jsonschema.validate(document, json.loads(TASK_REPORT_SCHEMA.read_text()))
    harness = ("evaluation_id", "timestamp", "environment", "test_results", "performance_benchmarks")
    assert set(harness) | {"scalability_results", "summary"} <= set(document)
    assert set(document["test_results"]) == {"before_tests", "after_tests"}
    assert document["summary"]["functional_parity_passed"] is True
    assert document["environment"]["server"]["version"].startswith("PostgreSQL 15")
    assert not document["environment"]["server"]["embedded"]
    assert set(document["scalability_results"]["after"]["peak_bytes_by_n"]) == {"1000", "30000"}
    # Margins that leave no doubt: the legacy call allocates per event, the optimized one does not.
    assert {"memory_constant", "no_per_event_python_work"} <= set(document["fail_to_pass"])
    assert {"parity_reference", "parity_generated", "one_round_trip"} <= set(document["pass_to_pass"])
    # The figures that reproduce on any machine: the legacy client works per event, the optimized one does not.
    instructions = {impl: document["performance_benchmarks"][impl]["instructions"] for impl in ("before", "after")}
    if "not_counted" not in instructions["after"]:
        assert instructions["before"]["client_per_event"] > 1_000 > abs(instructions["after"]["client_per_event"])
        assert set(instructions["after"]["backend_by_n"]) == {"1000", "3000", "10000"}  # the quick grid but its largest
        assert {c["name"] for c in document["deterministic_checks"]} >= {"backend instructions linear in N, optimized"}
    # Under concurrent calls: the optimized query at every client count, and its capacity beside the scan floor's.
    loaded = document["performance_benchmarks"]["after"]["under_load"]
    assert tuple(row["clients"] for row in loaded) == quick_client_counts(os.cpu_count() or 1)
    assert all(row["calls_per_second"] > 0 and row["samples"] > 0 for row in loaded)
    assert document["performance_benchmarks"]["before"]["under_load"] == []
    capacity = {c["name"] for c in document["capacity"]}
    assert {"capacity within the p99 goal, after", "capacity within the p99 goal, scan_floor"} <= capacity
    # Whether the machine or the query decided the p99, with the scan floor timed in turns with it.
    (p99,) = [c for c in document["test_results"]["after_tests"] if c["name"] == "p99_at_scale"]
    assert "Machine or query" in p99["measured"]
    assert p99["figures"]["machine"]["floor_median_ms"] > 0
    with psycopg.connect(owner, autocommit=True) as conn:
        assert checksums(conn) == untouched
        conn.execute("DROP TABLE public.events, public.accounts; DROP SCHEMA perfkit_ds_imposter CASCADE")
