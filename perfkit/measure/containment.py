"""Candidates kept inside their bounds, whatever they try: the time limit enforced from outside the
candidate's reach, the settings that confine it and its session's transaction state checked after
every call, and a relation it creates or drops noticed.

A SQL candidate is one query on a read-only session: it cannot write in the call that would turn
read-only off, and the check after that call refuses it before the next. A Python candidate holds
its connection and runs with the user's rights on the machine; a relation it creates or drops is
detected and refuses it, naming the relation. (Rows it writes are not: the database's transaction
counter also moves when autovacuum analyzes a catalog, so it cannot tell a candidate's write from
the server's own work.)
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


def relations(observer: psycopg.Connection[Any]) -> frozenset[str]:
    """Every relation outside temporary schemas and the kit's own (which concurrent kit runs create
    and drop): what a write to the schema leaves."""
    with observer.cursor() as cur:
        cur.execute(
            "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%' "
            "AND n.nspname NOT LIKE 'perfkit\\_%'",
            prepare=False,
        )
        return frozenset(str(row[0]) for row in cur.fetchall())


def changes(before: frozenset[str], after: frozenset[str]) -> list[str]:
    created, dropped = sorted(after - before), sorted(before - after)
    return [f"created {name}" for name in created[:3]] + [f"dropped {name}" for name in dropped[:3]]


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
        self._before: frozenset[str] | None = None
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
            raise CandidateError(
                self.label,
                f"ran past its time limit ({self.watchdog.limit - GRACE_SECONDS:g} s) and was cancelled by the kit",
            )
        status = self.conn.info.transaction_status
        if status != self._status:
            raise CandidateError(
                self.label, f"left its session in another transaction state ({self._status.name} → {status.name})"
            )
        now = settings_of(self.conn)
        moved = [
            f"{name} {self.expected[name]!r} → {now[name]!r}"
            for name in CONFINING_SETTINGS
            if now[name] != self.expected[name]
        ]
        if moved:
            raise CandidateError(self.label, f"changed the settings that confine it: {'; '.join(moved)}")
        if self._before is not None:
            found = changes(self._before, relations(self.observer))
            if found:
                raise CandidateError(
                    self.label, f"changed the database while it ran: {'; '.join(found)} (or another client did)"
                )

    @contextmanager
    def bounded(self) -> Iterator[None]:
        """The call itself, under the watchdog: a cancel it caused is named as the time limit."""
        try:
            with self.watchdog.guard(self.conn):
                yield
        except psycopg.errors.QueryCanceled:
            if self.watchdog.fired:
                self.after_call()  # raises, naming the limit
            with refusals(self.label):
                raise
        except SystemExit as exc:  # the kit's exit code is the kit's to choose
            raise CandidateError(self.label, f"called sys.exit({exc.code!r})") from None
        except Exception:
            with refusals(self.label):
                raise

    def call(self, call: Callable[[psycopg.Connection[Any], int], Any], user_id: int) -> Any:
        """One call, bounded and checked."""
        self.before_call()
        with self.bounded():
            result = call(self.conn, user_id)
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
