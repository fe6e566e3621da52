"""The code under investigation, by name, and the session it runs in.

Kept light (no pandas, no matplotlib): the memory probe and the load server import it in
child processes whose resident set is the measurement.
"""

from __future__ import annotations

import importlib
import resource
from collections.abc import Callable
from typing import Any

import psycopg

MODULES = {"before": "repository_before", "after": "repository_after"}
IMPLEMENTATIONS = tuple(MODULES)
DSN_VARIABLE = "PERFKIT_PROBE_DSN"
"""Children get the DSN through their environment, never their command line (visible to ``ps``)."""

Fetch = Callable[[psycopg.Connection[Any], int], dict[str, Any]]


def fetch_function(implementation: str) -> Fetch:
    """``fetch_user_activity_summary`` of ``before`` or ``after``."""
    if implementation not in MODULES:
        raise ValueError(f"implementation must be one of {IMPLEMENTATIONS}, not {implementation!r}")
    fetch: Fetch = importlib.import_module(MODULES[implementation]).fetch_user_activity_summary
    return fetch


def prepare_session(conn: psycopg.Connection[Any], schema: str) -> None:
    """Point an autocommit session at a dataset and make it read-only: a bug measured cannot write."""
    conn.execute("SELECT set_config('search_path', quote_ident(%s), false)", (schema,))
    conn.execute("SET default_transaction_read_only = on")


def cap_address_space(limit_mb: int | None) -> None:
    """Cap this process's address space, so a legacy call that outgrows it raises MemoryError."""
    if limit_mb:
        limit = limit_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
