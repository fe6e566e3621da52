"""Every folder the kit reads from or writes to, in one place (every stage may import it), and the one
place where the operating system's refusal to write an output becomes one line (`unwritable`).

The kit is installed editable from its checkout, so its folders are found from this file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeGuard

from perfkit.errors import OutputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What the kit reads.
SUBJECTS_DIR = PROJECT_ROOT / "subjects"
"""One folder per subject: what is investigated, described as data (`perfkit.subject`)."""
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
README = PROJECT_ROOT / "README.md"
DOCS_DIR = PROJECT_ROOT / "docs"
"""Reference material README links: generated parts are kept equal to the kit by tests."""
CLI_REFERENCE = DOCS_DIR / "cli.md"

# What the kit writes (git-ignored but for the evidence and the patch).
DEFAULT_PGDATA = PROJECT_ROOT / ".pgdata"
COUNTING_DIR = PROJECT_ROOT / ".counting"
"""Single-user data directories where backend instructions are counted, one per dataset."""
RESULTS_DIR = PROJECT_ROOT / "results"
"""Runs of `bench`, `loadtest` and `try`: one new directory each."""
REPORTS_DIR = PROJECT_ROOT / "reports"
"""Reports of `make report`: one new directory each."""
TASK_DIR = PROJECT_ROOT / "evaluation"
TASK_REPORTS_DIR = TASK_DIR / "reports"
"""The task's own reports (`python evaluation/evaluation.py`), in the layout its harness expects."""
TASK_REPORT_SCHEMA = TASK_DIR / "task_report.schema.json"
EVIDENCE_DIR = PROJECT_ROOT / "evidence"
"""The small curated folder README and the trajectory cite."""
PATCH = PROJECT_ROOT / "patches" / "diff.patch"


_WHAT_TO_DO = {
    errno.ENOSPC: "free space on that disk, or give --output a folder on another",
    errno.EDQUOT: "free space within your quota, or give --output a folder on another disk",
    errno.EFBIG: "the file is larger than this system allows: give --output a folder on another disk",
    errno.EROFS: "the file system is read-only: give --output a folder you can write to",
    errno.EACCES: "you may not write there: give --output a folder you can write to",
    errno.EPERM: "you may not write there: give --output a folder you can write to",
    errno.ENOTDIR: "a part of that path is a file: give --output a folder",
    errno.ENOENT: "its folder does not exist: give --output a folder (it is created if missing)",
}


def refused_write(exc: BaseException) -> TypeGuard[OSError]:
    """Whether ``exc`` is the operating system refusing a write (not a missing file read, not a socket)."""
    return isinstance(exc, OSError) and exc.errno in _WHAT_TO_DO and exc.errno != errno.ENOENT


def output_error(path: Path | str, exc: OSError) -> OutputError:
    """What the operating system's refusal to write ``path`` means, and what to do about it."""
    what_to_do = _WHAT_TO_DO.get(exc.errno or 0, "give --output a folder you can write to")
    return OutputError(f"cannot write {path}: {exc.strerror or type(exc).__name__}; {what_to_do}")


@contextmanager
def unwritable(path: Path | str) -> Iterator[None]:
    """Every write of an output goes through here: the operating system's refusal (a full disk, a
    read-only file system, no permission, a path under a file) becomes one line that names ``path``
    and what to do (`OutputError`, exit 12); an existing file is the caller's to handle."""
    try:
        yield
    except FileExistsError:
        raise
    except OSError as exc:
        raise output_error(path, exc) from None


def keep_copy(source: Path, destination: Path) -> Path:
    """A file some tool wrote elsewhere (a callgrind output), copied among a run's results."""
    with unwritable(destination):
        return Path(shutil.copy(source, destination))


def room_for(path: Path) -> None:
    """Whether a file a tool writes on its own (memray's capture, in a child process) failed because
    its folder can take no more: raises `OutputError` naming ``path`` if so."""
    probe = path.parent / f".perfkit-space-{os.getpid()}"
    try:
        with unwritable(path), probe.open("wb") as handle:
            handle.write(b"\0" * 65536)
            handle.flush()
            os.fsync(handle.fileno())
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
