"""Candidate rewrites: files the investigator writes in ``candidates/``, loaded as calls the kit can
check and time beside the optimized version.

A candidate is a Python module exposing ``fetch_user_activity_summary(conn, user_id) -> dict``
(and, optionally, ``QUERY``: the SQL it sends, so its plan can be captured), or a ``.sql`` file
holding one query that takes ``%(user_id)s`` and returns click, view, purchase and total_value in
that order. Each opens with a docstring or comment saying what it tries.

Kept light (no pandas): the memory probe loads candidates in its child process.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import tuple_row

from perfkit.data.instances import SUMMARY_KEYS
from perfkit.errors import CandidateError, first_line
from perfkit.paths import CANDIDATES_DIR, PROJECT_ROOT

Fetch = Callable[[psycopg.Connection[Any], int], dict[str, Any]]


@dataclass(frozen=True)
class Candidate:
    name: str
    path: Path
    description: str
    query: str | None
    fetch: Fetch


def shown(path: Path) -> str:
    """A candidate's path as messages show it: relative to the project when it lives there."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def list_candidates(directory: Path = CANDIDATES_DIR) -> list[str]:
    return sorted(p.stem for p in directory.iterdir() if p.suffix in (".py", ".sql") and not p.name.startswith("_"))


def candidate_path(name_or_path: str | Path, directory: Path = CANDIDATES_DIR) -> Path:
    """A candidate by name (``candidates/<name>.py`` or ``.sql``) or by path."""
    path = Path(name_or_path)
    if path.suffix in (".py", ".sql"):
        if not path.is_file():
            raise CandidateError(shown(path), "no such file")
        return path.resolve()
    found = [directory / f"{name_or_path}{suffix}" for suffix in (".py", ".sql")]
    existing = [p for p in found if p.is_file()]
    if len(existing) != 1:
        known = ", ".join(list_candidates(directory)) if directory.is_dir() else "none"
        problem = "both a .py and a .sql candidate" if existing else "no such candidate"
        raise CandidateError(shown(directory / str(name_or_path)), f"{problem} (known candidates: {known})")
    return existing[0].resolve()


def load_candidate(name_or_path: str | Path, directory: Path = CANDIDATES_DIR) -> Candidate:
    path = candidate_path(name_or_path, directory)
    return _load_sql(path) if path.suffix == ".sql" else _load_module(path)


def _load_module(path: Path) -> Candidate:
    spec = importlib.util.spec_from_file_location(f"perfkit_candidate_{path.stem}", path)
    if spec is None or spec.loader is None:
        raise CandidateError(shown(path), "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # whatever the file does at import (exit included), the user fixes it
        raise CandidateError(shown(path), f"does not import: {type(exc).__name__}: {first_line(exc)}") from None
    fetch = getattr(module, "fetch_user_activity_summary", None)
    if not callable(fetch):
        raise CandidateError(shown(path), "defines no function fetch_user_activity_summary(conn, user_id)")
    description = (module.__doc__ or "").strip()
    if not description:
        raise CandidateError(shown(path), "has no docstring: say in one what the candidate tries")
    query = getattr(module, "QUERY", None)
    return Candidate(path.stem, path, description, query if isinstance(query, str) else None, fetch)


_COMMENT = re.compile(r"--[^\n]*")


def _load_sql(path: Path) -> Candidate:
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
    if ";" in query:
        raise CandidateError(shown(path), "holds more than one statement: a candidate is one query")
    if "%(user_id)s" not in query:
        raise CandidateError(shown(path), "does not take %(user_id)s: write the user id as %(user_id)s")

    def fetch(conn: psycopg.Connection[Any], user_id: int) -> dict[str, Any]:
        with conn.cursor(row_factory=tuple_row) as cur:
            cur.execute(query, {"user_id": user_id}, prepare=False)
            rows = cur.fetchall()
        if len(rows) != 1 or len(rows[0]) != len(SUMMARY_KEYS):
            shape = f"{len(rows)} row(s) of {len(rows[0]) if rows else 0} value(s)"
            raise CandidateError(shown(path), f"returned {shape}: expected one row of {', '.join(SUMMARY_KEYS)}")
        return dict(zip(SUMMARY_KEYS, rows[0], strict=True))

    return Candidate(path.stem, path, description, query, fetch)
