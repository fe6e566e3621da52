"""The subject: everything about the function under investigation, as data in one folder.

A subject folder (``subjects/<name>/``, or any folder given by its path) holds ``subject.toml``:
the key and what N counts, the tables, the two implementations, what one call returns, the
reference queries by role and the scale; and, for what must be code, a Python module named there
(``subject.py``: the instance format and its generator). The stages take a `Subject` and never
name a table, a column or a function themselves, as asv's commands take a project's config.

Kept light (no pandas): the memory and instruction probes load the subject in their child process.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from perfkit.errors import SubjectError, first_line
from perfkit.paths import SUBJECTS_DIR

DEFAULT_SUBJECT = "activity_summary"
SUBJECT_FILE = "subject.toml"
IMPLEMENTATIONS = ("before", "after")
"""The legacy version and the optimized one: every subject has both."""
ROLES = {
    "rewrite": "an alternative rewrite of the optimized version, judged by how much slower it is",
    "floor": "finding the key's rows and reading none of them: information",
    "scan_floor": "reading the key's rows and computing nothing: the least a query over them must do",
    "result_floor": "the least work any query returning the result must do: bounds calls per second",
}
"""What a reference query can be, and what the kit does with it."""
COMPARISONS = ("typed", "ordered", "multiset")
"""How results are compared: a mapping key by key with types; rows in order, or in any order, by value."""
KEY_TYPES = {"bigint": (-(2**63), 2**63 - 1), "integer": (-(2**31), 2**31 - 1)}
_NAME = re.compile(r"[a-z][a-z0-9_]*")
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

Fetch = Callable[..., Any]
"""An implementation: ``(conn, key) -> result``."""


@dataclass(frozen=True)
class Key:
    """The argument the function takes: its name (the parameter ``%(name)s`` of every query) and SQL type."""

    name: str
    sql_type: str
    table: str  # N counts the key's rows in this table

    @property
    def bounds(self) -> tuple[int, int]:
        return KEY_TYPES[self.sql_type]

    @property
    def parameter(self) -> str:
        return f"%({self.name})s"


@dataclass(frozen=True)
class Words:
    """How the subject's messages, tables and figures name a key and the rows N counts."""

    key: str = "key"
    keys: str = "keys"
    row: str = "row"
    rows: str = "rows"
    result: str = "result"  # what one call returns
    results: str = "results"


GOALS = (
    "p99_ms",
    "target_n",
    "rss_mb",
    "min_memory_reduction",
    "reduction_from_n",
    "max_memory_growth_mb",
    "min_speedup_vs_legacy",
    "legacy_from_n",
    "min_speedup_vs_rewrite",
    "rewrite_from_n",
    "max_scan_floor_ratio",
    "min_throughput_vs_scan_floor",
    "max_plan_regret",
    "max_client_instructions_per_row",
    "warm_growth_mb",
    "attributable_mb",
    "legacy_visible_growth_mb",
)
"""The goals a subject may state (docs/subjects.md says what each judges); one it does not state is not judged."""
MEASUREMENTS = ("memory", "client_instructions", "load")
"""Measurements of the Python process a subject may turn off where they say nothing of its versions."""


@dataclass(frozen=True)
class Column:
    name: str
    sql_type: str  # as PostgreSQL's format_type() writes it
    not_null: bool


@dataclass(frozen=True)
class Table:
    name: str
    ddl: str  # run with the dataset's schema first on the search_path
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    primary_key_reason: str = ""

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)


@dataclass(frozen=True)
class Implementation:
    """A Python callable ``(conn, key)`` named ``module:function``, or a SQL file that installs a function
    called as ``SELECT * FROM function(key)`` (`install` holds the file's text)."""

    name: str
    call: str  # module:function, or the SQL function's name
    query: str | None  # the statement that does the work, for its plan and buffers (a SQL function: if given)
    prepared_by_default: bool
    install: str | None = None

    @property
    def in_sql(self) -> bool:
        return self.install is not None


