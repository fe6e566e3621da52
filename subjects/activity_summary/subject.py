"""activity_summary: what only code can say about it. The instance format (literal events or
a generator's parameters), the generator, deterministic in its seed, and the DISTINCT rewrite.

The kit reads this module through `perfkit.subject`: ``GENERATOR_VERSION``, ``INSTANCE_FIELDS``,
``instance_body`` and ``random_documents``, and what subject.toml names (``subject:NAME``).
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from perfkit.data.instances import BIGINT_MAX, BIGINT_MIN, MAX_TOTAL_ROWS, Reader, json_text
from repository_after.summary import SUMMARY_QUERY

# Bump when the generator's output for the same parameters changes: datasets are rebuilt.
GENERATOR_VERSION = 2
INSTANCE_FIELDS = frozenset({"generator", "events", "expected"})
"""The fields of an instance file this subject reads, beside name and description."""

SUMMARY_KEYS = ("click", "view", "purchase", "total_value")
EVENT_TYPES = ("click", "view", "purchase")
# Types that must be ignored: near misses on case and whitespace, and unrelated types.
OTHER_TYPES = ("Click", "VIEW", " purchase", "purchase ", "refund", "signup", "")
METADATA_SHAPES = ("flat", "nested", "deep")
PRICE_ENCODINGS = (
    "number",
    "integer",
    "string",
    "padded_string",
    "exponent_string",
    "invalid_string",
    "missing",
    "null",
    "boolean",
    "object",
    "array",
    "nested_only",
    "hostile",
)
# Prices no client should send, which a summary must still survive: beyond the float range,
# beyond numeric's, and beyond the bounds of the parity spec (1,000 characters, 3-digit exponents).
HOSTILE_PRICES = ('"1e309"', '"-1e309"', "1e400", '"1e200000"', '"-1e200000"', '"1e-1000"', '"' + "9" * 1001 + '"')
INVALID_PRICE_STRINGS = (
    "abc",
    "12,50",
    "$5",
    "NaN",
    "Infinity",
    "",
    "1e",
    ".",
    "- 1",
    "0x1A",
    "1_000",
)
ODD_METADATA = (None, "null", "[]", '[{"price": 5}]', '"price"', "12.5", "true")


EventRow = tuple[int, int, str, str | None]
"""One row for COPY: id, user_id, type, metadata as JSON text (None is SQL NULL)."""


@dataclass(frozen=True)
class UserSpec:
    user_id: int
    events: int


LAYOUTS = ("clustered", "interleaved")
"""How rows lie in the table: ``clustered`` writes each user's events together with ids from 1;
``interleaved`` gives global ids in time order and spreads each user's events over the whole
table in proportion to their activity, as a production table that grows with time does."""


@dataclass(frozen=True)
class GeneratorSpec:
    seed: int
    users: tuple[UserSpec, ...]
    type_mix: Mapping[str, float]
    metadata_shapes: Mapping[str, float]
    price_encodings: Mapping[str, float]
    odd_metadata: float
    layout: str = "clustered"


@dataclass(frozen=True)
class Events:
    """One instance's events: generated from a spec, or literal, with hand-checked summaries."""

    generator: GeneratorSpec | None
    events: tuple[EventRow, ...]
    expected: Mapping[int, Mapping[str, Any]]

    @property
    def kind(self) -> Literal["generated", "literal"]:
        return "generated" if self.generator is not None else "literal"

    @property
    def seed(self) -> int | None:
        return self.generator.seed if self.generator is not None else None

    @property
    def sizes(self) -> dict[int, int]:
        """Events per user, as stored (one row per (id, user_id))."""
        if self.generator is not None:
            return {user.user_id: user.events for user in self.generator.users}
        counts: dict[int, int] = dict.fromkeys(sorted({row[1] for row in self.events} | set(self.expected)), 0)
        for row in self.events:
            counts[row[1]] += 1
        return counts

    @property
    def total_rows(self) -> int:
        return sum(self.sizes.values())

    def rows(self, table: str = "events") -> Iterator[EventRow]:
        if self.generator is not None:
            yield from generate_rows(self.generator)
        else:
            yield from self.events


