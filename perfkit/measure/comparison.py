"""How two results of a subject's function are compared, as its description says (`Subject.result`).

``typed``: a mapping compared key by key, type included (0 and 0.0 differ, as do False and 0; a NaN
equals a NaN). ``ordered``: rows in the order returned, each value by value (numeric 12 and 12.00
are equal). ``multiset``: the same rows in any order. An error is a result too, compared by its
SQLSTATE, where the subject says errors are part of what its function returns.
"""

from __future__ import annotations

import datetime
import math
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import psycopg

from perfkit.errors import first_line


@dataclass(frozen=True)
class Raised:
    """A call that raised: what a result comparison sees of an error."""

    sqlstate: str | None
    message: str

    def __repr__(self) -> str:
        return f"error {self.sqlstate}"

    def to_json(self) -> dict[str, Any]:
        return {"error": self.sqlstate, "message": self.message}


def outcome(call: Callable[[psycopg.Connection[Any], Any], Any], conn: psycopg.Connection[Any], key: Any) -> Any:
    """The call's result, or the error it raised (`Raised`), inside a savepoint so that the transaction
    around it goes on."""
    try:
        with conn.transaction():
            return call(conn, key)
    except psycopg.Error as exc:
        return Raised(exc.sqlstate, first_line(exc))


def comparable(result: Any, mode: str) -> Any:
    """What equality is judged on."""
    if isinstance(result, Raised):
        return ("error", result.sqlstate)
    if mode == "typed":
        return [(key, type(value), _nan_equal(value)) for key, value in result.items()]
    rows = [tuple(_by_value(value) for value in row) for row in result]
    return rows if mode == "ordered" else Counter(rows)


def same(a: Any, b: Any, mode: str) -> bool:
    return bool(comparable(a, mode) == comparable(b, mode))


def difference(mine: Any, theirs: Any, mode: str) -> tuple[str, str, str] | None:
    """Where ``mine`` first differs from ``theirs`` and what each holds there; None when they are the same."""
    if same(mine, theirs, mode):
        return None
    if isinstance(mine, Raised) or isinstance(theirs, Raised):
        return "result", shown(theirs), shown(mine)
    if mode == "typed":
        for key in sorted(set(theirs) | set(mine)):
            a, b = mine.get(key, "<missing>"), theirs.get(key, "<missing>")
            if (type(a), _nan_equal(a)) != (type(b), _nan_equal(b)):
                return f"key {key}", f"{b!r} ({type(b).__name__})", f"{a!r} ({type(a).__name__})"
    if mode == "ordered":
        for index, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            if tuple(map(_by_value, a)) != tuple(map(_by_value, b)):
                return f"row {index + 1}", repr(tuple(b)), repr(tuple(a))
    return f"{len(theirs)} row(s) against {len(mine)}", shown(theirs), shown(mine)


def jsonable(result: Any) -> Any:
    """A result as a record keeps it: mappings as they are (their values are JSON's), rows as lists
    with exact numbers and times as text."""
    if isinstance(result, Raised):
        return result.to_json()
    if isinstance(result, Mapping):
        return dict(result)
    return [[_json_value(value) for value in row] for row in result]


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.datetime | datetime.time):
        return value.isoformat()
    return value


def shown(result: Any) -> str:
    """A result in a line of text: an error by its SQLSTATE, rows cut at 200 characters."""
    if isinstance(result, Raised):
        return f"error {result.sqlstate} ({result.message})"
    text = repr(result if isinstance(result, Mapping) else [tuple(row) for row in result])
    return text if len(text) <= 200 else text[:197] + "..."


def _nan_equal(value: Any) -> Any:
    return "NaN" if isinstance(value, float) and math.isnan(value) else value


def _by_value(value: Any) -> Any:
    """Numerics by value: a Decimal compares and hashes as the number it is, whatever its scale."""
    return value.normalize() if isinstance(value, Decimal) and value.is_finite() else _nan_equal(value)