@dataclass(frozen=True)
class Reference:
    """A query timed beside the implementations for what it tells about them (`ROLES`)."""

    name: str
    role: str
    query: str
    description: str
    label: str  # how targets, tables and figures name it, as short as the query is
    note: str  # what a target measured against it notes ("the cheapest way to read the user's rows")


@dataclass(frozen=True)
class Difference:
    """A case where the optimized version differs from the legacy on purpose (a bug fixed, an error code
    corrected): checked to differ as declared, and listed in the report, never silent."""

    name: str
    description: str
    instance: str
    key: int | None  # None: the function called with NULL
    before: str  # what the legacy returns there: "rows", "no rows" or "error SQLSTATE"
    after: str


EXPECTATION = re.compile(r"rows|no rows|error [0-9A-Z]{5}")


@dataclass(frozen=True)
class Scale:
    grid: tuple[int, ...]
    quick_grid: tuple[int, ...]
    instance: str
    quick_instance: str
    headline_instance: str | None
    headline_n: int
    loaded: tuple[int, ...]  # N timed under concurrent calls besides the headline
    quick_loaded: tuple[int, ...]
    trial_grid: tuple[int, ...]  # where `try` times a candidate at full scale, besides the headline
    parity_instance: str  # the instance with hand-checked results the parity notebook opens with


@dataclass(frozen=True)
class Subject:
    name: str
    directory: Path
    title: str
    description: str
    key: Key
    tables: tuple[Table, ...]
    result_columns: tuple[str, ...]
    comparison: str  # typed, ordered or multiset (`perfkit.measure.comparison`)
    errors_compared: bool  # an error is a result, compared by SQLSTATE
    words: Words
    measured: frozenset[str]  # of `MEASUREMENTS`: those that apply
    glossary: tuple[tuple[str, str], ...]  # the subject's own terms, shown before the kit's
    goals: Mapping[str, float]  # of `GOALS`: those judged
    implementations: Mapping[str, Implementation]
    references: tuple[Reference, ...]
    differences: tuple[Difference, ...]
    scale: Scale
    instances_dir: Path
    candidates_dir: Path
    fingerprint: str  # of every file of the folder: changes whenever the description does
    module: ModuleType | None = field(default=None, compare=False)

    @property
    def sized_table(self) -> Table:
        """The table whose rows of the key N counts."""
        return next(table for table in self.tables if table.name == self.key.table)

    @property
    def function_name(self) -> str:
        """The optimized version's function name: what a Python candidate defines."""
        return self.implementations["after"].call.rpartition(":")[2]

    def reference(self, role: str) -> Reference | None:
        return next((reference for reference in self.references if reference.role == role), None)

    def fetch(self, implementation: str) -> Fetch:
        """The Python callable of ``before`` or ``after`` (a SQL function is called by `fetch_function`)."""
        function: Fetch = _attribute(self, self.implementations[implementation].call, "implementations")
        return function

    def code(self) -> ModuleType:
        """The subject's Python module, where the kit needs what only code can say."""
        if self.module is None:
            raise SubjectError(self.directory, "module", "names no Python module, and this needs one")
        return self.module

    @property
    def argument(self) -> str:
        """What names it to `load_subject`: its name for a folder of ``subjects/``, else its path."""
        return self.name if self.directory.parent == SUBJECTS_DIR.resolve() else str(self.directory)

    def to_json(self) -> dict[str, Any]:
        """What a record keeps: which subject, which version of its description, and the goals it judges by."""
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "title": self.title,
            "goals": dict(self.goals),
            "words": asdict(self.words),
            "references": {r.name: {"role": r.role, "label": r.label, "note": r.note} for r in self.references},
            "glossary": [list(entry) for entry in self.glossary],
        }