def instance_body(document: Mapping[str, Any], reader: Reader) -> Events:
    """The events an instance file describes, every field checked."""
    has_generator, has_events = "generator" in document, "events" in document
    if has_generator == has_events:
        reader.fail("", "expected exactly one of 'generator' or 'events'")
    return Events(
        generator=_parse_generator(reader, document["generator"]) if has_generator else None,
        events=() if has_generator else _parse_events(reader, document["events"]),
        expected=_parse_expected(reader, document.get("expected", {})),
    )


def _parse_generator(reader: Reader, value: object) -> GeneratorSpec:
    gen = reader.mapping(value, "generator")
    reader.only_keys(
        gen,
        "generator",
        {"seed", "users", "type_mix", "metadata_shapes", "price_encodings", "odd_metadata", "layout"},
    )
    users_value = gen.get("users")
    if not isinstance(users_value, list) or not users_value:
        reader.fail("generator.users", "expected a non-empty list of {user_id, events}")
    assert isinstance(users_value, list)
    users: list[UserSpec] = []
    for index, entry in enumerate(users_value):
        where = f"generator.users[{index}]"
        user = reader.mapping(entry, where)
        reader.only_keys(user, where, {"user_id", "events", "repeat"})
        first_id = reader.integer(user.get("user_id"), f"{where}.user_id")
        events = reader.integer(user.get("events"), f"{where}.events", 0, 100_000_000)
        # "repeat": k stands for k users with consecutive ids from user_id, each with `events`.
        repeat = reader.integer(user.get("repeat", 1), f"{where}.repeat", 1, 1_000_000)
        if first_id + repeat - 1 > BIGINT_MAX:
            reader.fail(f"{where}.repeat", f"user ids would run past the BIGINT maximum {BIGINT_MAX}")
        users.extend(UserSpec(user_id=first_id + offset, events=events) for offset in range(repeat))
    if len({user.user_id for user in users}) != len(users):
        reader.fail("generator.users", "user_id values must be distinct")
    total = sum(user.events for user in users)
    if total > MAX_TOTAL_ROWS:
        reader.fail("generator.users", f"{total:,} events in all; an instance may hold at most {MAX_TOTAL_ROWS:,}")
    layout = gen.get("layout", "clustered")
    if layout not in LAYOUTS:
        reader.fail("generator.layout", f"expected one of {list(LAYOUTS)}, found {layout!r}")
    odd = gen.get("odd_metadata", 0.0)
    if isinstance(odd, bool) or not isinstance(odd, int | float | Decimal) or not 0 <= odd <= 1:
        reader.fail("generator.odd_metadata", f"expected a number in [0, 1], found {odd!r}")
    return GeneratorSpec(
        seed=reader.integer(gen.get("seed"), "generator.seed", 0, 2**32 - 1),
        users=tuple(users),
        type_mix=reader.shares(
            gen.get("type_mix", {"click": 1, "view": 1, "purchase": 1}),
            "generator.type_mix",
            (*EVENT_TYPES, "other"),
        ),
        metadata_shapes=reader.shares(
            gen.get("metadata_shapes", {"flat": 1}), "generator.metadata_shapes", METADATA_SHAPES
        ),
        price_encodings=reader.shares(
            gen.get("price_encodings", {"number": 1}), "generator.price_encodings", PRICE_ENCODINGS
        ),
        odd_metadata=float(odd),
        layout=layout,
    )


