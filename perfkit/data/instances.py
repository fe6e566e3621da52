"""Instance files: datasets described as JSON, either literal events or generator parameters.

Validation names the file and the field; generation is deterministic in the seed.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from perfkit.errors import InstanceError
from perfkit.paths import INSTANCES_DIR

INSTANCE_SCHEMA_VERSION = 1
# Bump when the generator's output for the same parameters changes: datasets are rebuilt.
GENERATOR_VERSION = 2

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
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1

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
class Instance:
    """A dataset description. ``fingerprint`` changes whenever the rows it produces would."""

    name: str
    description: str
    source: str
    generator: GeneratorSpec | None = None
    events: tuple[EventRow, ...] = ()
    expected: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)
    fingerprint: str = ""
    observed_counts: Mapping[int, int] | None = None  # a table the kit did not create: counted, not generated

    @property
    def kind(self) -> Literal["generated", "literal"]:
        return "generated" if self.generator is not None else "literal"

    @property
    def user_ids(self) -> list[int]:
        if self.observed_counts is not None:
            return sorted(self.observed_counts)
        if self.generator is not None:
            return [user.user_id for user in self.generator.users]
        return sorted({row[1] for row in self.events} | set(self.expected))

    @property
    def event_counts(self) -> dict[int, int]:
        """Events per user, as stored (one row per (id, user_id))."""
        if self.observed_counts is not None:
            return dict(self.observed_counts)
        if self.generator is not None:
            return {user.user_id: user.events for user in self.generator.users}
        counts: dict[int, int] = dict.fromkeys(self.user_ids, 0)
        for row in self.events:
            counts[row[1]] += 1
        return counts

    @property
    def total_events(self) -> int:
        return sum(self.event_counts.values())

    def rows(self) -> Iterator[EventRow]:
        if self.observed_counts is not None:
            raise InstanceError(self.source, "", "an existing table is read, never regenerated or copied")
        if self.generator is not None:
            yield from generate_rows(self.generator)
        else:
            yield from self.events


def list_instances(directory: Path = INSTANCES_DIR) -> list[str]:
    return sorted(path.stem for path in directory.glob("*.json"))


def read_instance(name_or_path: str | Path, directory: Path = INSTANCES_DIR) -> Instance:
    """Load an instance by name (``instances/<name>.json``) or path, validating every field."""
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = directory / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(list_instances(directory)) or "none"
        raise InstanceError(path, "", f"no such instance file (known instances: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InstanceError(path, "", f"not UTF-8: {exc}") from None
    return parse_instance(parse_json(text, path), source=str(path), default_name=path.stem)


MAX_DEPTH = 64
"""How deep metadata (and any part of an instance file) may nest."""
MAX_NUMBER_DIGITS = 1000
"""Digits a number of an instance file may have (exponent aside)."""
MAX_TOTAL_ROWS = 50_000_000
"""Events a generated instance may ask for in all."""


@dataclass(frozen=True)
class _Refused:
    """A JSON value the kit will not take, kept where it stood so the error can name its field."""

    problem: str


def _number(text: str) -> int | Decimal | _Refused:
    digits = sum(char.isdigit() for char in text.split("e")[0].split("E")[0])
    if digits > MAX_NUMBER_DIGITS:
        return _Refused(f"a number of {digits:,} digits (at most {MAX_NUMBER_DIGITS:,})")
    if any(mark in text for mark in ".eE"):
        return Decimal(text)
    return int(text)


def parse_json(text: str, source: object) -> object:
    """JSON with numbers kept exact (``Decimal``) and every value the database cannot hold refused,
    naming its field: NaN and Infinity, huge numbers, U+0000, lone surrogates, deep nesting."""
    try:
        document = json.loads(
            text,
            parse_float=_number,
            parse_int=_number,
            parse_constant=lambda name: _Refused(f"{name}: JSON has no non-finite numbers"),
        )
    except json.JSONDecodeError as exc:
        raise InstanceError(source, "", f"not valid JSON: {exc}") from None
    except RecursionError:
        raise InstanceError(source, "", f"nested too deep to read (at most {MAX_DEPTH} levels)") from None
    _check_values(document, source, "", 0)
    return document


def _check_values(value: object, source: object, where: str, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise InstanceError(source, where, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, _Refused):
        raise InstanceError(source, where, f"refused {value.problem}")
    if isinstance(value, float) and not math.isfinite(value):
        raise InstanceError(source, where, f"refused {value}: JSON has no non-finite numbers")
    if isinstance(value, str):
        _check_text(value, source, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, source, f"{where}.{key}" if where else key)
            _check_values(item, source, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_values(item, source, f"{where}[{index}]", depth + 1)


def _check_text(text: str, source: object, where: str) -> None:
    if "\x00" in text:
        raise InstanceError(source, where, "holds the character U+0000, which PostgreSQL text and JSONB cannot store")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InstanceError(source, where, "holds a lone surrogate (U+D800 to U+DFFF): not valid Unicode") from None


def json_text(value: object) -> str:
    """JSON of a parsed value, numbers written exactly as read (``Decimal`` is not a float)."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):  # instances built in memory; non-finite ones were refused before
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(json_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ", ".join(f"{json.dumps(key, ensure_ascii=False)}: {json_text(item)}" for key, item in value.items())
            + "}"
        )
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def parse_instance(document: object, *, source: str, default_name: str) -> Instance:
    """An instance from a parsed document (`parse_json`'s, or one built in memory)."""
    _check_values(document, source, "", 0)
    reader = _Reader(source)
    doc = reader.mapping(document, "")
    version = doc.get("schema_version", INSTANCE_SCHEMA_VERSION)
    if version != INSTANCE_SCHEMA_VERSION:
        reader.fail("schema_version", f"expected {INSTANCE_SCHEMA_VERSION}, found {version!r}")
    name = doc.get("name", default_name)
    if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
        reader.fail("name", "expected letters, digits, '-' or '_'")
    description = doc.get("description", "")
    if not isinstance(description, str):
        reader.fail("description", "expected a string")
    reader.only_keys(doc, "", {"schema_version", "name", "description", "generator", "events", "expected"})
    has_generator, has_events = "generator" in doc, "events" in doc
    if has_generator == has_events:
        reader.fail("", "expected exactly one of 'generator' or 'events'")
    canonical = json_text({"doc": _sorted(doc), "generator_version": GENERATOR_VERSION})
    fingerprint = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    expected = _parse_expected(reader, doc.get("expected", {}))
    return Instance(
        name=name,
        description=description,
        source=source,
        generator=_parse_generator(reader, doc["generator"]) if has_generator else None,
        events=() if has_generator else _parse_events(reader, doc["events"]),
        expected=expected,
        fingerprint=fingerprint,
    )