def list_subjects(directory: Path = SUBJECTS_DIR) -> list[str]:
    return sorted(path.parent.name for path in directory.glob(f"*/{SUBJECT_FILE}"))


_LOADED: dict[tuple[Path, str], Subject] = {}


def load_subject(name_or_path: Subject | str | Path | None = None, directory: Path = SUBJECTS_DIR) -> Subject:
    """A subject by name (``subjects/<name>/``) or by the path of its folder; the default without either.

    Loaded once per process and fingerprint: its module is imported once, as any module is.
    """
    if isinstance(name_or_path, Subject):
        return name_or_path
    folder = Path(name_or_path or DEFAULT_SUBJECT)
    if not (folder / SUBJECT_FILE).is_file() and not folder.is_absolute() and len(folder.parts) == 1:
        folder = directory / folder
    if not (folder / SUBJECT_FILE).is_file():
        known = ", ".join(list_subjects(directory)) or "none"
        raise SubjectError(
            folder, "", f"no {SUBJECT_FILE} here: name a subject of {directory} ({known}) or the folder of one"
        )
    folder = folder.resolve()
    fingerprint = _fingerprint(folder)
    cached = _LOADED.get((folder, fingerprint))
    if cached is None:
        cached = _LOADED[(folder, fingerprint)] = _read(folder, fingerprint)
    return cached


def _fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def _read(folder: Path, fingerprint: str) -> Subject:
    path = folder / SUBJECT_FILE
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SubjectError(path, "", f"not valid TOML: {exc}") from None
    reader = _Reader(path)
    fields = {"name", "title", "description", "module", "instances", "candidates", "key", "tables", "result", "words",
              "measure", "differences", "goals", "glossary"}  # fmt: skip
    reader.only(document, "", fields | {"implementations", "references", "scale"})
    name = reader.text(document, "name", pattern=_NAME)
    tables = tuple(_table(reader, entry, f"tables[{i}]") for i, entry in enumerate(reader.items(document, "tables")))
    table_names = [table.name for table in tables]
    if len(set(table_names)) != len(table_names):
        reader.fail("tables", f"table names must be distinct: {table_names}")
    key_doc = reader.mapping(document, "key")
    reader.only(key_doc, "key", {"name", "type", "table"})
    key = Key(
        reader.text(key_doc, "name", "key", pattern=_IDENTIFIER),
        reader.choice(key_doc, "type", KEY_TYPES, "key"),
        reader.choice(key_doc, "table", table_names, "key"),
    )
    result = reader.mapping(document, "result")
    reader.only(result, "result", {"columns", "compare", "errors"})
    errors = result.get("errors", "raise")
    if errors not in ("raise", "sqlstate"):
        reader.fail("result.errors", f"{errors!r}: expected raise (an error stops parity) or sqlstate (compared)")
    module = _module(folder, name, reader.text(document, "module")) if "module" in document else None
    partial = Subject(
        name=name,
        directory=folder,
        title=reader.text(document, "title"),
        description=reader.text(document, "description"),
        key=key,
        tables=tables,
        result_columns=tuple(reader.texts(result, "columns", "result")),
        comparison=reader.choice(result, "compare", COMPARISONS, "result") if "compare" in result else "typed",
        errors_compared=errors == "sqlstate",
        words=_words(reader, reader.mapping(document, "words", required=False)),
        measured=_measured(reader, reader.mapping(document, "measure", required=False)),
        goals=_goals(reader, reader.mapping(document, "goals", required=False)),
        glossary=tuple(
            (reader.text(entry, "term", f"glossary[{i}]"), reader.text(entry, "text", f"glossary[{i}]"))
            for i, entry in enumerate(reader.items(document, "glossary") if "glossary" in document else [])
        ),
        implementations={},
        references=(),
        differences=tuple(
            _difference(reader, entry, f"differences[{index}]")
            for index, entry in enumerate(reader.items(document, "differences") if "differences" in document else [])
        ),
        scale=_scale(reader, reader.mapping(document, "scale")),
        instances_dir=(folder / reader.text(document, "instances")).resolve(),
        candidates_dir=(folder / str(document.get("candidates", "candidates"))).resolve(),
        fingerprint=fingerprint,
        module=module,
    )
    implementations = reader.mapping(document, "implementations")
    reader.only(implementations, "implementations", set(IMPLEMENTATIONS))
    references = reader.mapping(document, "references", required=False)
    subject = Subject(
        **{
            **vars(partial),
            "implementations": {
                name: _implementation(reader, partial, name, reader.mapping(implementations, name, "implementations"))
                for name in IMPLEMENTATIONS
            },
            "references": tuple(
                _reference(reader, partial, name, reader.mapping(references, name, "references")) for name in references
            ),
        }
    )
    roles = [reference.role for reference in subject.references]
    if len(set(roles)) != len(roles):
        reader.fail("references", f"one reference per role: {roles}")
    for implementation in IMPLEMENTATIONS:
        if not subject.implementations[implementation].in_sql:
            subject.fetch(implementation)  # named functions exist: say so now, not mid-run
    return subject


