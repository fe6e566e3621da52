"""Instance files: every shipped one loads; malformed ones are refused naming file and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.data.instances import list_instances, parse_instance, read_instance
from perfkit.errors import InstanceError


@pytest.mark.parametrize("name", list_instances())
def test_shipped_instances_load(name: str) -> None:
    instance = read_instance(name)
    assert instance.name == name
    assert len(instance.fingerprint) == 12


def test_generation_is_deterministic_and_matches_declared_counts() -> None:
    instance = read_instance("small")
    rows = list(instance.rows())
    assert rows == list(instance.rows())
    assert len(rows) == instance.total_rows
    assert len({(row[0], row[1]) for row in rows}) == len(rows)  # the primary key holds
    for user_id, count in instance.sizes.items():
        assert sum(1 for row in rows if row[1] == user_id) == count


def test_generator_covers_every_price_encoding_and_odd_metadata() -> None:
    rows = list(read_instance("small").rows())
    purchases = [json.loads(r[3]) if r[3] is not None else None for r in rows if r[2] == "purchase"]
    prices = [m["price"] for m in purchases if isinstance(m, dict) and "price" in m]
    assert any(isinstance(p, bool) for p in prices)
    assert any(isinstance(p, str) and p != p.strip() for p in prices)
    assert any(isinstance(p, dict) for p in prices)
    assert any(p is None for p in purchases)  # SQL NULL metadata
    assert any(not isinstance(m, dict) and m is not None for m in purchases)
    assert {r[2] for r in rows} - {"click", "view", "purchase"}  # ignored types present


def test_fingerprint_follows_content() -> None:
    base: dict[str, Any] = {"events": [{"id": 1, "user_id": 1, "type": "click"}]}
    same = parse_instance(base, source="a", default_name="x")
    other = parse_instance({"events": [{"id": 1, "user_id": 1, "type": "view"}]}, source="a", default_name="x")
    assert same.fingerprint == parse_instance(base, source="b", default_name="x").fingerprint
    assert same.fingerprint != other.fingerprint


def test_absent_metadata_is_sql_null_and_json_null_is_jsonb_null() -> None:
    instance = parse_instance(
        {
            "events": [
                {"id": 1, "user_id": 1, "type": "a"},
                {"id": 2, "user_id": 1, "type": "a", "metadata": None},
            ]
        },
        source="s",
        default_name="x",
    )
    assert [row[3] for row in instance.rows()] == [None, "null"]


BAD_DOCUMENTS = [
    ([], "", "expected an object"),
    ({"events": [], "generator": {}}, "", "exactly one of"),
    ({"events": [{"id": "1", "user_id": 1, "type": "x"}]}, "events[0].id", "expected an integer"),
    ({"events": [{"id": 1, "user_id": 2**63, "type": "x"}]}, "events[0].user_id", "in ["),
    ({"events": [{"id": 1, "user_id": 1, "type": "x" * 33}]}, "events[0].type", "32 characters"),
    (
        {"events": [{"id": 1, "user_id": 1, "type": "x"}, {"id": 1, "user_id": 1, "type": "y"}]},
        "events[1]",
        "duplicate primary key",
    ),
    ({"events": [], "colour": 1}, "", "unknown field(s) ['colour']"),
    ({"generator": {"seed": 1, "users": []}}, "generator.users", "non-empty list"),
    (
        {"generator": {"seed": 1, "users": [{"user_id": 1, "events": -5}]}},
        "generator.users[0].events",
        "in [0,",
    ),
    (
        {"generator": {"seed": 1, "users": [{"user_id": 1, "events": 5}], "type_mix": {"clik": 1}}},
        "generator.type_mix",
        "unknown field(s) ['clik']",
    ),
    ({"events": [], "expected": {"1": {"click": 1}}}, "expected.1", "exactly the keys"),
    ({"events": [], "schema_version": 9}, "schema_version", "expected 1"),
]


@pytest.mark.parametrize(("document", "field", "problem"), BAD_DOCUMENTS)
def test_malformed_documents_name_file_and_field(document: object, field: str, problem: str) -> None:
    with pytest.raises(InstanceError) as caught:
        parse_instance(document, source="instances/bad.json", default_name="bad")
    assert caught.value.field == field
    assert problem in caught.value.problem
    assert str(caught.value).startswith("instances/bad.json")


def test_unknown_and_unparseable_files(tmp_path: Path) -> None:
    with pytest.raises(InstanceError, match=r"no such instance file.*known instances: .*small"):
        read_instance("nope")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InstanceError, match=r"broken.json: not valid JSON"):
        read_instance(broken)


def test_interleaved_layout_spreads_every_user_over_the_table_with_global_ids() -> None:
    document = {
        "name": "spread",
        "generator": {
            "seed": 3,
            "layout": "interleaved",
            "users": [
                {"user_id": 1, "events": 3000},
                {"user_id": 2, "events": 1000},
                {"user_id": 10, "events": 1, "repeat": 500},
            ],
        },
    }
    rows = list(parse_instance(document, source="<test>", default_name="spread").rows())
    assert [row[0] for row in rows] == list(range(1, len(rows) + 1))  # ids ascend with the position
    positions = [index for index, row in enumerate(rows) if row[1] == 2]
    assert len(positions) == 1000
    # The small user's events reach both ends of the table, not one contiguous run.
    assert positions[0] < len(rows) * 0.05
    assert positions[-1] > len(rows) * 0.95
    quarters = [sum(1 for p in positions if q * len(rows) / 4 <= p < (q + 1) * len(rows) / 4) for q in range(4)]
    assert min(quarters) > 150, quarters  # about 250 in each quarter: in proportion to activity


def test_clustered_layout_keeps_each_user_together() -> None:
    rows = list(read_instance("small").rows())
    users = [row[1] for row in rows]
    assert users == sorted(users, key=users.index)  # each user's rows form one run
