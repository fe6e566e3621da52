"""customer_billing: what only code can say about it. The instance format (literal rows of the three
tables, or a generator's parameters) and the generator, deterministic in its seed.

The kit reads this module through `perfkit.subject`: ``GENERATOR_VERSION``, ``INSTANCE_FIELDS``,
``instance_body`` and ``random_documents``.
"""

from __future__ import annotations

import datetime
import functools
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from perfkit.data.instances import MAX_TOTAL_ROWS, Reader

GENERATOR_VERSION = 1
INSTANCE_FIELDS = frozenset({"generator", "rows", "expected"})
TABLES = ("products", "invoices", "invoice_lines")
PRICES = ("cents", "integers")
"""``cents``: prices with two decimals (the legacy version rounds them); ``integers``: whole prices, the
parity domain."""
_EPOCH = datetime.datetime(2026, 1, 1)

Row = tuple[Any, ...]


@dataclass(frozen=True)
class CustomerSpec:
    customer_id: int
    invoices: int


@dataclass(frozen=True)
class GeneratorSpec:
    seed: int
    customers: tuple[CustomerSpec, ...]
    products: int
    lines_per_invoice: tuple[int, int]  # fewest and most, uniformly: 0 gives invoices without lines
    prices: str
    negative_prices: float  # share of products with a negative price (outside the parity domain)


@dataclass(frozen=True)
class Billing:
    """One instance's rows: generated from a spec, or literal."""

    generator: GeneratorSpec | None
    literal: Mapping[str, tuple[Row, ...]] = field(default_factory=dict)
    expected: Mapping[int, Any] = field(default_factory=dict)

    @property
    def kind(self) -> Literal["generated", "literal"]:
        return "generated" if self.generator is not None else "literal"

    @property
    def seed(self) -> int | None:
        return self.generator.seed if self.generator is not None else None

    @property
    def sizes(self) -> dict[int, int]:
        """Invoices per customer."""
        if self.generator is not None:
            return {c.customer_id: c.invoices for c in self.generator.customers}
        counts: dict[int, int] = dict.fromkeys(self.expected, 0)
        for _, customer, _ in self.literal.get("invoices", ()):
            counts[customer] = counts.get(customer, 0) + 1
        return counts

    @property
    def total_rows(self) -> int:
        return sum(len(self._tables()[table]) for table in TABLES)

    def rows(self, table: str) -> Iterator[Row]:
        yield from self._tables()[table]

    def _tables(self) -> Mapping[str, tuple[Row, ...]]:
        return _generate(self.generator) if self.generator is not None else self.literal


def instance_body(document: Mapping[str, Any], reader: Reader) -> Billing:
    """The rows an instance file describes, every field checked."""
    if ("generator" in document) == ("rows" in document):
        reader.fail("", "expected exactly one of 'generator' or 'rows'")
    expected = _parse_expected(reader, document.get("expected", {}))
    if "generator" in document:
        return Billing(_parse_generator(reader, document["generator"]), expected=expected)
    return Billing(None, _parse_rows(reader, document["rows"]), expected)


def _parse_expected(reader: Reader, value: object) -> dict[int, list[Row]]:
    """Hand-checked results by customer: rows of [invoice id, amount, date], amounts exact."""
    expected: dict[int, list[Row]] = {}
    for key, rows in reader.mapping(value, "expected").items():
        where = f"expected.{key}"
        if not key.lstrip("-").isdigit():
            reader.fail(where, 'keys are customer ids written as integer strings, e.g. "7"')
        if not isinstance(rows, list):
            reader.fail(where, "expected a list of [invoice_id, amount, date] rows")
        parsed: list[Row] = []
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != 3:
                reader.fail(f"{where}[{index}]", "expected [invoice_id, amount, date]")
            try:
                parsed.append((int(row[0]), Decimal(str(row[1])), datetime.datetime.fromisoformat(str(row[2]))))
            except (ValueError, ArithmeticError) as exc:
                reader.fail(f"{where}[{index}]", f"not an [integer, number, timestamp] row: {exc}")
        expected[int(key)] = parsed
    return expected