def _table(reader: _Reader, entry: Mapping[str, Any], where: str) -> Table:
    reader.only(entry, where, {"name", "ddl", "columns", "primary_key", "primary_key_reason"})
    columns = []
    for index, column in enumerate(reader.array(entry, "columns", where)):
        if (
            not isinstance(column, list)
            or len(column) != 3
            or not all(isinstance(part, str) for part in column[:2])
            or not isinstance(column[2], bool)
        ):
            reader.fail(f"{where}.columns[{index}]", 'expected ["name", "format_type", not_null]')
        columns.append(Column(column[0], column[1], column[2]))
    table = Table(
        name=reader.text(entry, "name", where, pattern=_IDENTIFIER),
        ddl=reader.text(entry, "ddl", where).strip(),
        columns=tuple(columns),
        primary_key=tuple(reader.texts(entry, "primary_key", where)),
        primary_key_reason=str(entry.get("primary_key_reason", "")),
    )
    missing = sorted(set(table.primary_key) - set(table.column_names))
    if missing:
        reader.fail(f"{where}.primary_key", f"names no column of the table: {missing}")
    return table


def _implementation(reader: _Reader, subject: Subject, name: str, entry: Mapping[str, Any]) -> Implementation:
    where = f"implementations.{name}"
    reader.only(entry, where, {"call", "query", "prepared", "install", "function"})
    prepared = entry.get("prepared", False)
    if not isinstance(prepared, bool):
        reader.fail(f"{where}.prepared", "expected true or false")
    if "install" in entry:
        if "call" in entry:
            reader.fail(where, "either call (a Python callable) or install and function (a SQL file), not both")
        path = subject.directory / reader.text(entry, "install", where)
        if not path.is_file():
            reader.fail(f"{where}.install", f"{path.name}: no such file in the subject's folder")
        function = reader.text(entry, "function", where, pattern=_IDENTIFIER)
        query = _query(reader, subject, entry, where) if "query" in entry else None
        return Implementation(name, function, query, prepared, path.read_text(encoding="utf-8"))
    call = reader.text(entry, "call", where)
    if ":" not in call:
        reader.fail(f"{where}.call", f"expected module:function, found {call!r}")
    return Implementation(name, call, _query(reader, subject, entry, where), prepared)


def _reference(reader: _Reader, subject: Subject, name: str, entry: Mapping[str, Any]) -> Reference:
    where = f"references.{name}"
    reader.only(entry, where, {"role", "query", "description", "label", "note"})
    if not _NAME.fullmatch(name) or name in IMPLEMENTATIONS:
        reader.fail(where, "a reference's name is lower-case letters, digits and '_', and not before or after")
    query = _query(reader, subject, entry, where)
    if subject.key.parameter not in query:
        reader.fail(f"{where}.query", f"takes no {subject.key.parameter}: name the key in the query")
    return Reference(
        name,
        reader.choice(entry, "role", ROLES, where),
        query,
        reader.text(entry, "description", where),
        str(entry.get("label", name)),
        str(entry.get("note", "")),
    )


