"""The papermill batch: parameters checked up front, failures recorded with their cell, report written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from perfkit.commands.cli import main
from perfkit.commands.report import assemble_report, discover_notebooks, notebook_parameters, raise_if_failed, run_batch
from perfkit.errors import ConfigurationError, NotebookError
from perfkit.record.runs import mark_complete

ROOT = Path(__file__).resolve().parent.parent


def _notebook(path: Path, *sources: str) -> Path:
    cells = [new_code_cell(sources[0], metadata={"tags": ["parameters"]})]
    cells += [new_code_cell(source) for source in sources[1:]]
    kernel = {"kernelspec": {"name": "summary-perfkit", "display_name": "Python", "language": "python"}}
    nbformat.write(new_notebook(cells=cells, metadata=kernel), path)
    return path


def test_shipped_notebooks_declare_output_dir_and_full_parameters() -> None:
    notebooks = discover_notebooks()
    assert [nb.stem for nb in notebooks][:2] == ["01_parity", "02_scaling"]
    for notebook in notebooks:
        assert notebook_parameters(notebook, quick=True) == {}
        notebook_parameters(notebook, quick=False)  # the full-scale parameters exist in the notebook


def test_unknown_parameter_is_refused_before_anything_runs(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path / "01_x.ipynb", 'size = 1\noutput_dir = ""')
    with pytest.raises(ConfigurationError, match=r"01_x.ipynb has no parameter\(s\) \['colour'\]"):
        notebook_parameters(notebook, quick=True, extra={"colour": "red"})
    no_output = _notebook(tmp_path / "02_y.ipynb", "size = 1")
    with pytest.raises(ConfigurationError, match="declares no output_dir parameter"):
        notebook_parameters(no_output, quick=True)


def test_a_failing_notebook_is_recorded_and_the_batch_goes_on(tmp_path: Path) -> None:
    notebooks = [
        _notebook(tmp_path / "01_fails.ipynb", 'output_dir = ""', "x = 1", "raise RuntimeError('boom')"),
        _notebook(tmp_path / "02_works.ipynb", 'output_dir = ""', "print('fine')"),
    ]
    run = run_batch(quick=True, reports_base=tmp_path / "reports", notebooks=notebooks, progress=False)
    failed, works = run.outcomes
    assert works.ok
    assert not failed.ok
    assert failed.error == {"cell_index": 3, "ename": "RuntimeError", "evalue": "boom"}
    assert Path(failed.executed).is_file()  # the saved notebook, with the traceback, is kept
    with pytest.raises(NotebookError, match=r"01_fails: cell 3: RuntimeError: boom \(see .*01_fails.ipynb\)"):
        raise_if_failed(run)
    paths = assemble_report(run)
    report = json.loads(paths["json"].read_text())
    assert report["complete"] is False
    assert [n["ok"] for n in report["notebooks"]] == [False, True]
    assert "## Failed notebooks" in paths["markdown"].read_text()


def test_the_batch_estimates_the_time_left_and_ends_with_each_notebooks_time(tmp_path: Path) -> None:
    notebooks = [
        _notebook(tmp_path / "01_a.ipynb", 'output_dir = ""', "print('a')"),
        _notebook(tmp_path / "02_b.ipynb", 'output_dir = ""', "print('b')"),
    ]
    first = run_batch(quick=True, reports_base=tmp_path / "reports", notebooks=notebooks, progress=False)
    assemble_report(first)
    mark_complete(first.directory)
    said: list[str] = []
    second = run_batch(
        quick=True, reports_base=tmp_path / "reports", notebooks=notebooks, progress=False, log=said.append
    )
    expected = sum(outcome.seconds for outcome in first.outcomes)
    assert said[1] == f"[1/2] 01_a.ipynb ... (about {expected:.0f} s left, as report {first.directory.name} took)"
    assert said[-1].startswith(f"report: 01_a {second.outcomes[0].seconds:.0f} s, 02_b ")
    assert said[-1].endswith(" min in all")


@pytest.mark.slow
def test_nbval_fails_when_a_deterministic_output_is_edited(tmp_path: Path) -> None:
    notebook = nbformat.read(ROOT / "notebooks" / "01_parity.ipynb", as_version=4)
    verdict_cells = [
        cell
        for cell in notebook.cells
        if cell.cell_type == "code" and "parity holds" in "".join(o.get("text", "") for o in cell.get("outputs", []))
    ]
    assert verdict_cells, "the parity notebook must be committed with its verdict output"
    verdict_cells[0].outputs[0].text = "parity holds for 1 users over 1 datasets\n"
    edited = tmp_path / "01_parity.ipynb"
    nbformat.write(notebook, edited)
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(ROOT), "-c",
         str(ROOT / "pyproject.toml"), str(edited)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )  # fmt: skip
    assert completed.returncode == 1, completed.stdout[-2000:]
    assert "parity holds for 1 users" in completed.stdout


@pytest.mark.db
@pytest.mark.slow
def test_report_with_a_relative_output_collects_the_parity_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    before = sorted(p.name for p in (ROOT / "notebooks").iterdir())
    assert main(["report", "--notebook", "01_parity", "--output", "reports", "-p", "01_parity:random_datasets=1"]) == 0
    (report,) = (tmp_path / "reports").iterdir()
    markdown = (report / "report.md").read_text()
    assert "No parity results" not in markdown
    assert "- all agree: True" in markdown
    assert json.loads((report / "report.json").read_text())["notebooks"][0]["outputs"] == {
        "parity": "01_parity/parity.json"
    }
    assert sorted(p.name for p in (ROOT / "notebooks").iterdir()) == before  # nothing written beside the notebooks