def _parse_events(reader: Reader, value: object) -> tuple[EventRow, ...]:
    if not isinstance(value, list):
        reader.fail("events", "expected a list of events")
    assert isinstance(value, list)
    rows: list[EventRow] = []
    keys: set[tuple[int, int]] = set()
    for index, entry in enumerate(value):
        where = f"events[{index}]"
        event = reader.mapping(entry, where)
        reader.only_keys(event, where, {"id", "user_id", "type", "metadata", "note"})
        event_id = reader.integer(event.get("id"), f"{where}.id")
        user_id = reader.integer(event.get("user_id"), f"{where}.user_id")
        event_type = event.get("type")
        if not isinstance(event_type, str) or len(event_type) > 32:
            reader.fail(f"{where}.type", "expected a string of at most 32 characters")
        assert isinstance(event_type, str)
        if (event_id, user_id) in keys:
            reader.fail(where, f"duplicate primary key (id={event_id}, user_id={user_id})")
        keys.add((event_id, user_id))
        # An absent "metadata" is SQL NULL; JSON null is the JSONB value 'null'.
        metadata = json_text(event["metadata"]) if "metadata" in event else None
        rows.append((event_id, user_id, event_type, metadata))
    return tuple(rows)


def _parse_expected(reader: Reader, value: object) -> dict[int, dict[str, Any]]:
    expected_doc = reader.mapping(value, "expected")
    expected: dict[int, dict[str, Any]] = {}
    for key, summary_value in expected_doc.items():
        where = f"expected.{key}"
        if not re.fullmatch(r"-?[0-9]{1,19}", key) or not BIGINT_MIN <= int(key) <= BIGINT_MAX:
            reader.fail(where, 'keys must be user ids within the BIGINT range written as integer strings, e.g. "7"')
        user_id = int(key)
        summary = reader.mapping(summary_value, where)
        if set(summary) != set(SUMMARY_KEYS):
            reader.fail(where, f"expected exactly the keys {list(SUMMARY_KEYS)}")
        for count_key in EVENT_TYPES:
            reader.integer(summary[count_key], f"{where}.{count_key}", 0)
        total = summary["total_value"]
        if isinstance(total, bool) or not isinstance(total, int | float | Decimal):
            reader.fail(f"{where}.total_value", f"expected a number, found {total!r}")
        expected[user_id] = {**summary, "total_value": float(total)}
    return expected


# --- generation -----------------------------------------------------------------------------

_UNICODE_WORDS = (
    "café",
    "naïve",
    "日本語",
    "Ωmega",
    "emoji 🚀",
    "Straße",
    'ç"quoted"',
    "tab\tline",
)


def generate_rows(spec: GeneratorSpec) -> Iterator[EventRow]:
    """Every row of ``spec``, deterministic in its seed, in the order they lie in the table."""
    rng = random.Random(spec.seed)
    bodies = {shape: [_metadata_body(rng, shape) for _ in range(32)] for shape in METADATA_SHAPES}
    if spec.layout == "interleaved":
        # One label per event, shuffled: user u's events fall anywhere in the table with
        # probability proportional to u's share; ids ascend with the position (time order).
        owners = [index for index, user in enumerate(spec.users) for _ in range(user.events)]
        rng.shuffle(owners)
        keyed = ((position + 1, spec.users[owner].user_id) for position, owner in enumerate(owners))
    else:
        keyed = ((event_id, user.user_id) for user in spec.users for event_id in range(1, user.events + 1))
    yield from _events(rng, spec, bodies, keyed)


def _events(
    rng: random.Random, spec: GeneratorSpec, bodies: Mapping[str, list[str]], keyed: Iterator[tuple[int, int]]
) -> Iterator[EventRow]:
    """Type, metadata shape and price encoding drawn for each (id, user_id), in batches."""
    types, type_weights = _choices(spec.type_mix)
    shapes, shape_weights = _choices(spec.metadata_shapes)
    encodings, encoding_weights = _choices(spec.price_encodings)
    batch = 10_000
    while True:
        keys = list(itertools.islice(keyed, batch))
        if not keys:
            return
        kinds = rng.choices(types, type_weights, k=len(keys))
        shape_picks = rng.choices(shapes, shape_weights, k=len(keys))
        encoding_picks = rng.choices(encodings, encoding_weights, k=len(keys))
        for (event_id, user_id), kind, shape, encoding in zip(keys, kinds, shape_picks, encoding_picks, strict=True):
            event_type = rng.choice(OTHER_TYPES) if kind == "other" else kind
            if spec.odd_metadata and rng.random() < spec.odd_metadata:
                metadata = rng.choice(ODD_METADATA)
            else:
                body = rng.choice(bodies[shape])
                price = _price_json(rng, encoding)
                metadata = body if price is None else '{"price": ' + price + ", " + body[1:]
            yield (event_id, user_id, event_type, metadata)


