"""Candidate rewrites: files the investigator writes in ``candidates/``, loaded as calls the kit can
check and time beside the optimized version.

A candidate is a Python module exposing the subject's function, as the optimized version does
(and, optionally, ``QUERY``: the SQL it sends, so its plan can be captured), or a ``.sql`` file
holding one query that takes the subject's key as ``%(name)s`` and returns one row of the subject's
result columns, in their order: one SELECT calling only immutable or stable functions
(`candidate_sql`). Each opens with a docstring or comment saying what it tries; each subject keeps
its candidates in a folder of its own.

Kept light (no pandas): the memory probe loads candidates in its child process.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from perfkit.data.candidate_sql import NotASummaryError, called_names, volatile_calls
from perfkit.errors import CandidateError, first_line
from perfkit.paths import PROJECT_ROOT
from perfkit.subject import Subject, load_subject

Fetch = Callable[[psycopg.Connection[Any], int], dict[str, Any]]


@dataclass(frozen=True)
class Candidate:
    name: str
    path: Path
    description: str
    query: str | None
    fetch: Fetch
    subject: Subject = field(compare=False, repr=False)


def shown(path: Path) -> str:
    """A candidate's path as messages show it: relative to the project when it lives there."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def list_candidates(subject: Subject | None = None) -> list[str]:
    directory = (subject or load_subject()).candidates_dir
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.iterdir() if p.suffix in (".py", ".sql") and not p.name.startswith("_"))


def candidate_path(name_or_path: str | Path, subject: Subject | None = None) -> Path:
    """A candidate by name (``<name>.py`` or ``.sql`` of the subject's candidates) or by path."""
    directory = (subject or load_subject()).candidates_dir
    path = Path(name_or_path)
    if path.suffix in (".py", ".sql"):
        if not path.is_file():
            raise CandidateError(shown(path), "no such file")
        return path.resolve()
    found = [directory / f"{name_or_path}{suffix}" for suffix in (".py", ".sql")]
    existing = [p for p in found if p.is_file()]
    if len(existing) != 1:
        known = ", ".join(list_candidates(subject)) or "none"
        problem = "both a .py and a .sql candidate" if existing else "no such candidate"
        raise CandidateError(shown(directory / str(name_or_path)), f"{problem} (known candidates: {known})")
    return existing[0].resolve()


def load_candidate(name_or_path: str | Path, subject: Subject | None = None) -> Candidate:
    subject = subject or load_subject()
    path = candidate_path(name_or_path, subject)
    return _load_sql(subject, path) if path.suffix == ".sql" else _load_module(subject, path)


def _load_module(subject: Subject, path: Path) -> Candidate:
    spec = importlib.util.spec_from_file_location(f"perfkit_candidate_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise CandidateError(shown(path), "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # whatever the file does at import (exit included), the user fixes it
        raise CandidateError(shown(path), f"does not import: {type(exc).__name__}: {first_line(exc)}") from None
    fetch = getattr(module, subject.function_name, None)
    if not callable(fetch):
        raise CandidateError(shown(path), f"defines no function {subject.function_name}(conn, {subject.key.name})")
    description = (module.__doc__ or "").strip()
    if not description:
        raise CandidateError(shown(path), "has no docstring: say in one what the candidate tries")
    query = getattr(module, "QUERY", None)
    return Candidate(path.stem, path, description, query if isinstance(query, str) else None, fetch, subject)


_COMMENT = re.compile(r"--[^\n]*")


def _load_sql(subject: Subject, path: Path) -> Candidate:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise CandidateError(shown(path), f"is not UTF-8 text (byte {exc.start}): save the query as UTF-8") from None
    if "\x00" in text:
        raise CandidateError(shown(path), "holds a NUL byte: a candidate is a text file")
    description = " ".join(
        line.strip()[2:].strip() for line in text.strip().splitlines() if line.strip().startswith("--")
    ).strip()
    query = _COMMENT.sub("", text).strip().rstrip(";").strip()
    if not description:
        raise CandidateError(shown(path), "has no leading comment: say in one (-- ...) what the candidate tries")
    if not query:
        raise CandidateError(shown(path), "holds no query")
    key, columns = subject.key, subject.result_columns
    if key.parameter not in query:
        raise CandidateError(shown(path), f"does not take {key.parameter}: write the {key.name} as {key.parameter}")
    try:
        called = called_names(query, key.parameter)
    except NotASummaryError as exc:
        raise CandidateError(shown(path), str(exc)) from None
    checked = False

    def fetch(conn: psycopg.Connection[Any], value: int) -> dict[str, Any]:
        nonlocal checked
        if not checked:  # before its first call, wherever the kit makes it
            volatile = volatile_calls(conn, called)
            if volatile:
                raise CandidateError(
                    shown(path),
                    f"calls {', '.join(volatile)}, volatile: a candidate may call only immutable or stable "
                    "functions (a summary changes nothing); it was not run",
                )
            checked = True
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(query, {key.name: value}, prepare=False)
            rows = cur.fetchall()
        if len(rows) != 1 or len(rows[0]) != len(columns):
            shape = f"{len(rows)} row(s) of {len(rows[0]) if rows else 0} value(s)"
            raise CandidateError(shown(path), f"returned {shape}: expected one row of {', '.join(columns)}")
        return dict(zip(columns, rows[0], strict=True))

    return Candidate(path.stem, path, description, query, fetch, subject)
