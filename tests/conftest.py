"""Fixtures: the real PostgreSQL server (embedded, or DATABASE_URL) and kit-owned datasets."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from perfkit.commands._options import FULL_SCALE
from perfkit.commands.requirement_tests import REQUIREMENT_PROPERTY
from perfkit.data import server as db
from perfkit.data.datasets import Dataset, drop_dataset_schema, seed_dataset, use_dataset
from perfkit.data.instances import Instance, read_instance
from perfkit.judge import requirements


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--full", action="store_true", help=f"the task's requirement tests at {FULL_SCALE}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What each requirement measured, passed or not: the task's `pytest tests/test_after.py -v` shows the
    figures behind its verdicts, not only their names."""
    measured = [
        f"{report.nodeid.rsplit('::', 1)[-1]}: {value}"
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call" or getattr(report, "skipped", False)
        for name, value in getattr(report, "user_properties", ())
        if name == REQUIREMENT_PROPERTY
    ]
    if measured:
        terminalreporter.section("what each requirement measured")
        for line in measured:
            terminalreporter.line(line)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: needs the PostgreSQL server (embedded or DATABASE_URL)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


LONGEST_FIRST = [
    "tests/test_quick_reports.py", "tests/test_safety.py", "tests/test_harness.py", "notebooks/02_scaling.ipynb",
    "notebooks/04_candidates.ipynb", "tests/test_server_lifetime.py", "tests/test_candidates.py",
]  # fmt: skip
"""The files that take a minute or more, started first (pytest-xdist hands out files in the order
collected): no worker is left running one of them alone at the end."""


def _rank(item: pytest.Item) -> int:
    file = item.nodeid.split("::")[0]
    return LONGEST_FIRST.index(file) if file in LONGEST_FIRST else len(LONGEST_FIRST)


ORDER_SEED = "PERFKIT_TEST_ORDER_SEED"
"""Set, the tests run in an order shuffled by it (a notebook's cells stay together and in order):
a test that leans on another's leftovers, or a cached dataset another test drops, shows up."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    items.sort(key=_rank)  # stable: a file's tests and a notebook's cells keep their order
    seed = os.environ.get(ORDER_SEED)
    if not seed:
        return
    blocks: dict[str, list[pytest.Item]] = {}
    for item in items:
        blocks.setdefault(item.path.name if item.path.suffix == ".ipynb" else item.nodeid, []).append(item)
    order = list(blocks.values())
    random.Random(seed).shuffle(order)
    items[:] = [item for block in order for item in block]


def pytest_report_header(config: pytest.Config) -> str | None:
    seed = os.environ.get(ORDER_SEED)
    return f"tests shuffled: {ORDER_SEED}={seed}" if seed else None


PG15 = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the postgres OS user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def conninfo_of(postgres: dict[str, str]) -> str:
    """The connection string of a server named by POSTGRES_* variables (the `postgres15` fixture's)."""
    return make_conninfo(
        "", host=postgres["POSTGRES_HOST"], port=postgres["POSTGRES_PORT"], dbname=postgres["POSTGRES_DB"],
        user=postgres["POSTGRES_USER"], password=postgres["POSTGRES_PASSWORD"],
    )  # fmt: skip


@pytest.fixture(scope="session")
def postgres15() -> Iterator[dict[str, str]]:
    """A PostgreSQL 15 of Debian's, on 127.0.0.1 with a password, as a compose file's service is."""
    if not (PG15 / "postgres").exists():
        pytest.skip("no PostgreSQL 15 here: apt-get install postgresql-15 (.ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="perfkit-pg15-"))  # short: the socket path must stay short
    password = secrets.token_hex(12)
    (root / "pw").write_text(password)
    if os.getuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(root / "pw", "postgres")
    data, port = root / "data", _free_port()
    pg_ctl = [str(PG15 / "pg_ctl"), "-D", str(data), "-l", str(root / "log")]
    try:
        subprocess.run(
            _as_postgres([str(PG15 / "initdb"), "-D", str(data), "-U", "postgres", "--auth=scram-sha-256",
                          f"--pwfile={root / 'pw'}", "--no-sync"]),
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
        options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1"
        subprocess.run(
            _as_postgres([*pg_ctl, "-o", options, "-w", "start"]), check=True, capture_output=True, timeout=120
        )
        yield {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(port),
            "POSTGRES_DB": "postgres",
            "POSTGRES_USER": "postgres",
            "POSTGRES_PASSWORD": password,
        }
    finally:
        subprocess.run(_as_postgres([*pg_ctl, "-m", "fast", "stop"]), capture_output=True, timeout=120, check=False)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def server() -> db.ServerTarget:
    return db.resolve_server()


@pytest.fixture(scope="session")
def admin_conn(server: db.ServerTarget) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection for seeding and inspecting datasets."""
    with db.connect(server.dsn, autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="session")
def seeded(admin_conn: psycopg.Connection[Any]) -> Callable[[str], Dataset]:
    """A named instance, seeded when missing (a complete load is reused across tests and runs).

    Asked of the database at every use, not remembered: on a database shared with the suite (a
    `DATABASE_URL` whose role may not create databases) a test of `datasets --drop` drops every
    kit dataset there, and a remembered one would name a schema that is gone."""
    instances: dict[str, Instance] = {}

    def seed(name: str) -> Dataset:
        if name not in instances:
            instances[name] = read_instance(name)
        return seed_dataset(admin_conn, instances[name], progress=False)

    return seed


@pytest.fixture
def fresh_dataset(admin_conn: psycopg.Connection[Any]) -> Iterator[Callable[[Instance], Dataset]]:
    """Seed in-memory instances into fresh kit schemas, dropped after the test."""
    created: list[str] = []

    def seed(instance: Instance) -> Dataset:
        dataset = seed_dataset(admin_conn, instance, progress=False)
        created.append(dataset.schema)
        return dataset

    yield seed
    for schema in created:
        drop_dataset_schema(admin_conn, schema, missing_ok=True)


@pytest.fixture
def connect_to(server: db.ServerTarget) -> Iterator[Callable[[str], psycopg.Connection[Any]]]:
    """Open connections whose search_path points at a dataset schema; closed after the test."""
    opened: list[psycopg.Connection[Any]] = []

    def open_conn(schema: str) -> psycopg.Connection[Any]:
        conn = db.connect(server.dsn)
        use_dataset(conn, schema)
        opened.append(conn)
        return conn

    yield open_conn
    for conn in opened:
        conn.close()


@pytest.fixture(scope="module")
def requirement_context(
    server: db.ServerTarget, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[requirements.Context]:
    """The requirement checks of one test module share their datasets and memory sweeps (CI scale, or the
    requirement's with --full)."""
    workdir = tmp_path_factory.mktemp("requirements")
    scale = requirements.Scale.full() if request.config.getoption("--full") else requirements.Scale.quick()
    with requirements.requirement_context(server, scale, workdir) as ctx:
        yield ctx
