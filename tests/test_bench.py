"""`bench` refusals and the variants it is given; the quick bench itself is tested end to end on the
suite's quick report (test_quick_reports.py)."""

from __future__ import annotations

import pytest

from perfkit.commands.cli import main
from perfkit.subject import load_subject

pytestmark = [pytest.mark.db, pytest.mark.slow]


def test_distinct_rewrite_is_derived_from_the_optimized_query() -> None:
    rewrite = load_subject().reference("rewrite")
    assert rewrite is not None
    assert "SELECT DISTINCT id, type, metadata FROM events WHERE user_id = %(user_id)s" in rewrite.query


def test_grid_sizes_missing_from_the_instance_are_a_clear_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--grid", "1000", "7777"]) == 2
    err = capsys.readouterr().err
    assert "no user with exactly 7,777 events (available: 3, 1,000, 3,000, 10,000, 30,000)" in err
