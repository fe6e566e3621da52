"""Candidates kept inside their bounds, whatever they try: the time limit enforced from outside the
candidate's reach, the settings that confine it and its session's transaction state checked after
every call, and a change to the database noticed.

A SQL candidate is one query on a read-only session: it cannot write in the call that would turn
read-only off, and the check after that call refuses it before the next. A Python candidate holds
its connection and runs with the user's rights on the machine: on a server where the kit may create
roles it runs as a role that may only read the datasets; everywhere, what it changes outside the
kit's schemas is detected after the call and refuses it, naming what changed: a relation created,
dropped, rewritten (TRUNCATE) or altered, read from the catalog, and rows inserted, updated or
deleted, read from the server's cumulative table statistics (the candidate's session flushes its
own before they are read, PostgreSQL 15 and later; on older servers they show a call or two late).
The database's transaction counter cannot serve: autovacuum moves it too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg

from perfkit.errors import CandidateError, KitError, first_line

CONFINING_SETTINGS = ("statement_timeout", "default_transaction_read_only", "transaction_read_only", "search_path")
"""Settings that bound or confine what a candidate's queries may do (``transaction_read_only``: of the
transaction the call leaves the session in)."""
REFUSED_SETTINGS = (*CONFINING_SETTINGS, "role", "session_authorization")
"""Settings `--set` may not change: the kit's bounds, and who the session is."""
GRACE_SECONDS = 1.0
"""How long past its limit a call may run before the client cancels it (the server's own
``statement_timeout`` should fire first)."""
NOT_UNDONE = "; the kit undid none of it: drop or restore it yourself"


def settings_of(conn: psycopg.Connection[Any]) -> dict[str, str]:
    """The confining settings as the session holds them now."""
    with conn.cursor() as cur:
        cur.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in CONFINING_SETTINGS), prepare=False)
        row = cur.fetchone()
    assert row is not None
    return dict(zip(CONFINING_SETTINGS, (str(value) for value in row), strict=True))


class Watchdog:
    """One thread that cancels, from the client, a call past its deadline: a candidate can switch
    off ``statement_timeout``, not this. Arming it costs a clock read and an attribute write, so timed
    calls run under it."""

    def __init__(self, limit_seconds: float, *, poll_seconds: float = 0.05) -> None:
        self.limit = limit_seconds + GRACE_SECONDS
        self._poll = poll_seconds
        self._armed: tuple[psycopg.Connection[Any], float] | None = None
        self.fired = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="perfkit-watchdog", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(self._poll):
            armed = self._armed
            if armed is not None and time.monotonic() > armed[1]:
                self._armed = None
                self.fired = True
                armed[0].cancel_safe(timeout=5.0)

    @contextmanager
    def guard(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        self._armed = (conn, time.monotonic() + self.limit)
        try:
            yield
        finally:
            self._armed = None

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


_OUTSIDE_THE_KIT = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') "
    "AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%' "
    "AND n.nspname NOT LIKE 'perfkit\\_%'"
)
"""Relations a candidate has no business changing: not the catalogs (autovacuum writes statistics
there), not temporary ones, not the kit's own (which concurrent kit runs create and drop)."""


def relations(observer: psycopg.Connection[Any]) -> dict[str, tuple[int, int]]:
    """Every relation outside the kit, with its storage (a TRUNCATE or rewrite gives it new storage)
    and its column count."""
    with observer.cursor() as cur:
        cur.execute(
            "SELECT n.nspname || '.' || c.relname, c.relfilenode, c.relnatts FROM pg_class c "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {_OUTSIDE_THE_KIT}",
            prepare=False,
        )
        return {str(name): (int(storage), int(columns)) for name, storage, columns in cur.fetchall()}


