"""Legacy summary: every event of the user is pulled into Python and aggregated in loops.

This is the code under investigation, written the way the original was. It is correct
(it honours the parity spec in README) but its memory and time grow with the number of
events of the user.
"""

import decimal
import json
import re
from functools import partial
from typing import Any

import psycopg
from psycopg.rows import tuple_row
from psycopg.types.json import set_json_loads

_BIGINT_MIN = -(2**63)
_BIGINT_MAX = 2**63 - 1
_ASCII_WHITESPACE = " \t\n\r\f\v"
_PRICE_TEXT = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE]([+-]?[0-9]+))?")
# A price string longer than this, or whose exponent has more than three digits, is taken as
# its sign's infinity (see the parity spec): absurd prices never make a summary fail.
_MAX_PRICE_TEXT = 1000
_MAX_EXPONENT_DIGITS = 3

# Exact decimal arithmetic: no rounding of the running total, whatever the prices' scales.
# Infinity plus -Infinity is NaN rather than an error.
_EXACT = decimal.Context(
    prec=decimal.MAX_PREC,
    Emax=decimal.MAX_EMAX,
    Emin=decimal.MIN_EMIN,
    traps=[],
)


def fetch_user_activity_summary(conn: psycopg.Connection[Any], user_id: int) -> dict[str, Any]:
    if isinstance(user_id, bool) or not isinstance(user_id, int):
        raise TypeError(f"user_id must be an int, not {type(user_id).__name__}")
    if not _BIGINT_MIN <= user_id <= _BIGINT_MAX:
        raise ValueError(f"user_id {user_id} is outside the BIGINT range")

    with conn.cursor(row_factory=tuple_row) as cur:
        # Decimal for JSON numbers so prices keep every digit; the loader is local to this cursor.
        set_json_loads(partial(json.loads, parse_float=decimal.Decimal, parse_int=decimal.Decimal), cur)
        cur.execute("SELECT id, type, metadata FROM events WHERE user_id = %s", (user_id,))
        rows = cur.fetchall()

    seen_ids = set()
    unique_events = []
    for event_id, event_type, metadata in rows:
        if event_id in seen_ids:
            continue
        seen_ids.add(event_id)
        unique_events.append((event_type, metadata))

    counts = {"click": 0, "view": 0, "purchase": 0}
    for event_type, _metadata in unique_events:
        if event_type in counts:
            counts[event_type] += 1

    total = decimal.Decimal(0)
    with decimal.localcontext(_EXACT):
        for event_type, metadata in unique_events:
            if event_type != "purchase" or not isinstance(metadata, dict):
                continue
            price = _parse_price(metadata.get("price"))
            if price is not None:
                total += price

    return {**counts, "total_value": float(total)}


def _parse_price(raw: object) -> decimal.Decimal | None:
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int | decimal.Decimal):  # a JSON number: exact, whatever its size
        return decimal.Decimal(raw)
    if isinstance(raw, str):
        text = raw.strip(_ASCII_WHITESPACE)
        match = _PRICE_TEXT.fullmatch(text)
        if match:
            exponent = (match.group(4) or "").lstrip("+-").lstrip("0")
            if len(raw) <= _MAX_PRICE_TEXT and len(exponent) <= _MAX_EXPONENT_DIGITS:
                return decimal.Decimal(text)
            return _infinity(text.startswith("-"))
    return None


def _infinity(negative: bool) -> decimal.Decimal:
    return decimal.Decimal("-Infinity" if negative else "Infinity")
