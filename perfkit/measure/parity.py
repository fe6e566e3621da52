"""Run both implementations side by side and report where they differ."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import psycopg

from perfkit.data.datasets import drop_dataset_schema, seed_dataset, use_dataset
from perfkit.data.implementations import Fetch, fetch_function
from perfkit.data.instances import Instance, parse_instance, read_instance
from perfkit.errors import ParityError
from perfkit.measure.comparison import Raised, comparable, difference, jsonable, outcome, same, shown
from perfkit.subject import Difference, Subject, Words, load_subject


@dataclass(frozen=True)
class ParityRow:
    key: int | None  # the key
    rows: int  # its N
    before: Any
    after: Any
    expected: Any | None
    compare: str = "typed"  # how results are compared (`perfkit.measure.comparison`)

    @property
    def agree(self) -> bool:
        return same(self.before, self.after, self.compare)

    @property
    def matches_expected(self) -> bool | None:
        if self.expected is None:
            return None
        return same(self.after, self.expected, self.compare)


def typed_summary(summary: Mapping[str, Any]) -> Any:
    """A summary compared key by key, type included: 0 and 0.0 differ, as do False and 0, and a
    NaN equals a NaN."""
    return comparable(summary, "typed")


def compare_keys(
    conn: psycopg.Connection[Any],
    keys: Iterable[int | None],
    *,
    before: Fetch,
    after: Fetch,
    sizes: Mapping[int, int] | None = None,
    expected: Mapping[int, Any] | None = None,
    compare: str = "typed",
    errors_compared: bool = False,
) -> list[ParityRow]:
    """The legacy result and ``after``'s for each key, read through ``conn``'s search_path; with
    ``errors_compared`` an error is a result (`Raised`), each call in a savepoint of its own."""
    rows = []
    for key in keys:
        wanted = (expected or {}).get(key) if key is not None else None
        results = [outcome(call, conn, key) if errors_compared else call(conn, key) for call in (before, after)]
        rows.append(
            ParityRow(
                key=key,
                rows=(sizes or {}).get(key, -1) if key is not None else 0,
                before=results[0],
                after=results[1],
                expected=dict(wanted) if isinstance(wanted, Mapping) else wanted,
                compare=compare,
            )
        )
    return rows


def first_difference(rows: Iterable[ParityRow], subject: str = "after", key: str = "key") -> str | None:
    """The first ``key`` where ``subject`` differs from the legacy (or expected) result, side by side."""
    for row in rows:
        for reference, result in (("legacy", row.before), ("expected", row.expected)):
            if result is None:
                continue
            found = difference(row.after, result, row.compare)
            if found is not None:
                where, theirs, mine = found
                return f"{key} {row.key}, {where}: {reference} {theirs}, {subject} {mine}"
    return None


def parity_frame(rows: list[ParityRow], words: Words) -> pd.DataFrame:
    """One row per key and implementation: the side-by-side table the notebook and CLI show."""
    records = []
    for row in rows:
        for version, result in (("before", row.before), ("after", row.after)):
            values = dict(result) if isinstance(result, Mapping) else {"result": shown(result)}
            records.append(
                {
                    _key_column(words): row.key,
                    words.rows: row.rows,
                    "version": version,
                    **values,
                    "agree": row.agree,
                }
            )
    return pd.DataFrame.from_records(records)


def require_parity(rows: list[ParityRow], key: str = "key") -> None:
    """Raise `ParityError` naming every key whose results differ (or miss the expected one)."""
    problems = [f"{key} {row.key}: before={row.before} after={row.after}" for row in rows if not row.agree]
    problems += [
        f"{key} {row.key}: expected={row.expected} after={row.after}" for row in rows if row.matches_expected is False
    ]
    if problems:
        raise ParityError("the implementations disagree: " + "; ".join(problems))


@dataclass(frozen=True)
class ParityReport:
    """Both versions over every key of one dataset."""

    instance: str
    schema: str
    rows: list[ParityRow]
    words: Words
    subject: Mapping[str, str]  # name and fingerprint of the subject compared

    @property
    def mismatches(self) -> list[ParityRow]:
        return [row for row in self.rows if _differs(row)]

    @property
    def verdict(self) -> str:
        checked = sum(row.matches_expected is not None for row in self.rows)
        expected = f", {checked} against hand-checked {self.words.results}" if checked else ""
        keys = self.words.keys
        if self.mismatches:
            return f"{self.instance}: {len(self.mismatches)} of {len(self.rows)} {keys} DIFFER{expected}"
        return f"{self.instance}: before == after for all {len(self.rows)} {keys}{expected}"

    def frame(self) -> pd.DataFrame:
        return parity_frame(self.rows, self.words)

    def to_json(self) -> dict[str, Any]:
        return {
            "subject": dict(self.subject),
            "instance": self.instance,
            "schema": self.schema,
            "users": len(self.rows),
            "mismatches": [row.key for row in self.mismatches],
            "verdict": self.verdict,
            "rows": [
                {
                    "key": r.key,
                    "rows": r.rows,
                    "before": jsonable(r.before),
                    "after": jsonable(r.after),
                    "agree": r.agree,
                }
                for r in self.rows
            ],
        }


def _key_column(words: Words) -> str:
    return f"{words.key}_id" if words.key.isidentifier() else words.key


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
        subject = instance.subject
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
                        before=fetch_function(subject, "before"),
                        after=implementation or fetch_function(subject, "after"),
                        sizes=instance.sizes,
                        expected=instance.expected,
                        compare=subject.comparison,
                        errors_compared=subject.errors_compared,
                    )
                    rows.append(row)
                    if stop_at_first_difference and _differs(row):
                        break
        finally:
            if not keep_datasets:
                drop_dataset_schema(conn, dataset.schema)
        recorded = {"name": subject.name, "fingerprint": subject.fingerprint}
        reports.append(ParityReport(instance.name, dataset.schema, rows, subject.words, recorded))
        if stop_at_first_difference and any(_differs(row) for row in rows):
            break
    return reports


@dataclass(frozen=True)
class DifferenceOutcome:
    """A declared difference, run: what each version returned there and whether that is as declared."""

    difference: Difference
    before: Any
    after: Any
    compare: str = "typed"
    key_word: str = "key"

    @property
    def confirmed(self) -> bool:
        declared = self.difference
        return (
            _as_declared(self.before, declared.before)
            and _as_declared(self.after, declared.after)
            and not same(self.before, self.after, self.compare)
        )

    @property
    def line(self) -> str:
        d = self.difference
        state = "confirmed" if self.confirmed else f"NOT as declared (legacy: {d.before}, optimized: {d.after})"
        return (
            f"{d.name} ({d.instance}, {self.key_word} {'NULL' if d.key is None else d.key}): "
            f"legacy {shown(self.before)}; "
            f"optimized {shown(self.after)}: {state}"
        )

    def to_json(self) -> dict[str, Any]:
        d = self.difference
        return {
            "name": d.name,
            "description": d.description,
            "instance": d.instance,
            "key": d.key,
            "declared": {"before": d.before, "after": d.after},
            "before": jsonable(self.before),
            "after": jsonable(self.after),
            "confirmed": self.confirmed,
            "line": self.line,
        }


def check_differences(conn: psycopg.Connection[Any], subject: Subject) -> list[DifferenceOutcome]:
    """Each of the subject's declared differences run on its instance, both versions in one read-only
    transaction, each call in a savepoint (an error is what some declare)."""
    outcomes = []
    for declared in subject.differences:
        dataset = seed_dataset(conn, read_instance(declared.instance, subject), progress=False)
        use_dataset(conn, dataset.schema)
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            before, after = (outcome(fetch_function(subject, side), conn, declared.key) for side in ("before", "after"))
        outcomes.append(DifferenceOutcome(declared, before, after, subject.comparison, subject.words.key))
    return outcomes


def require_differences(outcomes: Iterable[DifferenceOutcome]) -> None:
    """Raise `ParityError` naming every declared difference that did not show as declared."""
    wrong = [outcome.line for outcome in outcomes if not outcome.confirmed]
    if wrong:
        raise ParityError("declared differences not as declared: " + "; ".join(wrong))


def _as_declared(result: Any, expectation: str) -> bool:
    if expectation.startswith("error "):
        return isinstance(result, Raised) and result.sqlstate == expectation.removeprefix("error ")
    if isinstance(result, Raised):
        return False
    return (len(result) == 0) == (expectation == "no rows")


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