def rows_written(observer: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows inserted, updated or deleted so far in each table outside the kit, as the server's
    cumulative statistics count them (aborted writes included)."""
    with observer.cursor() as cur:
        cur.execute(
            "SELECT n.nspname || '.' || c.relname, pg_stat_get_tuples_inserted(c.oid) "
            "+ pg_stat_get_tuples_updated(c.oid) + pg_stat_get_tuples_deleted(c.oid) FROM pg_class c "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p', 'm') AND {_OUTSIDE_THE_KIT}",
            prepare=False,
        )
        return {str(name): int(count) for name, count in cur.fetchall()}


def flush_statistics(conn: psycopg.Connection[Any]) -> None:
    """Make ``conn``'s session publish its pending table statistics when the statement ends, rather
    than up to a few seconds later (PostgreSQL 15 and later; older servers have no way to ask)."""
    if conn.info.server_version >= 150000:
        conn.execute("SELECT pg_stat_force_next_flush()", prepare=False)


def changes(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]) -> list[str]:
    created = sorted(after.keys() - before.keys())
    dropped = sorted(before.keys() - after.keys())
    rewritten = sorted(name for name in before.keys() & after.keys() if before[name][0] != after[name][0])
    altered = sorted(name for name in before.keys() & after.keys() if before[name][1] != after[name][1])
    return [
        *(f"created {name}" for name in created[:3]),
        *(f"dropped {name}" for name in dropped[:3]),
        *(f"rewrote {name}" for name in rewritten[:3]),
        *(f"altered {name}" for name in altered[:3]),
    ]


def writes(before: Mapping[str, int], after: Mapping[str, int]) -> list[str]:
    grown = sorted(
        ((after[name] - before.get(name, 0), name) for name in after if after[name] > before.get(name, 0)),
        reverse=True,
    )
    return [f"wrote {count:,} row{'s' if count != 1 else ''} of {name}" for count, name in grown[:3]]


class Containment:
    """The bounds of one candidate's calls on one connection: its settings as the kit set them, the
    watchdog, and the database's state around each call, read on an observer connection."""

    def __init__(
        self, label: str, conn: psycopg.Connection[Any], observer: psycopg.Connection[Any], watchdog: Watchdog
    ) -> None:
        self.label = label
        self.conn = conn
        self.observer = observer
        self.watchdog = watchdog
        self.expected = settings_of(conn)
        self._before: dict[str, tuple[int, int]] | None = None
        self._at_first_call = relations(observer)
        self._written = rows_written(observer)
        """Since the candidate's first call, not its last: writes of another session it opened are
        published when that session ends, which may be after the call that made them."""
        self._status = conn.info.transaction_status

    def before_call(self) -> None:
        """The settings and the database as the kit leaves them to the call (it may point the session
        at another dataset between calls)."""
        self.expected = settings_of(self.conn)
        self._status = self.conn.info.transaction_status
        self._before = relations(self.observer)

    def after_call(self) -> None:
        """Refuse the candidate if its last call changed what bounds it, or the database."""
        if self.watchdog.fired:
            raise self.refused(
                f"ran past its time limit ({self.watchdog.limit - GRACE_SECONDS:g} s) and was cancelled by the kit"
            )
        status = self.conn.info.transaction_status
        if status != self._status:
            raise self.refused(f"left its session in another transaction state ({self._status.name} → {status.name})")
        now = settings_of(self.conn)
        moved = [
            f"{name} {self.expected[name]!r} → {now[name]!r}"
            for name in CONFINING_SETTINGS
            if now[name] != self.expected[name]
        ]
        if moved:
            raise self.refused(f"changed the settings that confine it: {'; '.join(moved)}")
        if status == psycopg.pq.TransactionStatus.IDLE:
            flush_statistics(self.conn)
        found = writes(self._written, rows_written(self.observer))
        if self._before is not None:
            found = changes(self._before, relations(self.observer)) + found
        if found:
            raise CandidateError(
                self.label, f"changed the database while it ran: {'; '.join(found)} (or another client did){NOT_UNDONE}"
            )

    def refused(self, problem: str) -> CandidateError:
        """The refusal for ``problem``, naming too whatever the candidate changed outside the kit's
        schemas since its first call: the first check that fires is rarely the only harm done."""
        try:
            if self.conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
                flush_statistics(self.conn)
            found = changes(self._at_first_call, relations(self.observer))
            found += writes(self._written, rows_written(self.observer))
        except psycopg.Error:  # the refusal matters more than the inventory
            found = []
        if not found:
            return CandidateError(self.label, problem)
        changed = f"it also changed the database: {'; '.join(found)} (or another client did)"
        return CandidateError(self.label, f"{problem}; {changed}{NOT_UNDONE}")

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """The call itself, under the watchdog: a cancel it caused is named as the time limit."""
        try:
            with self.watchdog.guard(self.conn):
                yield
        except psycopg.errors.QueryCanceled:
            if self.watchdog.fired:
                self.after_call()  # raises, naming the limit
            with self._inventoried():
                raise
        except SystemExit as exc:  # the kit's exit code is the kit's to choose
            raise self.refused(f"called sys.exit({exc.code!r})") from None
        except Exception:
            with self._inventoried():
                raise

    @contextmanager
    def _inventoried(self) -> Iterator[None]:
        """`refusals`, each refusal naming what the candidate changed (`refused`)."""
        try:
            with refusals(self.label):
                yield
        except CandidateError as exc:
            if exc.path != self.label:
                raise
            raise self.refused(exc.problem) from None

    def call(self, call: Callable[[psycopg.Connection[Any], int], Any], key: int) -> Any:
        """One call, bounded and checked."""
        self.before_call()
        with self.bounded():
            result = call(self.conn, key)
        self.after_call()
        return result


@contextmanager
def refusals(label: str) -> Iterator[None]:
    """What a candidate can do wrong when it runs, as one line that names its file (exit 9)."""
    try:
        yield
    except KitError:  # the kit's own verdicts (a parity failure, a refusal) pass as they are
        raise
    except psycopg.errors.ReadOnlySqlTransaction:
        raise CandidateError(
            label, "tried to write: candidates run in read-only transactions; a summary only reads"
        ) from None
    except psycopg.errors.InsufficientPrivilege as exc:
        raise CandidateError(
            label, f"tried what its role may not do ({first_line(exc)}): a summary only reads"
        ) from None
    except psycopg.errors.QueryCanceled:
        raise CandidateError(
            label, "ran past the statement timeout: make it faster or raise --statement-timeout"
        ) from None
    except psycopg.Error as exc:
        raise CandidateError(label, f"failed in PostgreSQL: {first_line(exc)}") from None
    except (Exception, SystemExit) as exc:  # a Python candidate's own bug, named with its type
        raise CandidateError(label, f"raised {type(exc).__name__}: {exc}") from None


def refuse_confining(settings: Mapping[str, str]) -> list[str]:
    """The names among ``settings`` that `--set` may not change."""
    return sorted(name for name in settings if name.lower() in REFUSED_SETTINGS)