def literal_instance(name: str, events: Sequence[Mapping[str, Any]]) -> Instance:
    """An instance built in memory (property tests, notebooks) from event mappings."""
    return parse_instance({"name": name, "events": list(events)}, source=f"<{name}>", default_name=name)


class _Reader:
    """Typed access to a JSON document that reports the file and field of every problem."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field_path: str, problem: str) -> Any:
        raise InstanceError(self.source, field_path, problem)

    def mapping(self, value: object, field_path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            self.fail(field_path, f"expected an object, found {type(value).__name__}")
        return value  # type: ignore[return-value]

    def only_keys(self, value: Mapping[str, Any], field_path: str, allowed: set[str]) -> None:
        unknown = sorted(set(value) - allowed)
        if unknown:
            self.fail(field_path, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")

    def integer(self, value: object, field_path: str, low: int = BIGINT_MIN, high: int = BIGINT_MAX) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(field_path, f"expected an integer, found {json.dumps(value)}")
        assert isinstance(value, int)
        if not low <= value <= high:
            self.fail(field_path, f"expected an integer in [{low}, {high}], found {value}")
        return value

    def shares(self, value: object, field_path: str, allowed: Sequence[str]) -> dict[str, float]:
        shares = self.mapping(value, field_path)
        self.only_keys(shares, field_path, set(allowed))
        for key, share in shares.items():
            if isinstance(share, bool) or not isinstance(share, int | float | Decimal) or not 0 <= share < math.inf:
                self.fail(f"{field_path}.{key}", f"expected a non-negative number, found {share!r}")
        if sum(shares.values()) <= 0:
            self.fail(field_path, "expected at least one positive share")
        return {key: float(share) for key, share in shares.items()}


def _parse_generator(reader: _Reader, value: object) -> GeneratorSpec:
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


def _parse_events(reader: _Reader, value: object) -> tuple[EventRow, ...]:
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


def _parse_expected(reader: _Reader, value: object) -> dict[int, dict[str, Any]]:
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


def _sorted(value: object) -> object:
    """``value`` with every object's keys sorted: the canonical form behind a fingerprint."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
