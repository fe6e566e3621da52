"""Fixtures: the real PostgreSQL server (embedded, or DATABASE_URL) and kit-owned datasets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from perfkit.data import server as db
from perfkit.data.datasets import Dataset, drop_dataset_schema, seed_dataset, use_dataset
from perfkit.data.instances import Instance, read_instance
from perfkit.judge import requirements


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "db: needs the PostgreSQL server (embedded or DATABASE_URL)")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


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
    """Seed a named instance once per session (reused across runs while complete)."""
    cache: dict[str, Dataset] = {}

    def seed(name: str) -> Dataset:
        if name not in cache:
            cache[name] = seed_dataset(admin_conn, read_instance(name), progress=False)
        return cache[name]

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
    server: db.ServerTarget, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[requirements.Context]:
    """The requirement checks of one test module share their datasets and memory sweeps (CI scale)."""
    workdir = tmp_path_factory.mktemp("requirements")
    with requirements.requirement_context(server, requirements.Scale.quick(), workdir) as ctx:
        yield ctx
