"""The second subject, customer_billing: SQL-function versions, rows compared by value, errors by
SQLSTATE, and the differences made on purpose confirmed as declared."""

from __future__ import annotations

import datetime
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from perfkit.data.implementations import call_statement, function_schema
from perfkit.data.instances import read_instance
from perfkit.errors import ParityError, SubjectError
from perfkit.measure.comparison import Raised, difference, same
from perfkit.measure.parity import check_differences, check_parity, require_differences
from perfkit.measure.variants import subject_variants
from perfkit.paths import SUBJECTS_DIR
from perfkit.subject import load_subject

BILLING = SUBJECTS_DIR / "customer_billing"


def test_rows_compare_by_value_in_order_or_as_a_multiset() -> None:
    day = datetime.datetime(2026, 1, 1)
    rows = [(1, Decimal("12"), day), (2, Decimal("0.50"), day)]
    rescaled = [(1, Decimal("12.00"), day), (2, Decimal("0.5"), day)]
    assert same(rows, rescaled, "ordered")
    assert not same(rows, rescaled[::-1], "ordered")
    assert same(rows, rescaled[::-1], "multiset")
    assert difference(rows, [(1, Decimal("13"), day), rows[1]], "ordered") == (
        "row 1",
        repr((1, Decimal("13"), day)),
        repr(rows[0]),
    )
    assert not same({"n": 0}, {"n": 0.0}, "typed")  # a mapping keeps its types
    assert same(Raised("22004", "a"), Raised("22004", "b"), "ordered")  # errors by SQLSTATE
    assert not same(Raised("22004", "a"), [], "ordered")


def test_the_billing_subject_installs_each_version_in_a_schema_of_its_own() -> None:
    subject = load_subject("customer_billing")
    before, after = function_schema(subject, "before"), function_schema(subject, "after")
    assert before != after
    assert before.startswith("perfkit_fn_")
    variants = subject_variants(subject)
    assert variants["after"].sql == call_statement(subject, "after")
    assert variants["after"].planned == subject.implementations["after"].query  # the work, not the call
    assert variants["before"].planned == variants["before"].sql  # no statement given: the call itself
    assert subject.implementations["after"].query is not None
    assert "ORDER BY i.created_at, i.id" in (BILLING / "optimized.sql").read_text()
    assert subject.measured == frozenset()


def _copy(tmp_path: Path, old: str, new: str) -> Path:
    folder = tmp_path / "billing"
    shutil.copytree(BILLING, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "subject.toml"
    assert old in toml.read_text()
    toml.write_text(toml.read_text().replace(old, new))
    return folder


def test_a_difference_declared_alike_on_both_sides_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path, 'before = "error 23505"', 'before = "error 22004"')
    with pytest.raises(SubjectError, match="declared alike"):
        load_subject(folder)


@pytest.mark.db
def test_the_literal_instance_matches_its_hand_checked_rows(admin_conn: psycopg.Connection[Any]) -> None:
    subject = load_subject("customer_billing")
    (report,) = check_parity(admin_conn, [read_instance("billing_literal", subject)])
    assert not report.mismatches
    assert [row.matches_expected for row in report.rows] == [True, True, True]
    assert report.verdict.endswith("3 against hand-checked billing summaries")


@pytest.mark.db
def test_every_declared_difference_shows_as_declared(admin_conn: psycopg.Connection[Any]) -> None:
    outcomes = check_differences(admin_conn, load_subject("customer_billing"))
    assert {o.difference.name for o in outcomes} == {
        "rounded_prices",
        "negative_amount",
        "null_customer",
        "no_invoices",
    }
    assert all(o.confirmed for o in outcomes), [o.line for o in outcomes]
    by_name = {o.difference.name: o for o in outcomes}
    assert by_name["null_customer"].before == Raised("23505", by_name["null_customer"].before.message)
    assert by_name["rounded_prices"].before[0][1] == Decimal("13")  # 12.50 rounded up, 3 × 0.49 rounded down
    assert by_name["rounded_prices"].after[0][1] == Decimal("13.97")
    require_differences(outcomes)


@pytest.mark.db
def test_a_difference_that_does_not_show_as_declared_is_a_parity_error(
    admin_conn: psycopg.Connection[Any], tmp_path: Path
) -> None:
    folder = _copy(tmp_path, 'after = "no rows"', 'after = "rows"')  # it returns none
    outcomes = check_differences(admin_conn, load_subject(folder))
    (wrong,) = [o for o in outcomes if not o.confirmed]
    assert wrong.difference.name == "no_invoices"
    with pytest.raises(ParityError, match="no_invoices"):
        require_differences(outcomes)