def _query(reader: _Reader, subject: Subject, entry: Mapping[str, Any], where: str) -> str:
    """SQL text, or ``module:NAME`` of a string defined in code (``subject:NAME`` in the subject's module)."""
    text = reader.text(entry, "query", where)
    if re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", text):
        value = _attribute(subject, text, f"{where}.query")
        if not isinstance(value, str):
            reader.fail(f"{where}.query", f"{text} is not a string of SQL")
        return str(value)
    return text


def _words(reader: _Reader, entry: Mapping[str, Any]) -> Words:
    reader.only(entry, "words", set(vars(Words())))
    return Words(**{name: reader.text(entry, name, "words") for name in entry})


def _difference(reader: _Reader, entry: Mapping[str, Any], where: str) -> Difference:
    reader.only(entry, where, {"name", "description", "instance", "key", "before", "after"})
    key = entry.get("key")
    if key != "null" and (isinstance(key, bool) or not isinstance(key, int)):
        reader.fail(f"{where}.key", 'expected a key (an integer) or "null"')
    expectations = []
    for side in ("before", "after"):
        expectation = reader.text(entry, side, where)
        if not EXPECTATION.fullmatch(expectation):
            reader.fail(f"{where}.{side}", f'{expectation!r}: expected "rows", "no rows" or "error SQLSTATE"')
        expectations.append(expectation)
    if expectations[0] == expectations[1] == "no rows" or expectations[0] == expectations[1] != "rows":
        reader.fail(where, "before and after are declared alike: a declared difference must differ")
    return Difference(
        name=reader.text(entry, "name", where, pattern=_NAME),
        description=reader.text(entry, "description", where),
        instance=reader.text(entry, "instance", where),
        key=None if key == "null" else key,
        before=expectations[0],
        after=expectations[1],
    )


def _goals(reader: _Reader, entry: Mapping[str, Any]) -> dict[str, float]:
    reader.only(entry, "goals", set(GOALS))
    for name, value in entry.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            reader.fail(f"goals.{name}", f"expected a non-negative number, found {value!r}")
    return {name: float(entry[name]) for name in GOALS if name in entry}


def _measured(reader: _Reader, entry: Mapping[str, Any]) -> frozenset[str]:
    reader.only(entry, "measure", set(MEASUREMENTS))
    for name, value in entry.items():
        if not isinstance(value, bool):
            reader.fail(f"measure.{name}", "expected true or false")
    return frozenset(name for name in MEASUREMENTS if entry.get(name, True))


def _scale(reader: _Reader, entry: Mapping[str, Any]) -> Scale:
    reader.only(entry, "scale", {"grid", "quick_grid", "instance", "quick_instance", "headline_instance",
                                 "headline_n", "loaded", "quick_loaded", "trial_grid", "parity_instance"})  # fmt: skip
    grids = {}
    for name in ("grid", "quick_grid", "loaded", "quick_loaded", "trial_grid"):
        values = reader.array(entry, name, "scale")
        if not values or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in values):
            reader.fail(f"scale.{name}", "expected a non-empty list of positive integers")
        grids[name] = tuple(sorted(set(values)))
    headline_n = entry.get("headline_n", 0)
    if isinstance(headline_n, bool) or not isinstance(headline_n, int) or headline_n < 0:
        reader.fail("scale.headline_n", "expected a positive integer")
    return Scale(
        grid=grids["grid"],
        quick_grid=grids["quick_grid"],
        instance=reader.text(entry, "instance", "scale"),
        quick_instance=reader.text(entry, "quick_instance", "scale"),
        headline_instance=reader.text(entry, "headline_instance", "scale") if "headline_instance" in entry else None,
        headline_n=headline_n,
        loaded=grids["loaded"],
        quick_loaded=grids["quick_loaded"],
        trial_grid=grids["trial_grid"],
        parity_instance=reader.text(entry, "parity_instance", "scale"),
    )


