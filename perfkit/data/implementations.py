"""The code under investigation, by name, and the session it runs in.

Kept light (no pandas, no matplotlib): the memory probe and the load server import it in
child processes whose resident set is the measurement.
"""

from __future__ import annotations

import hashlib
import resource
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import psycopg

from perfkit.subject import IMPLEMENTATIONS, Subject

DSN_VARIABLE = "PERFKIT_PROBE_DSN"
"""Children get the DSN through their environment, never their command line (visible to ``ps``)."""

Fetch = Callable[[psycopg.Connection[Any], Any], Any]
"""An implementation: (conn, key) -> result; the key may be None where a subject declares what NULL does."""


FUNCTION_SCHEMA_PREFIX = "perfkit_fn_"
"""Schemas where a subject's SQL implementations are installed, one per implementation and text."""


def function_schema(subject: Subject, implementation: str) -> str:
    """Where a SQL implementation lives: a kit-owned schema of its own (before and after share a name),
    named after its text, so an edited file is installed afresh."""
    install = subject.implementations[implementation].install or ""
    digest = hashlib.sha256(f"{subject.name}\0{implementation}\0{install}".encode()).hexdigest()[:12]
    return f"{FUNCTION_SCHEMA_PREFIX}{subject.name[:24]}_{implementation}_{digest}"


def call_statement(subject: Subject, implementation: str) -> str:
    """The statement that calls a SQL implementation, schema-qualified; it reads the dataset on the search_path."""
    function = subject.implementations[implementation].call
    return f'SELECT * FROM "{function_schema(subject, implementation)}"."{function}"({subject.key.parameter})'


def fetch_function(subject: Subject, implementation: str) -> Fetch:
    """The subject's ``before`` or ``after``, or a candidate file given by its path."""
    if implementation in IMPLEMENTATIONS:
        if subject.implementations[implementation].in_sql:
            return _sql_call(subject, implementation)
        fetch: Fetch = subject.fetch(implementation)
        return fetch
    from perfkit.data.candidates import load_candidate

    return load_candidate(Path(implementation), subject).fetch


def _sql_call(subject: Subject, implementation: str) -> Fetch:
    statement, key = call_statement(subject, implementation), subject.key.name
    prepare = None if subject.implementations[implementation].prepared_by_default else False

    def call(conn: psycopg.Connection[Any], value: int) -> list[tuple[Any, ...]]:
        with conn.cursor() as cur:
            cur.execute(statement, {key: value}, prepare=prepare)
            return cur.fetchall()

    return call


def prepare_session(conn: psycopg.Connection[Any], schema: str, settings: Mapping[str, str] | None = None) -> None:
    """Point an autocommit session at a dataset and make it read-only (a bug measured cannot write),
    with ``settings`` for this session only. The kit's own statements are sent unprepared, so the
    only prepared statements a session holds are those of the code it measures."""
    session = {"search_path": _quoted(conn, schema), "default_transaction_read_only": "on"}
    apply_settings(conn, {**session, **(settings or {})})


def apply_settings(conn: psycopg.Connection[Any], settings: Mapping[str, str]) -> None:
    """Session settings (``set_config(..., false)``): the server's own configuration is never changed."""
    for name, value in settings.items():
        conn.execute("SELECT set_config(%s, %s, false)", (name, value), prepare=False)


def _quoted(conn: psycopg.Connection[Any], schema: str) -> str:
    row = conn.execute("SELECT quote_ident(%s)", (schema,), prepare=False).fetchone()
    assert row is not None
    return str(row[0])


def cap_address_space(limit_mb: int | None) -> None:
    """Cap this process's address space, so a legacy call that outgrows it raises MemoryError."""
    if limit_mb:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