def _parse_generator(reader: Reader, value: object) -> GeneratorSpec:
    gen = reader.mapping(value, "generator")
    reader.only_keys(gen, "generator", {"seed", "customers", "products", "lines_per_invoice", "prices",
                                        "negative_prices"})  # fmt: skip
    entries = gen.get("customers")
    if not isinstance(entries, list) or not entries:
        reader.fail("generator.customers", "expected a non-empty list of {customer_id, invoices}")
    assert isinstance(entries, list)
    customers: list[CustomerSpec] = []
    for index, entry in enumerate(entries):
        where = f"generator.customers[{index}]"
        customer = reader.mapping(entry, where)
        reader.only_keys(customer, where, {"customer_id", "invoices", "repeat"})
        first = reader.integer(customer.get("customer_id"), f"{where}.customer_id", 1, 2**31 - 1)
        invoices = reader.integer(customer.get("invoices"), f"{where}.invoices", 0, 1_000_000)
        repeat = reader.integer(customer.get("repeat", 1), f"{where}.repeat", 1, 1_000_000)
        customers += [CustomerSpec(first + offset, invoices) for offset in range(repeat)]
    if len({c.customer_id for c in customers}) != len(customers):
        reader.fail("generator.customers", "customer_id values must be distinct")
    lines = gen.get("lines_per_invoice", [0, 8])
    if not isinstance(lines, list) or len(lines) != 2:
        reader.fail("generator.lines_per_invoice", "expected [fewest, most]")
    fewest = reader.integer(lines[0], "generator.lines_per_invoice[0]", 0, 1000)
    most = reader.integer(lines[1], "generator.lines_per_invoice[1]", fewest, 1000)
    if sum(c.invoices for c in customers) * most > MAX_TOTAL_ROWS:
        reader.fail("generator.customers", f"more than {MAX_TOTAL_ROWS:,} lines could be asked for")
    prices = gen.get("prices", "cents")
    if prices not in PRICES:
        reader.fail("generator.prices", f"expected one of {list(PRICES)}, found {prices!r}")
    negative = gen.get("negative_prices", 0)
    if isinstance(negative, bool) or not isinstance(negative, int | float | Decimal) or not 0 <= negative <= 1:
        reader.fail("generator.negative_prices", f"expected a share in [0, 1], found {negative!r}")
    return GeneratorSpec(
        seed=reader.integer(gen.get("seed"), "generator.seed", 0, 2**32 - 1),
        customers=tuple(customers),
        products=reader.integer(gen.get("products", 100), "generator.products", 1, 1_000_000),
        lines_per_invoice=(fewest, most),
        prices=str(prices),
        negative_prices=float(negative),
    )


def _parse_rows(reader: Reader, value: object) -> dict[str, tuple[Row, ...]]:
    tables = reader.mapping(value, "rows")
    reader.only_keys(tables, "rows", set(TABLES))
    widths = {"products": 2, "invoices": 3, "invoice_lines": 4}
    parsed: dict[str, tuple[Row, ...]] = {}
    for table in TABLES:
        rows = tables.get(table, [])
        if not isinstance(rows, list):
            reader.fail(f"rows.{table}", "expected a list of rows")
        for index, row in enumerate(rows):
            if not isinstance(row, list) or len(row) != widths[table]:
                reader.fail(f"rows.{table}[{index}]", f"expected a list of {widths[table]} values")
        parsed[table] = tuple(tuple(row) for row in rows)
    return parsed


@functools.lru_cache(maxsize=4)
def _generate(spec: GeneratorSpec) -> dict[str, tuple[Row, ...]]:
    """Every row of ``spec``: invoices spread over time in an order unlike their ids, and lines."""
    rng = random.Random(spec.seed)
    products = []
    for product_id in range(1, spec.products + 1):
        cents = rng.randrange(1, 100_000) if spec.prices == "cents" else 100 * rng.randrange(1, 1_000)
        sign = -1 if rng.random() < spec.negative_prices else 1
        products.append((product_id, str((Decimal(sign * cents) / 100).quantize(Decimal("0.01")))))
    owners = [c.customer_id for c in spec.customers for _ in range(c.invoices)]
    rng.shuffle(owners)
    ids = list(range(1, len(owners) + 1))
    rng.shuffle(ids)  # invoice ids do not follow time
    invoices: list[Row] = []
    lines: list[Row] = []
    for position, (invoice_id, customer) in enumerate(zip(ids, owners, strict=True)):
        created = _EPOCH + datetime.timedelta(minutes=7 * position, seconds=rng.randrange(60))
        invoices.append((invoice_id, customer, created.isoformat(sep=" ")))
        for _ in range(rng.randint(*spec.lines_per_invoice)):
            lines.append((len(lines) + 1, invoice_id, rng.randrange(1, spec.products + 1), rng.randint(1, 10)))
    invoices.sort()
    return {"products": tuple(products), "invoices": tuple(invoices), "invoice_lines": tuple(lines)}


def random_documents(count: int, rows: int, seed: int) -> list[dict[str, Any]]:
    """``count`` instance documents of the parity domain (whole prices, none negative, at least one invoice)
    of ``rows`` / 25 invoices each (about as many rows of the three tables as ``rows`` / 5), spread over up to
    five customers: the legacy version waits 20 ms for each invoice of the customer it is called for."""
    rng = random.Random(seed)
    documents = []
    rows = max(1, rows // 25)
    for index in range(count):
        customers = rng.randint(1, 5)
        cuts = sorted(rng.randint(0, rows) for _ in range(customers - 1))
        sizes = [b - a for a, b in zip([0, *cuts], [*cuts, rows], strict=True)]
        documents.append(
            {
                "name": f"random_{seed}_{index}",
                "generator": {
                    "seed": rng.randrange(2**32),
                    "customers": [{"customer_id": 100 + c, "invoices": size} for c, size in enumerate(sizes)],
                    "products": rng.randint(1, 50),
                    "lines_per_invoice": [0, rng.randint(1, 6)],
                    "prices": "integers",
                },
            }
        )
    return documents
