"""The plan that ran: captured through the same path as the call, stable on a pooled connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

import repository_after
import repository_before
from perfkit.data.datasets import Dataset
from perfkit.measure.plans import capture_plan, plan_shape
from perfkit.subject import load_subject
from repository_after.summary import SUMMARY_QUERY

LEGACY_QUERY = load_subject().implementations["before"].query

pytestmark = pytest.mark.db


@pytest.fixture
def quick_conn(
    seeded: Callable[[str], Dataset], connect_to: Callable[[str], psycopg.Connection[Any]]
) -> psycopg.Connection[Any]:
    conn = connect_to(seeded("quick").schema)
    conn.autocommit = True
    return conn


def test_the_optimized_plan_of_the_30th_call_is_the_plan_of_the_first(quick_conn: psycopg.Connection[Any]) -> None:
    user = 2003  # 10,000 events of the quick instance
    repository_after.fetch_user_activity_summary(quick_conn, user)
    first = capture_plan(quick_conn, SUMMARY_QUERY, user)
    for _ in range(29):
        repository_after.fetch_user_activity_summary(quick_conn, user)
    thirtieth = capture_plan(quick_conn, SUMMARY_QUERY, user)
    assert (thirtieth.kind, thirtieth.prepared) == ("custom", False)  # planned for this user on every call
    assert thirtieth.shape == first.shape


def test_a_prepared_statement_is_explained_through_its_own_plan_cache(quick_conn: psycopg.Connection[Any]) -> None:
    # The legacy code sends its query with psycopg's defaults: prepared from the 5th execution, so
    # the capture must EXPLAIN EXECUTE that statement, counting the plans PostgreSQL chose for it.
    for _ in range(12):
        repository_before.fetch_user_activity_summary(quick_conn, 2001)
    captured = capture_plan(quick_conn, LEGACY_QUERY, 2001)
    assert captured.prepared
    assert captured.generic_plans + captured.custom_plans >= 7  # every execution since it was prepared
    assert captured.kind == ("generic" if captured.generic_plans else "custom")
    assert captured.shape == plan_shape(captured.plan)
    assert "Scan" in captured.shape


def test_a_plan_captured_without_running_it_has_the_shape_and_kind_of_the_run_one(
    quick_conn: psycopg.Connection[Any],
) -> None:
    # The bench captures a variant's plan before its samples only to see whether it changes: the
    # plan alone, which at a million events saves a call's time per variant and N.
    for _ in range(12):
        repository_before.fetch_user_activity_summary(quick_conn, 2001)
    planned = capture_plan(quick_conn, LEGACY_QUERY, 2001, analyze=False)
    run = capture_plan(quick_conn, LEGACY_QUERY, 2001)
    assert planned.prepared
    assert run.prepared
    assert (planned.kind, planned.shape) == (run.kind, run.shape)
    assert "Execution Time" not in planned.plan[0]
    assert "Execution Time" in run.plan[0]


def test_the_legacy_query_is_the_one_the_legacy_code_sends() -> None:
    import inspect

    assert f'"{LEGACY_QUERY}"' in inspect.getsource(repository_before.summary)
