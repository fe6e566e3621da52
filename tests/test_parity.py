"""Both implementations honour the parity spec and agree with each other, value and type."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Context, Decimal, localcontext
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import repository_after
import repository_before
from perfkit.data import server as db
from perfkit.data.datasets import Dataset, use_dataset
from perfkit.data.instances import Instance, literal_instance, read_instance
from perfkit.measure.parity import typed_summary

pytestmark = pytest.mark.db

IMPLEMENTATIONS = {"before": repository_before, "after": repository_after}


def _summaries(conn: psycopg.Connection[Any], user_id: int) -> dict[str, dict[str, Any]]:
    return {name: module.fetch_user_activity_summary(conn, user_id) for name, module in IMPLEMENTATIONS.items()}


def _typed(summary: dict[str, Any]) -> list[tuple[str, type, Any]]:
    return typed_summary(summary)


def test_literal_instance_matches_hand_checked_summaries(
    seeded: Callable[[str], Dataset], connect_to: Callable[[str], psycopg.Connection[Any]]
) -> None:
    dataset = seeded("parity_literal")
    conn = connect_to(dataset.schema)
    assert dataset.instance.expected, "the literal instance must carry expected summaries"
    for user_id, expected in dataset.instance.expected.items():
        for name, summary in _summaries(conn, user_id).items():
            assert list(summary) == ["click", "view", "purchase", "total_value"]
            assert _typed(summary) == _typed(dict(expected)), (name, user_id)


def test_exact_decimal_sum_is_not_float_addition() -> None:
    instance = read_instance("parity_literal")
    # 0.1 + 0.2 + 0.3 summed as floats is 0.6000000000000001; the contract sums decimals.
    assert instance.expected[2]["total_value"] == 0.6
    assert float(Decimal("999999999999999") + Decimal("123456789.012345")) == (instance.expected[3]["total_value"])


def test_edges_of_the_supported_domain_agree(
    fresh_dataset: Callable[[Instance], Dataset], connect_to: Callable[[str], psycopg.Connection[Any]]
) -> None:
    prices: list[Any] = [
        "1e300", "-1e300", "1e-300", "123456789012345e-310", 9.99999999999999e299,
        "999999999999999", "0.000000000000001", "-0.0", "+.5E+1",
    ]  # fmt: skip
    events = [{"id": i, "user_id": 1, "type": "purchase", "metadata": {"price": p}} for i, p in enumerate(prices)]
    conn = connect_to(fresh_dataset(literal_instance("domain_edges", {"events": events})).schema)
    summaries = _summaries(conn, 1)
    assert _typed(summaries["before"]) == _typed(summaries["after"])
    with localcontext(Context(prec=2000, Emin=-9999, Emax=9999)):
        exact = sum((Decimal(str(p)) for p in prices), Decimal(0))
    assert summaries["after"]["total_value"] == float(exact)
    assert summaries["after"]["purchase"] == len(prices)


def test_generated_instance_agrees_for_every_user(
    seeded: Callable[[str], Dataset], connect_to: Callable[[str], psycopg.Connection[Any]]
) -> None:
    dataset = seeded("small")
    conn = connect_to(dataset.schema)
    for user_id in dataset.instance.keys:
        summaries = _summaries(conn, user_id)
        assert _typed(summaries["before"]) == _typed(summaries["after"]), user_id


# --- property test --------------------------------------------------------------------------

_WS = st.sampled_from(["", " ", "\t", "\n", "\r\n", "\x0b", "\x0c", "  "])
_DECIMAL_TEXT = st.decimals(
    min_value=Decimal("-1e9"),
    max_value=Decimal("1e9"),
    allow_nan=False,
    allow_infinity=False,
    places=6,
).map(lambda d: format(d.normalize(), "f") if d else "0")
_EXPONENT_TEXT = st.builds(
    lambda m, e, upper: f"{m}{'E' if upper else 'e'}{e}",
    st.integers(-99999, 99999),
    st.integers(-12, 12),
    st.booleans(),
)
_HOSTILE = st.one_of(
    st.builds(lambda sign, e: f"{sign}1e{e}", st.sampled_from(["", "-", "+"]), st.integers(300, 400_000)),
    st.builds(lambda e: f"1e-{e}", st.integers(990, 30_000)),
    st.builds(lambda e: f"-1e-{e}", st.integers(320, 999)),  # within the bounds, a total float8 rounds to -0.0
    st.builds(lambda n: "9" * n, st.integers(995, 1005)),  # around the 1,000-character bound
    st.builds(lambda e: Decimal(f"1e{e}"), st.integers(300, 1100)),  # JSON numbers beyond the float range
)
_PRICE = st.one_of(
    _HOSTILE,
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.integers(-(10**12), 10**12),
    st.builds(lambda a, t, b: a + t + b, _WS, st.one_of(_DECIMAL_TEXT, _EXPONENT_TEXT), _WS),
    st.sampled_from(["abc", "12,50", "$5", "NaN", "Infinity", "", ".", "1e", "+", "٣", "1 2"]),
    st.text(max_size=8),
    st.booleans(),
    st.none(),
    st.just({"amount": 5}),
    st.just([1.5]),
)
_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=6))
_JSON = st.recursive(
    _JSON_LEAF,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
_ABSENT = object()
_METADATA = st.one_of(
    st.builds(
        lambda price, extra: {**extra, "price": price},
        _PRICE,
        st.dictionaries(st.text(max_size=5), _JSON, max_size=2),
    ),
    st.dictionaries(st.text(max_size=5), _JSON, max_size=3),
    _JSON,
    st.just(_ABSENT),
)
_TYPE = st.sampled_from(["click", "view", "purchase", "purchase", "Purchase", " view", "click ", "refund"])


@st.composite
def _events(draw: st.DrawFn) -> list[dict[str, Any]]:
    events = []
    for index in range(draw(st.integers(0, 40))):
        event: dict[str, Any] = {
            "id": index,
            "user_id": draw(st.integers(1, 4)),
            "type": draw(_TYPE),
        }
        metadata = draw(_METADATA)
        if metadata is not _ABSENT:
            event["metadata"] = metadata
        events.append(event)
    return [e for e in events if "\\x00" not in repr(e.get("metadata"))]  # JSONB cannot hold U+0000


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=_events())
def test_generated_events_agree(
    events: list[dict[str, Any]],
    fresh_dataset: Callable[[Instance], Dataset],
    server: db.ServerTarget,
) -> None:
    dataset = fresh_dataset(literal_instance("property", {"events": events}))
    with db.connect(server.dsn) as conn:  # one connection per example, closed with it
        use_dataset(conn, dataset.schema)
        for user_id in range(0, 6):
            summaries = _summaries(conn, user_id)
            assert _typed(summaries["before"]) == _typed(summaries["after"]), (user_id, events)
