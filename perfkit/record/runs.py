"""Where results go: run directories that are absolute and new, files written once, and the
manifest through which a notebook hands the batch what it produced."""

from __future__ import annotations

import json
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from perfkit.errors import ConfigurationError, MeasurementError, OutputError
from perfkit.paths import unwritable

MANIFEST = "manifest.json"
INCOMPLETE = "INCOMPLETE"
"""Present in a run directory until its run finished: a killed or failed run leaves it behind."""
MANIFEST_SCHEMA_VERSION = 1


def new_run_directory(base: Path, prefix: str, now: datetime | None = None, *, stamp: str = "%Y%m%dT%H%M%SZ") -> Path:
    """A new directory under ``base`` named by the UTC time, as an absolute path.

    Absolute because notebooks run with another working directory than their caller's. An
    existing directory is never reused: two runs started in the same second get ``<time>`` and
    ``<time>-2`` (mkdir is atomic).
    """
    base = base.expanduser().resolve()
    if base.exists() and not base.is_dir():
        raise ConfigurationError(f"{base} is a file; --output needs a directory (it is created if missing)")
    when = (now or datetime.now(UTC)).strftime(stamp)
    name = f"{prefix}-{when}" if prefix else when
    with unwritable(base):
        base.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 100):
        directory = base / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            with unwritable(directory):
                directory.mkdir()
        except FileExistsError:
            continue
        try:
            with unwritable(directory):
                (directory / INCOMPLETE).write_text(
                    "This run has not finished, or was stopped: what this directory holds is partial.\n"
                )
        except OutputError:
            shutil.rmtree(directory, ignore_errors=True)  # not even its marker fits: leave nothing
            raise
        return directory
    raise MeasurementError(f"{base / name} and 98 more exist already; results are never overwritten")


def mark_complete(directory: Path) -> None:
    """The run that owns ``directory`` finished: its results are whole."""
    (directory / INCOMPLETE).unlink(missing_ok=True)


def write_new(path: Path, text: str) -> Path:
    """Write ``text`` to a file that must not exist yet: results are never overwritten."""
    try:
        with unwritable(path), path.open("x", encoding="utf-8") as handle:
            handle.write(text)
    except FileExistsError:
        raise MeasurementError(f"{path} exists already; results are never overwritten") from None
    return path


def write_manifest(directory: Path | str, **outputs: Path) -> Path:
    """Record what a notebook produced, relative to its output directory, for the batch to read."""
    directory = Path(directory).resolve()
    with unwritable(directory):
        directory.mkdir(parents=True, exist_ok=True)
    document = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "outputs": {kind: str(Path(path).resolve().relative_to(directory)) for kind, path in outputs.items()},
    }
    return write_new(directory / MANIFEST, json.dumps(document, indent=2) + "\n")


def read_manifest(directory: Path) -> dict[str, Path]:
    """What the notebook that ran in ``directory`` produced (empty when it wrote no manifest)."""
    path = directory / MANIFEST
    if not path.is_file():
        return {}
    document = json.loads(path.read_text())
    if document.get("schema_version") != MANIFEST_SCHEMA_VERSION:
        raise MeasurementError(f"{path}: manifest schema version {document.get('schema_version')!r} is not supported")
    outputs: Mapping[str, str] = document["outputs"]
    return {kind: directory / relative for kind, relative in outputs.items()}
