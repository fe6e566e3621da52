"""What the commands share: argparse types, common options, and how checks are printed."""

from __future__ import annotations

import argparse
import math
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from perfkit.data.instances import BIGINT_MAX, BIGINT_MIN
from perfkit.judge.outcome import Check, tally
from perfkit.paths import PROJECT_ROOT
from perfkit.subject import DEFAULT_SUBJECT, list_subjects


class Command:
    """One subcommand: its name and help, its options, and what it runs. Every command class has this
    same shape (memray's command classes are the model), so the small ones look alike on purpose."""

    name: ClassVar[str]
    help: ClassVar[str]
    group: ClassVar[str]  # where --help lists it: "main", "investigate" or "maintain"
    example: ClassVar[str]  # its arguments in one example, shown after the program's name in --help
    needs_database: ClassVar[bool] = True  # DATABASE_URL or POSTGRES_* is checked before it starts

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommand's options."""

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


def _integer(text: str, low: int, high: int | None, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer > 0."""
    return _integer(text, 1, None, "a positive integer")


def statement_timeout_ms(text: str) -> int:
    """argparse type: a statement_timeout PostgreSQL accepts."""
    return _integer(text, 1, 2**31 - 1, f"milliseconds from 1 to {2**31 - 1} (PostgreSQL's limit)")


def key(text: str) -> int:
    """argparse type: a key within BIGINT's range (the subject's own type is checked where it is called)."""
    return _integer(text, BIGINT_MIN, BIGINT_MAX, "an integer key within the BIGINT range")


def add_subject(parser: argparse.ArgumentParser) -> None:
    known = ", ".join(list_subjects())
    parser.add_argument(
        "--subject",
        metavar="NAME",
        default=DEFAULT_SUBJECT,
        help=f"the function under investigation: a folder of subjects/ ({known}) or the path of one "
        f"(default: {DEFAULT_SUBJECT})",
    )


def _positive_float(text: str, expected: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def positive_percent(text: str) -> float:
    """argparse type: a finite percentage > 0."""
    return _positive_float(text, "a positive percentage")


def positive_seconds(text: str) -> float:
    """argparse type: a finite number of seconds > 0."""
    return _positive_float(text, "a positive, finite number of seconds")


def setting(text: str) -> tuple[str, str]:
    """argparse type: NAME=VALUE of a PostgreSQL setting."""
    name, equals, value = text.partition("=")
    if not equals or not name.replace("_", "").replace(".", "").isalnum():
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, e.g. random_page_cost=1.1, got {text!r}")
    return name, value


def add_quick(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--quick", action="store_true", help=what)


FULL_SCALE = "the requirement's scale (N = 900,000 of 1,000,000 rows) instead of CI's (N = 30,000)"
"""The one scale flag of the task's three commands (evaluation.py, test_before.py, test_after.py), whose
default is CI's scale: the same words and the same flag wherever the task's harness may run them."""


def add_scale(parser: argparse.ArgumentParser) -> None:
    """``--full`` (the requirement's scale); ``--quick``, the default, is still accepted."""
    chosen = parser.add_mutually_exclusive_group()
    chosen.add_argument("--full", action="store_true", help=FULL_SCALE)
    chosen.add_argument("--quick", action="store_true", help="CI's scale (N = 30,000): the default")


def add_output(parser: argparse.ArgumentParser, default: Path, what: str = "parent of the run directory") -> None:
    shown = default.relative_to(PROJECT_ROOT) if default.is_relative_to(PROJECT_ROOT) else default
    parser.add_argument("--output", type=Path, default=default, help=f"{what} (default {shown}/)")


def add_source_schema(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument(
        "--source-schema",
        metavar="NAME",
        help=f"read the subject's existing tables in schema NAME (never written){what}",
    )


def add_statement_timeout(parser: argparse.ArgumentParser, what: str, default: int | None = None) -> None:
    shown = " (default %(default)s)" if default is not None else ""
    parser.add_argument(
        "--statement-timeout", type=statement_timeout_ms, default=default, metavar="MS", help=what + shown
    )


def print_checks(checks: Sequence[Check]) -> None:
    for check in checks:
        where = f" at {check.at}" if check.at else ""
        print(f"  [{check.result.value:>4}] {check.name}{where}: {check.measured} (goal {check.goal})")
    counts = tally(list(checks))
    if any(counts.values()):
        print("targets: " + ", ".join(f"{count} {result.value}" for result, count in counts.items()))
