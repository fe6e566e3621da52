"""What a SQL candidate is and what it calls, read with PostgreSQL's own parser (pglast) before it runs.

A summary only reads, and needs no function that changes anything: a candidate is one SELECT (no
data-modifying WITH, no SELECT INTO, no row locks), and every function, operator and cast it names
must be immutable or stable in the server's catalog (``pg_proc.provolatile``). A volatile one
(``pg_terminate_backend``, ``set_config``, ``pg_sleep``, ``nextval``, ``pg_advisory_lock``, ``lo_import``,
``dblink`` …) may act on the server in a read-only transaction, so it is refused before the first
call, naming it. The check is conservative: an unqualified name is refused if any function of that
name the session could reach is volatile. The checks after each call (`containment`) stay behind it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
from pglast import ast, parse_sql
from pglast.parser import ParseError

QualifiedName = tuple[str | None, str]
"""A name as written: its schema when qualified, and the name (lower case unless quoted)."""


@dataclass(frozen=True)
class CalledNames:
    """The functions, operators and cast targets a query names, unresolved."""

    functions: frozenset[QualifiedName]
    operators: frozenset[QualifiedName]
    casts: frozenset[QualifiedName]


class NotASummaryError(ValueError):
    """The text is not one read-only SELECT; the message says what it is instead."""


def _qualified(names: tuple[Any, ...] | None) -> QualifiedName:
    parts = [str(part.sval) for part in names or () if isinstance(part, ast.String)]
    return (parts[-2] if len(parts) > 1 else None, parts[-1])


def _nodes(value: object) -> Iterator[ast.Node]:
    """Every node of a parse tree, depth first."""
    if isinstance(value, tuple):
        for item in value:
            yield from _nodes(item)
    elif isinstance(value, ast.Node):
        yield value
        for member in value:
            yield from _nodes(getattr(value, member))


def _read(statement: ast.Node) -> tuple[CalledNames, list[str]]:
    """The names ``statement`` calls, and what in it does more than read."""
    functions: set[QualifiedName] = set()
    operators: set[QualifiedName] = set()
    casts: set[QualifiedName] = set()
    problems: list[str] = []
    for node in _nodes(statement):
        if isinstance(node, ast.FuncCall):
            functions.add(_qualified(node.funcname))
        elif isinstance(node, ast.A_Expr):
            schema, name = _qualified(node.name)
            if name.isalpha():  # BETWEEN and its kin: keywords the server turns into comparisons
                operators |= {(schema, "<="), (schema, ">=")}
            else:
                operators.add((schema, name))
        elif isinstance(node, ast.TypeCast) and node.typeName is not None:
            casts.add(_qualified(node.typeName.names))
        elif isinstance(node, ast.CommonTableExpr) and not isinstance(node.ctequery, ast.SelectStmt):
            problems.append(f"its WITH {type(node.ctequery).__name__.removesuffix('Stmt').upper()} writes")
        elif isinstance(node, ast.SelectStmt):
            if node.intoClause is not None:
                problems.append("its SELECT INTO creates a table")
            if node.lockingClause:
                problems.append("its FOR UPDATE/SHARE locks rows")
    return CalledNames(frozenset(functions), frozenset(operators), frozenset(casts)), problems


def called_names(query: str, parameter: str) -> CalledNames:
    """Parse ``query`` (whose key is written as ``parameter``, psycopg's ``%(name)s``); raises
    `NotASummaryError` when it is not one SELECT that only reads."""
    text = query.replace(parameter, "$1").replace("%%", "%")
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        raise NotASummaryError(f"does not parse as SQL: {exc}") from None
    if len(statements) != 1:
        raise NotASummaryError(f"holds {len(statements)} statements: a candidate is one query")
    (statement,) = statements
    if not isinstance(statement.stmt, ast.SelectStmt):
        kind = statement.stmt.__class__.__name__.removesuffix("Stmt")
        raise NotASummaryError(f"is a {kind.upper()} statement: a candidate is one SELECT")
    called, problems = _read(statement)
    if problems:
        raise NotASummaryError(f"does more than read ({'; '.join(problems)}): a candidate is one SELECT that reads")
    return called


_REACHABLE = (
    "(n.nspname = c.schema OR (c.schema IS NULL AND (n.nspname = ANY (current_schemas(true)) "
    "OR n.nspname LIKE 'perfkit\\_%%')))"
)
"""Where a name resolves: its own schema when qualified; else any schema of the session's search path,
pg_catalog included, and the kit's own (the search path a call runs with is a dataset's)."""


def volatile_calls(conn: psycopg.Connection[Any], called: CalledNames) -> list[str]:
    """The volatile functions behind ``called`` in the server's catalog, as signatures (an operator or
    a cast named by what it calls)."""

    def names(pairs: frozenset[QualifiedName]) -> dict[str, list[str | None]]:
        ordered = sorted(pairs, key=lambda pair: (pair[0] or "", pair[1]))
        return {"schemas": [schema for schema, _ in ordered], "names": [name for _, name in ordered]}

    unnested = "unnest(%(schemas)s::text[], %(names)s::text[]) AS c(schema, name)"
    queries = (
        (
            called.functions,
            f"SELECT DISTINCT p.oid::regprocedure::text FROM {unnested} JOIN pg_proc p ON p.proname = c.name "
            f"JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.provolatile = 'v' AND {_REACHABLE}",
        ),
        (
            called.operators,
            "SELECT DISTINCT 'operator ' || o.oid::regoperator::text || ' (' || p.oid::regprocedure::text || ')' "
            f"FROM {unnested} JOIN pg_operator o ON o.oprname = c.name JOIN pg_proc p ON p.oid = o.oprcode "
            f"JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE p.provolatile = 'v' AND {_REACHABLE}",
        ),
        (
            called.casts,
            "SELECT DISTINCT 'cast to ' || t.oid::regtype::text || ' (' || p.oid::regprocedure::text || ')' "
            f"FROM {unnested} JOIN pg_type t ON t.typname = c.name JOIN pg_namespace n ON n.oid = t.typnamespace "
            f"JOIN pg_cast k ON k.casttarget = t.oid JOIN pg_proc p ON p.oid = k.castfunc "
            f"WHERE p.provolatile = 'v' AND {_REACHABLE}",
        ),
    )
    found: list[str] = []
    with conn.cursor() as cur:
        for pairs, query in queries:
            if pairs:
                cur.execute(query, names(pairs), prepare=False)
                found += sorted(str(row[0]) for row in cur.fetchall())
    return found