def _choices(shares: Mapping[str, float]) -> tuple[list[str], list[float]]:
    names = [name for name, share in shares.items() if share > 0]
    return names, [shares[name] for name in names]


def _price_json(rng: random.Random, encoding: str) -> str | None:
    cents = rng.randrange(1, 1_000_000)
    decimal_text = f"{cents // 100}.{cents % 100:02d}"
    match encoding:
        case "number":
            return decimal_text
        case "integer":
            return str(cents // 100)
        case "string":
            return f'"{decimal_text}"'
        case "padded_string":
            return json.dumps(rng.choice((" ", "\t", "\n ", "\r\n")) + decimal_text + " ")
        case "exponent_string":
            return f'"{cents}e-2"'
        case "invalid_string":
            return json.dumps(rng.choice(INVALID_PRICE_STRINGS))
        case "missing":
            return None
        case "null":
            return "null"
        case "boolean":
            return rng.choice(("true", "false"))
        case "object":
            return '{"amount": ' + decimal_text + ', "currency": "EUR"}'
        case "array":
            return "[" + decimal_text + "]"
        case "nested_only":
            return None
        case "hostile":
            return rng.choice(HOSTILE_PRICES)
    raise AssertionError(f"unknown price encoding {encoding}")


def _metadata_body(rng: random.Random, shape: str) -> str:
    """A JSON object without a top-level price (the price, if any, is prepended)."""
    word = rng.choice(_UNICODE_WORDS)
    body: dict[str, Any] = {"source": rng.choice(("web", "ios", "android")), "label": word}
    if shape in ("nested", "deep"):
        body["context"] = {
            "page": f"/items/{rng.randrange(10_000)}",
            "tags": [rng.choice(_UNICODE_WORDS) for _ in range(rng.randrange(1, 4))],
            "price": {"amount": rng.randrange(100), "note": "nested prices are not counted"},
        }
    if shape == "deep":
        node: dict[str, Any] = {"leaf": word, "values": [1, 2.5, None, True, "x"]}
        for depth in range(6):
            node = {f"level{depth}": node, "ключ": [depth, {"price": depth}]}
        body["tree"] = node
    return json.dumps(body, ensure_ascii=False)


_USER_ROWS = re.compile(r"FROM events\s+WHERE user_id = %\(user_id\)s")
DISTINCT_QUERY = _USER_ROWS.sub(
    "FROM (SELECT DISTINCT id, type, metadata FROM events WHERE user_id = %(user_id)s) AS user_events",
    SUMMARY_QUERY,
    count=1,
)
"""The rewrite most people write first: the same aggregation over a de-duplicated subquery."""

if DISTINCT_QUERY == SUMMARY_QUERY:  # pragma: no cover - guards against an edit of SUMMARY_QUERY
    raise ImportError("SUMMARY_QUERY no longer reads `FROM events WHERE user_id = %(user_id)s`")


def random_documents(count: int, rows: int, seed: int) -> list[dict[str, Any]]:
    """``count`` instance documents of about ``rows`` events each, every encoding equally likely."""
    rng = random.Random(seed)
    documents = []
    for index in range(count):
        users = rng.randint(1, 5)
        cuts = sorted(rng.randint(0, rows) for _ in range(users - 1))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, rows], strict=True)]
        documents.append(
            {
                "name": f"random_{seed}_{index}",
                "generator": {
                    "seed": rng.randrange(2**32),
                    "users": [{"user_id": 100 + u, "events": size} for u, size in enumerate(sizes)],
                    "type_mix": {"click": 1, "view": 1, "purchase": 2, "other": 0.5},
                    "metadata_shapes": dict.fromkeys(METADATA_SHAPES, 1),
                    "price_encodings": dict.fromkeys(PRICE_ENCODINGS, 1),
                    "odd_metadata": 0.05,
                },
            }
        )
    return documents