def _module(folder: Path, name: str, file_name: str) -> ModuleType:
    path = folder / file_name
    if not path.is_file() or path.suffix != ".py":
        raise SubjectError(folder / SUBJECT_FILE, "module", f"{file_name}: expected a .py file of the folder")
    spec = importlib.util.spec_from_file_location(f"perfkit_subject_{name}", path)
    if spec is None or spec.loader is None:
        raise SubjectError(path, "", "cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and pickling find a module by its name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # whatever the file does wrong at import, its author fixes it
        del sys.modules[spec.name]
        raise SubjectError(path, "", f"does not import: {type(exc).__name__}: {first_line(exc)}") from None
    return module


def _attribute(subject: Subject, reference: str, where: str) -> Any:
    module_name, _, attribute = reference.partition(":")
    try:
        module = subject.code() if module_name == "subject" else importlib.import_module(module_name)
    except ImportError as exc:
        raise SubjectError(subject.directory / SUBJECT_FILE, where, f"{reference}: {first_line(exc)}") from None
    if not hasattr(module, attribute):
        raise SubjectError(subject.directory / SUBJECT_FILE, where, f"{reference}: the module has no {attribute}")
    return getattr(module, attribute)


class _Reader:
    """Typed access to subject.toml that names the file and the field of every problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> Any:
        raise SubjectError(self.path, where, problem)

    @staticmethod
    def _at(parent: str, key: str) -> str:
        return f"{parent}.{key}" if parent else key

    def only(self, entry: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        unknown = sorted(set(entry) - allowed)
        if unknown:
            self.fail(where, f"unknown field(s) {unknown}; allowed: {sorted(allowed)}")

    def mapping(self, entry: Mapping[str, Any], key: str, where: str = "", *, required: bool = True) -> dict[str, Any]:
        value = entry.get(key, None if required else {})
        if not isinstance(value, dict):
            self.fail(self._at(where, key), "expected a table" if value is not None else "missing")
        assert isinstance(value, dict)
        return value

    def array(self, entry: Mapping[str, Any], key: str, where: str = "") -> list[Any]:
        value = entry.get(key)
        if not isinstance(value, list):
            self.fail(self._at(where, key), "expected a list" if value is not None else "missing")
        assert isinstance(value, list)
        return value

    def items(self, entry: Mapping[str, Any], key: str) -> Iterator[dict[str, Any]]:
        for index, value in enumerate(self.array(entry, key)):
            if not isinstance(value, dict):
                self.fail(f"{key}[{index}]", "expected a table")
            yield value

    def text(
        self, entry: Mapping[str, Any], key: str, where: str = "", *, pattern: re.Pattern[str] | None = None
    ) -> str:
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            self.fail(self._at(where, key), "expected a non-empty string" if value is not None else "missing")
        assert isinstance(value, str)
        if pattern is not None and not pattern.fullmatch(value):
            self.fail(self._at(where, key), f"{value!r}: expected lower-case letters, digits and '_'")
        return value

    def texts(self, entry: Mapping[str, Any], key: str, where: str = "") -> list[str]:
        values = self.array(entry, key, where)
        if not values or not all(isinstance(value, str) and value for value in values):
            self.fail(self._at(where, key), "expected a non-empty list of strings")
        return values

    def choice(
        self, entry: Mapping[str, Any], key: str, allowed: Mapping[str, Any] | Sequence[str], where: str = ""
    ) -> str:
        value = self.text(entry, key, where)
        if value not in allowed:
            self.fail(self._at(where, key), f"{value!r}: expected one of {sorted(allowed)}")
        return value
