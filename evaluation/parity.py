"""Run both implementations side by side and report where they differ."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

import repository_after
import repository_before
from evaluation.errors import ParityError


@dataclass(frozen=True)
class ParityRow:
    user_id: int
    events: int
    before: dict[str, Any]
    after: dict[str, Any]
    expected: dict[str, Any] | None

    @property
    def agree(self) -> bool:
        return _typed(self.before) == _typed(self.after)

    @property
    def matches_expected(self) -> bool | None:
        if self.expected is None:
            return None
        return _typed(self.after) == _typed(self.expected)


def _typed(summary: dict[str, Any]) -> list[tuple[str, type, Any]]:
    return [(key, type(value), value) for key, value in summary.items()]


def compare_users(
    conn: psycopg.Connection[Any],
    user_ids: Iterable[int],
    *,
    event_counts: dict[int, int] | None = None,
    expected: dict[int, dict[str, Any]] | None = None,
) -> list[ParityRow]:
    """Both summaries for each user, read through ``conn``'s search_path."""
    rows = []
    for user_id in user_ids:
        rows.append(
            ParityRow(
                user_id=user_id,
                events=(event_counts or {}).get(user_id, -1),
                before=repository_before.fetch_user_activity_summary(conn, user_id),
                after=repository_after.fetch_user_activity_summary(conn, user_id),
                expected=(expected or {}).get(user_id),
            )
        )
    return rows


def parity_frame(rows: list[ParityRow]) -> pd.DataFrame:
    """One row per user and implementation: the side-by-side table the notebook and CLI show."""
    records = []
    for row in rows:
        for version, summary in (("before", row.before), ("after", row.after)):
            records.append(
                {
                    "user_id": row.user_id,
                    "events": row.events,
                    "version": version,
                    **summary,
                    "agree": row.agree,
                }
            )
    return pd.DataFrame.from_records(records)


def require_parity(rows: list[ParityRow]) -> None:
    """Raise `ParityError` naming every user whose summaries differ (or miss the expected one)."""
    problems = [f"user {row.user_id}: before={row.before} after={row.after}" for row in rows if not row.agree]
    problems += [
        f"user {row.user_id}: expected={row.expected} after={row.after}"
        for row in rows
        if row.matches_expected is False
    ]
    if problems:
        raise ParityError("the implementations disagree: " + "; ".join(problems))
