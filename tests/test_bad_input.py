"""Bad input gets one line on stderr and a non-zero exit code, never a traceback (unless --debug)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.commands.cli import main
from perfkit.data import server as db
from perfkit.data.datasets import dataset_schema, owned_schemas, seed_dataset
from perfkit.data.instances import Instance, literal_instance
from perfkit.errors import DatabaseError, OutputError
from perfkit.measure.results import BenchRecord
from perfkit.record.format import save_bench
from perfkit.record.runs import INCOMPLETE


def _error(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def _bench_run(directory: Path, *, finished: bool = True) -> Path:
    """A bench results directory holding a record with nothing measured: enough for `diff` to read."""
    directory.mkdir(parents=True)
    save_bench(BenchRecord(environment={}, parameters={}), directory, [])
    if not finished:
        (directory / INCOMPLETE).write_text("stopped\n")
    return directory


def test_diff_refuses_a_run_that_did_not_finish(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    done, stopped = _bench_run(tmp_path / "a"), _bench_run(tmp_path / "b", finished=False)
    assert main(["diff", str(done), str(stopped)]) == 2
    assert f"{stopped} did not finish (it holds INCOMPLETE)" in _error(capsys)


@pytest.mark.db
@pytest.mark.parametrize("target", ["/proc/perfkit-diff.json", "missing/folder/diff.json"])
def test_an_unwritable_output_is_one_line(target: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = _bench_run(tmp_path / "a")
    destination = target if target.startswith("/") else str(tmp_path / target)
    assert main(["diff", str(run), str(run), "--json", destination]) == OutputError.exit_code
    assert f"cannot write {destination}: " in _error(capsys)
    assert main(["bench", "--quick", "--output", "/proc/perfkit-results"]) == OutputError.exit_code
    assert "cannot write /proc/perfkit-results" in _error(capsys)


def test_readme_cites_only_a_finished_report_inside_the_project(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    report.mkdir()
    (report / "report.json").write_text("{}")
    assert main(["readme", str(report)]) == 2
    assert "is outside the project: README cites its curated copy" in _error(capsys)


def test_malformed_instance_file_names_file_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"events": [{"id": 1, "user_id": "seven", "type": "click"}]}))
    assert main(["compare", str(bad)]) == 3
    assert f"{bad}: events[0].user_id: expected an integer" in _error(capsys)


def test_unknown_notebook(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--notebook", "09_nope"]) == 2
    assert "no notebook(s) ['09_nope']; available: ['01_parity'" in _error(capsys)


def test_unknown_notebook_parameter(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--notebook", "01_parity", "--param", "01_parity:colour=1"]) == 2
    assert "01_parity.ipynb has no parameter(s) ['colour']; its parameters cell declares" in _error(capsys)


@pytest.mark.parametrize("item", ["01_parity", "01_parity:random_datasets", ":x=1"])
def test_malformed_parameter(item: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--param", item]) == 2
    assert "expected NOTEBOOK:NAME=VALUE" in _error(capsys)


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ("01_parity:random_datasets=-5", "random_datasets=-5 must not be negative"),
        ("01_parity:random_events=many", "random_events='many' must be a whole number, as its default"),
        ("02_scaling:quick=1", "quick=1 must be true or false, as its default"),
    ],
)
def test_a_parameter_unlike_its_default_is_refused_before_anything_runs(
    item: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--quick", "--param", item, "--output", str(tmp_path)]) == 2
    assert problem in _error(capsys)
    assert list(tmp_path.iterdir()) == []


def test_parameter_for_a_notebook_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "--notebook", "01_parity", "--param", "02_scaling:quick=true"]) == 2
    assert "parameters given for notebook(s) ['02_scaling'] that are not run" in _error(capsys)


@pytest.mark.parametrize("size", ["0", "-5"])
def test_sizes_must_be_positive(size: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--grid", size]) == 2
    assert f"argument --grid: expected a positive integer, got '{size}'" in _error(capsys)


def test_size_beyond_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--grid", "5000000"]) == 2
    assert "no user with exactly 5,000,000 events (available: 3, 1,000, 3,000, 10,000, 30,000)" in _error(capsys)


def test_server_older_than_supported() -> None:
    with pytest.raises(DatabaseError, match=r"PostgreSQL 13 at .* is too old: the kit needs 14 or newer"):
        db.require_supported_version(130012, "postgresql://u:pw@db.example/app")
    db.require_supported_version(140000, "")


def test_debug_shows_the_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(Exception, match="no such instance file"):
        main(["--debug", "compare", "no_such_instance"])


@pytest.mark.db
def test_statement_timeout_stops_the_run_and_keeps_partial_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "--quick", "--no-memory", "--statement-timeout", "1", "--output", str(tmp_path)]) == 7
    assert "ran past the statement timeout of 1 ms" in _error(capsys)
    (run_dir,) = tmp_path.iterdir()
    record = json.loads((run_dir / "results.json").read_text())
    assert record["complete"] is False
    assert any("statement timeout" in note for note in record["notes"])
    assert "INCOMPLETE" in (run_dir / "summary.md").read_text()
    assert (run_dir / "INCOMPLETE").exists()


@pytest.mark.db
def test_connection_lost_mid_run_keeps_partial_results(
    server: db.ServerTarget, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from perfkit.commands.bench import BenchConfig, run_bench
    from perfkit.data.instances import read_instance

    calls = 0
    first_n_done = cut = False

    def log(line: str) -> None:
        nonlocal first_n_done
        first_n_done = first_n_done or line.strip().startswith("grid N=")

    def clock_that_cuts_the_connection() -> float:
        nonlocal calls, cut
        calls += 1
        if first_n_done and not cut:  # the first clock reading of the second N: the first is complete
            cut = True
            (run_dir,) = tmp_path.iterdir()
            with db.connect(server.dsn, autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                    (f"perfkit-bench {run_dir.name}",),
                )
        return float(calls) / 1000

    with pytest.raises(DatabaseError, match="connection to PostgreSQL was lost mid-run"):
        run_bench(
            server,
            read_instance("quick"),
            BenchConfig.quick_config(),
            tmp_path,
            progress=False,
            clock=clock_that_cuts_the_connection,
            log=log,
        )
    (run_dir,) = tmp_path.iterdir()
    record = json.loads((run_dir / "results.json").read_text())
    assert record["complete"] is False
    assert {series["n"] for series in record["latency"]} == {1_000}, "what was measured before the loss is kept"


class _InterruptedInstance(Instance):
    def rows(self, table: str | None = None) -> Iterator[tuple[Any, ...]]:
        yield from super().rows(table)
        raise KeyboardInterrupt


@pytest.mark.db
def test_ctrl_c_during_seeding_leaves_nothing_marked_complete(admin_conn: psycopg.Connection[Any]) -> None:
    base = literal_instance(
        "seedtest_interrupted", {"events": [{"id": i, "user_id": 1, "type": "click"} for i in range(50)]}
    )
    interrupted = _InterruptedInstance(
        name=base.name,
        description="",
        source=base.source,
        body=base.body,
        subject=base.subject,
        fingerprint=base.fingerprint,
    )
    with pytest.raises(KeyboardInterrupt):
        seed_dataset(admin_conn, interrupted, progress=False)
    schema = dataset_schema(base)
    assert schema not in owned_schemas(admin_conn)
    assert admin_conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None
