"""Run both implementations side by side and report where they differ."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

from perfkit.data.datasets import drop_dataset_schema, seed_dataset, use_dataset
from perfkit.data.implementations import Fetch
from perfkit.data.instances import Instance, parse_instance
from perfkit.errors import ParityError
from perfkit.subject import Subject, load_subject


@dataclass(frozen=True)
class ParityRow:
    user_id: int
    events: int
    before: dict[str, Any]
    after: dict[str, Any]
    expected: dict[str, Any] | None

    @property
    def agree(self) -> bool:
        return typed_summary(self.before) == typed_summary(self.after)

    @property
    def matches_expected(self) -> bool | None:
        if self.expected is None:
            return None
        return typed_summary(self.after) == typed_summary(self.expected)


def typed_summary(summary: Mapping[str, Any]) -> list[tuple[str, type, Any]]:
    """A summary compared key by key, type included: 0 and 0.0 differ, as do False and 0, and a
    NaN total (+Infinity and -Infinity prices together) equals a NaN total."""
    return [(key, type(value), _comparable(value)) for key, value in summary.items()]


def _comparable(value: Any) -> Any:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def compare_keys(
    conn: psycopg.Connection[Any],
    keys: Iterable[int],
    *,
    before: Fetch,
    after: Fetch,
    sizes: Mapping[int, int] | None = None,
    expected: Mapping[int, Mapping[str, Any]] | None = None,
) -> list[ParityRow]:
    """The legacy result and ``after``'s for each key, read through ``conn``'s search_path."""
    rows = []
    for key in keys:
        wanted = (expected or {}).get(key)
        rows.append(
            ParityRow(
                user_id=key,
                events=(sizes or {}).get(key, -1),
                before=before(conn, key),
                after=after(conn, key),
                expected=dict(wanted) if wanted is not None else None,
            )
        )
    return rows


def first_difference(rows: Iterable[ParityRow], subject: str = "after") -> str | None:
    """The first user and key where ``subject`` differs from the legacy (or expected) summary, side by side."""
    for row in rows:
        for reference, summary in (("legacy", row.before), ("expected", row.expected)):
            if summary is None:
                continue
            for key in sorted(set(summary) | set(row.after)):
                mine, theirs = row.after.get(key, "<missing>"), summary.get(key, "<missing>")
                if (type(mine), _comparable(mine)) != (type(theirs), _comparable(theirs)):
                    return (
                        f"user {row.user_id}, key {key}: {reference} {theirs!r} ({type(theirs).__name__}), "
                        f"{subject} {mine!r} ({type(mine).__name__})"
                    )
    return None


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


@dataclass(frozen=True)
class ParityReport:
    """Both versions over every user of one dataset."""

    instance: str
    schema: str
    rows: list[ParityRow]

    @property
    def mismatches(self) -> list[ParityRow]:
        return [row for row in self.rows if _differs(row)]

    @property
    def verdict(self) -> str:
        checked = sum(row.matches_expected is not None for row in self.rows)
        expected = f", {checked} against hand-checked summaries" if checked else ""
        if self.mismatches:
            return f"{self.instance}: {len(self.mismatches)} of {len(self.rows)} users DIFFER{expected}"
        return f"{self.instance}: before == after for all {len(self.rows)} users{expected}"

    def frame(self) -> pd.DataFrame:
        return parity_frame(self.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "instance": self.instance,
            "schema": self.schema,
            "users": len(self.rows),
            "mismatches": [row.user_id for row in self.mismatches],
            "verdict": self.verdict,
            "rows": [
                {
                    "user_id": r.user_id,
                    "events": r.events,
                    "before": r.before,
                    "after": r.after,
                    "agree": r.agree,
                }
                for r in self.rows
            ],
        }


def check_parity(
    conn: psycopg.Connection[Any],
    instances: Iterable[Instance],
    *,
    implementation: Fetch | None = None,
    users: Iterable[int] | None = None,
    keep_datasets: bool = True,
    stop_at_first_difference: bool = False,
    progress: bool = False,
) -> list[ParityReport]:
    """The kit's one parity routine: for each instance, seeded in its kit schema (reused while
    complete), the legacy summary and ``implementation``'s (the optimized version unless a candidate
    is given) for ``users`` (default: every user of the instance), each compared with
    the other and with the instance's hand-checked summaries where it has them.

    Both run in one read-only transaction, so a bug in either cannot write. ``conn`` must be in
    autocommit mode; its search_path is pointed at each dataset in turn. Without ``keep_datasets``
    each dataset is dropped once compared, even when ``implementation`` raises. With
    ``stop_at_first_difference`` the users are compared one at a time and the comparison ends at
    the first that differs, whose report is the last returned (a candidate being tried is refused
    on it, before a later user can fail it for another reason).
    """
    reports = []
    for instance in instances:
        dataset = seed_dataset(conn, instance, progress=progress)
        try:
            use_dataset(conn, dataset.schema)
            rows: list[ParityRow] = []
            with conn.transaction():
                conn.execute("SET TRANSACTION READ ONLY")
                for user in instance.keys if users is None else users:
                    (row,) = compare_keys(
                        conn,
                        [user],
                        before=instance.subject.fetch("before"),
                        after=implementation or instance.subject.fetch("after"),
                        sizes=instance.sizes,
                        expected=instance.expected,
                    )
                    rows.append(row)
                    if stop_at_first_difference and _differs(row):
                        break
        finally:
            if not keep_datasets:
                drop_dataset_schema(conn, dataset.schema)
        reports.append(ParityReport(instance.name, dataset.schema, rows))
        if stop_at_first_difference and any(_differs(row) for row in rows):
            break
    return reports


def _differs(row: ParityRow) -> bool:
    return not row.agree or row.matches_expected is False


def random_instances(count: int, rows: int, seed: int, subject: Subject | None = None) -> list[Instance]:
    """``count`` generated datasets of about ``rows`` rows each, as the subject's module draws them."""
    subject = subject or load_subject()
    return [
        parse_instance(document, source=f"<random seed {seed}>", default_name=document["name"], subject=subject)
        for document in subject.code().random_documents(count, rows, seed)
    ]


def highlight_differences(frame: pd.DataFrame) -> Any:
    """A Styler that paints the rows of users whose versions disagree."""

    def paint(row: pd.Series) -> list[str]:
        colour = "" if row["agree"] else "background-color: #f5b7b1"
        return [colour] * len(row)

    # A fixed uuid keeps the HTML identical run to run (nbval compares it).
    return frame.style.set_uuid("parity").apply(paint, axis=1).format({"total_value": repr})
