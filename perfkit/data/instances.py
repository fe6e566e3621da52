"""Instance files: datasets described as JSON, read for a subject.

The file's frame (schema version, name, description) is read here; what describes the rows (a
generator's parameters, literal rows, hand-checked results) is read by the subject's module, with a
`Reader` that names the file and the field of every problem. Generation is deterministic in the seed.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from perfkit.errors import InstanceError
from perfkit.subject import Subject, load_subject

INSTANCE_SCHEMA_VERSION = 1
BIGINT_MIN = -(2**63)
BIGINT_MAX = 2**63 - 1


class InstanceBody(Protocol):
    """What a subject's module reads from an instance file: the rows of each table and, per key, N."""

    @property
    def kind(self) -> Literal["generated", "literal"]: ...

    @property
    def seed(self) -> int | None: ...

    @property
    def sizes(self) -> Mapping[int, int]:
        """N of each key: its rows in the subject's sized table."""

    @property
    def total_rows(self) -> int:
        """Rows of every table together: what seeding writes."""

    @property
    def expected(self) -> Mapping[int, Mapping[str, Any]]:
        """Hand-checked results, by key."""

    def rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        """The table's rows in COPY's column order, in the order they lie in the table."""


@dataclass(frozen=True)
class Observed:
    """A table the kit did not create: its keys counted, never generated or copied."""

    source: str
    sizes: Mapping[int, int]
    kind: Literal["generated", "literal"] = "literal"
    seed: int | None = None
    expected: Mapping[int, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.sizes.values())

    def rows(self, table: str) -> Iterator[tuple[Any, ...]]:
        raise InstanceError(self.source, "", "an existing table is read, never regenerated or copied")


@dataclass(frozen=True)
class Instance:
    """A dataset description. ``fingerprint`` changes whenever the rows it produces would."""

    name: str
    description: str
    source: str
    body: InstanceBody
    subject: Subject = field(compare=False, repr=False)
    fingerprint: str = ""

    @property
    def kind(self) -> Literal["generated", "literal"]:
        return self.body.kind

    @property
    def observed(self) -> bool:
        return isinstance(self.body, Observed)

    @property
    def keys(self) -> list[int]:
        return sorted(self.body.sizes)

    @property
    def sizes(self) -> dict[int, int]:
        """N of each key."""
        return dict(self.body.sizes)

    @property
    def total_rows(self) -> int:
        return self.body.total_rows

    @property
    def expected(self) -> Mapping[int, Mapping[str, Any]]:
        return self.body.expected

    def rows(self, table: str | None = None) -> Iterator[tuple[Any, ...]]:
        """The rows of ``table`` (default: the table whose rows of a key N counts)."""
        yield from self.body.rows(table or self.subject.key.table)


def list_instances(subject: Subject | None = None) -> list[str]:
    return sorted(path.stem for path in (subject or load_subject()).instances_dir.glob("*.json"))


def read_instance(name_or_path: str | Path, subject: Subject | None = None) -> Instance:
    """Load an instance of ``subject`` (default: the default subject) by name or path, validating every field."""
    subject = subject or load_subject()
    path = Path(name_or_path)
    if path.suffix != ".json":
        path = subject.instances_dir / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(list_instances(subject)) or "none"
        raise InstanceError(path, "", f"no such instance file (known instances: {known})")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InstanceError(path, "", f"not UTF-8: {exc}") from None
    return parse_instance(parse_json(text, path), source=str(path), default_name=path.stem, subject=subject)


MAX_DEPTH = 64
"""How deep any part of an instance file may nest."""
MAX_NUMBER_DIGITS = 1000
"""Digits a number of an instance file may have (exponent aside)."""
MAX_TOTAL_ROWS = 50_000_000
"""Rows a generated instance may ask for in all."""


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


def parse_instance(document: object, *, source: str, default_name: str, subject: Subject | None = None) -> Instance:
    """An instance of ``subject`` from a parsed document (`parse_json`'s, or one built in memory)."""
    subject = subject or load_subject()
    code = subject.code()
    _check_values(document, source, "", 0)
    reader = Reader(source)
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
    reader.only_keys(doc, "", {"schema_version", "name", "description", *code.INSTANCE_FIELDS})
    canonical = json_text({"doc": _sorted(doc), "generator_version": code.GENERATOR_VERSION, "subject": subject.name})
    body: InstanceBody = code.instance_body(doc, reader)
    return Instance(
        name=name,
        description=description,
        source=source,
        body=body,
        subject=subject,
        fingerprint=hashlib.sha256(canonical.encode()).hexdigest()[:12],
    )


def literal_instance(name: str, fields: Mapping[str, Any], subject: Subject | None = None) -> Instance:
    """An instance built in memory (property tests, notebooks) from the fields of an instance file."""
    return parse_instance({"name": name, **fields}, source=f"<{name}>", default_name=name, subject=subject)


class Reader:
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


def _sorted(value: object) -> object:
    """``value`` with every object's keys sorted: the canonical form behind a fingerprint."""
    if isinstance(value, dict):
        return {key: _sorted(value[key]) for key in sorted(value)}
    if isinstance(value, list):
        return [_sorted(item) for item in value]
    return value
