"""Run directories, files written once, manifests, curated evidence and the committed tree."""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from perfkit.commands.notebooks import committed_output_problems, write_notebook
from perfkit.errors import ConfigurationError, MeasurementError, OutputError
from perfkit.measure.memory import MEMRAY_ERROR, measure_call_memory
from perfkit.paths import keep_copy
from perfkit.record.evidence import MAX_EVIDENCE_BYTES, curate
from perfkit.record.format import write_record
from perfkit.record.runs import INCOMPLETE, mark_complete, new_run_directory, read_manifest, write_manifest, write_new
from perfkit.render.figures import save_figure
from perfkit.subject import load_subject

ROOT = Path(__file__).resolve().parent.parent


def test_run_directory_is_absolute_whatever_the_caller_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    directory = new_run_directory(Path("reports"), "bench", datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert directory.is_absolute()
    assert directory == tmp_path / "reports" / "bench-20260102T030405Z"
    assert (directory / INCOMPLETE).exists()  # until the run says it finished
    mark_complete(directory)
    assert list(directory.iterdir()) == []


def test_output_naming_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("")
    with pytest.raises(ConfigurationError, match="is a file; --output needs a directory"):
        new_run_directory(tmp_path / "taken", "bench")


def test_files_are_written_once(tmp_path: Path) -> None:
    write_new(tmp_path / "a.json", "{}")
    with pytest.raises(MeasurementError, match="never overwritten"):
        write_new(tmp_path / "a.json", "[]")
    assert (tmp_path / "a.json").read_text() == "{}"


def test_manifest_names_outputs_relative_to_its_directory(tmp_path: Path) -> None:
    produced = tmp_path / "bench-1" / "results.json"
    produced.parent.mkdir()
    produced.write_text("{}")
    manifest = write_manifest(str(tmp_path), bench=produced)
    assert json.loads(manifest.read_text())["outputs"] == {"bench": "bench-1/results.json"}
    assert read_manifest(tmp_path) == {"bench": produced}
    assert read_manifest(tmp_path / "bench-1") == {}


def test_evidence_keeps_text_data_and_png_only(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "20260101T000000Z"
    (report / "02_scaling" / "bench-x" / "memray").mkdir(parents=True)
    for name in ("report.md", "report.json", "02_scaling.ipynb", "02_scaling/bench-x/latency.png",
                 "02_scaling/bench-x/latency.svg", "02_scaling/bench-x/memray/capture.bin"):  # fmt: skip
        (report / name).write_text("x")
    capture = {"schema_version": 3, "kind": "report", "capture": f"{report}/02_scaling/bench-x/memray/capture.bin"}
    (report / "report.json").write_text(json.dumps(capture))
    curated = curate(report, tmp_path / "evidence")
    kept = sorted(str(p.relative_to(curated)) for p in curated.rglob("*") if p.is_file())
    assert kept == ["02_scaling/bench-x/latency.png", "CURATED.md", "report.json", "report.md"]
    assert ".bin" in (curated / "CURATED.md").read_text()
    assert json.loads((curated / "report.json").read_text())["capture"] == "02_scaling/bench-x/memray/capture.bin"
    with pytest.raises(ConfigurationError, match="exists already"):
        curate(report, tmp_path / "evidence")
    with pytest.raises(ConfigurationError, match="not a report directory"):
        curate(tmp_path, tmp_path / "evidence")
    other = tmp_path / "reports" / "20260101T000001Z"
    other.mkdir()
    (other / "report.json").write_text(json.dumps({"schema_version": 3, "kind": "bench"}))
    with pytest.raises(ConfigurationError, match="a bench record where a report record was expected"):
        curate(other, tmp_path / "evidence")


def test_evidence_failing_midway_leaves_nothing_and_can_be_retried(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "20260101T000000Z"
    report.mkdir(parents=True)
    (report / "report.json").write_text(json.dumps({"schema_version": 3, "kind": "report"}))
    (report / "z-broken.md").write_bytes(b"caf\xe9")  # read last: the rest is already prepared
    with pytest.raises(ConfigurationError, match=r"z-broken\.md is not UTF-8 text"):
        curate(report, tmp_path / "evidence")
    assert not (tmp_path / "evidence").exists() or list((tmp_path / "evidence").iterdir()) == []
    (report / "z-broken.md").write_text("café")
    assert (curate(report, tmp_path / "evidence") / "z-broken.md").read_text() == "café"


def test_evidence_is_limited_by_what_it_will_hold_not_by_what_the_report_holds(tmp_path: Path) -> None:
    """A record indented past the limit is kept: the evidence holds it without its indentation."""
    report = tmp_path / "reports" / "20260101T000000Z"
    report.mkdir(parents=True)
    samples = {"schema_version": 3, "kind": "report", "seconds": [0.25] * 200_000}
    (report / "report.json").write_text(json.dumps(samples, indent=40))
    assert (report / "report.json").stat().st_size > MAX_EVIDENCE_BYTES
    curated = curate(report, tmp_path / "evidence")
    assert (curated / "report.json").stat().st_size < MAX_EVIDENCE_BYTES


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebooks_open_with_their_figures(notebook: Path) -> None:
    assert committed_output_problems(notebook) == [], "run `make notebooks` to refresh them"


def _tracked_files() -> list[Path]:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the committed tree cannot be inspected")
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True, check=True).stdout
    return [ROOT / name for name in os.fsdecode(listed).split("\0") if name]


def test_the_tree_holds_no_generated_run_and_stays_small() -> None:
    """Two budgets: the curated evidence (what runs left behind), and everything else (code, subjects,
    notebooks, prose), so that neither grows by eating the other's room."""
    files = _tracked_files()
    generated = [p for p in files if p.suffix in (".bin", ".lock") or "reports" in p.relative_to(ROOT).parts[:-1]]
    assert generated == []
    evidence = sum(p.stat().st_size for p in files if p.exists() and p.is_relative_to(ROOT / "evidence"))
    rest = sum(p.stat().st_size for p in files if p.exists()) - evidence
    assert evidence < 2.5 * 1024 * 1024, f"evidence/ totals {evidence / 1024 / 1024:.2f} MB"
    assert rest < 1.5 * 1024 * 1024, f"tracked files beside evidence/ total {rest / 1024 / 1024:.2f} MB"


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.ipynb")), ids=lambda p: p.name)
def test_committed_notebook_renders_its_figures(notebook: Path) -> None:
    """As a reader sees it without running anything: nbconvert's page holds one image per figure drawn."""
    import nbconvert
    import nbformat

    page, _ = nbconvert.HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    drawn = sum("_figure(" in "".join(cell.source) for cell in nbformat.read(notebook, as_version=4).cells)
    assert page.count("data:image/png;base64,") >= drawn


@contextlib.contextmanager
def _small_disk(free_bytes: int) -> Iterator[Path]:
    """A folder on a 64 KB tmpfs with ``free_bytes`` left (a multiple of its 4 KB pages)."""
    folder = Path(tempfile.mkdtemp(prefix="pk-full-"))
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        folder.rmdir()
        pytest.skip(f"a small tmpfs cannot be mounted here: {mounted.stderr.decode().strip()}")
    try:
        with contextlib.suppress(OSError), (folder / "filler").open("wb") as filler:
            while os.statvfs(folder).f_bavail * os.statvfs(folder).f_frsize > free_bytes:
                filler.write(b"\0" * 4096)
                filler.flush()
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)
        folder.rmdir()


@pytest.fixture
def full_folder() -> Iterator[Path]:
    with _small_disk(0) as folder:
        yield folder


def _figure(folder: Path, _: Path) -> None:
    fig = plt.figure()
    try:
        save_figure(fig, folder, "latency_vs_n")
    finally:
        plt.close(fig)


def _memray_capture(folder: Path, _: Path) -> None:
    """memray writes its capture in the probe's process and, when it cannot, stops tracking and lets the
    probe exit 0 with the figures of a truncated capture: the kit must notice."""

    measured = ("peak_bytes", "total_allocations", "rss_before_bytes", "rss_after_bytes", "max_rss_bytes", "seconds")
    report = {**dict.fromkeys(measured, 0), "limit_hit": False}

    def failed(command: Sequence[str], **_: object) -> subprocess.CompletedProcess[str]:
        if "--capture" in command:  # what memray says, and the probe exiting 0 with a truncated capture's figures
            said = f"{MEMRAY_ERROR}: Failed to grow output file by 4096 bytes: No space left on device\n"
            return subprocess.CompletedProcess(list(command), 0, json.dumps(report), said)
        return subprocess.CompletedProcess(list(command), 0, json.dumps(report), "")

    measure_call_memory(
        "", "perfkit_x", "after", 1, 1, folder, subject=load_subject(), warm_key=1, runner=failed
    )  # fmt: skip


def _callgrind(folder: Path, scratch: Path) -> None:
    source = scratch / "callgrind.out"
    source.write_bytes(b"events: Ir\n" * 10_000)
    keep_copy(source, folder / "callgrind-after-30000.out")


ARTIFACTS = {
    "json": lambda folder, _: write_record(folder, "parity", {"all_agree": True}),
    "csv": lambda folder, _: write_new(folder / "results.csv", "n,median_ms\n" * 2_000),
    "figures": _figure,
    "callgrind": _callgrind,
    "memray": _memray_capture,
    "notebooks": lambda folder, _: write_notebook({"cells": [], "metadata": {}, "nbformat": 4}, folder / "a.ipynb"),
}


@pytest.mark.parametrize("kind", sorted(ARTIFACTS))
def test_a_full_disk_is_one_line_naming_the_path_and_what_to_do(kind: str, full_folder: Path, tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=rf"^cannot write {re.escape(str(full_folder))}/.*: No space left on device; "
                       "free space on that disk, or give --output a folder on another$"):  # fmt: skip
        ARTIFACTS[kind](full_folder, tmp_path)


@pytest.mark.parametrize("kind", sorted(set(ARTIFACTS) - {"memray"}))
def test_a_path_under_a_file_is_one_line_naming_it(kind: str, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    with pytest.raises(OutputError, match="Not a directory; a part of that path is a file: give --output a folder"):
        ARTIFACTS[kind](tmp_path / "a-file", tmp_path)


@pytest.mark.db
@pytest.mark.parametrize(
    ("command", "written"),
    [
        (["bench", "--quick", "--grid", "1000", "--no-instructions", "--no-flamegraphs", "--no-concurrency"],
         r"bench-[^/]+/\S+"),
        (["report", "--quick", "--notebook", "01_parity"], r"[^/]+/01_parity\.ipynb"),
    ],
    ids=["bench", "report"],
)  # fmt: skip
def test_a_run_that_fills_the_disk_ends_in_one_line_and_stays_incomplete(command: list[str], written: str) -> None:
    """The probe: `--output` on a disk with room for the run's directory and little more (a report stops
    at the notebook papermill could not write, not after trying every other)."""
    with _small_disk(12 * 1024) as folder:
        output = folder / "runs"
        run = subprocess.run(
            [sys.executable, "-m", "evaluation", *command, "--output", str(output)],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == OutputError.exit_code, run.stderr[-2000:]
        assert re.fullmatch(
            rf"error: cannot write {re.escape(str(output))}/{written}: No space left on device; "
            "free space on that disk, or give --output a folder on another\n",
            run.stderr,
        ), run.stderr
        (directory,) = output.iterdir()
        assert (directory / INCOMPLETE).exists()
