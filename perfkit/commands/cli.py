"""``python -m perfkit`` (also ``python -m evaluation``): the subcommands, and the one place where the
kit's errors become a one-line message and an exit code."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import NoReturn

import psycopg

from perfkit.commands._options import Command
from perfkit.commands.bench import BenchCommand
from perfkit.commands.compare import CompareCommand
from perfkit.commands.datasets import DatasetsCommand, SeedCommand
from perfkit.commands.diff import DiffCommand
from perfkit.commands.evaluate import EvaluateCommand
from perfkit.commands.evidence import EvidenceCommand
from perfkit.commands.loadtest import LoadTestCommand
from perfkit.commands.notebooks import NotebooksCommand
from perfkit.commands.patch import PatchCommand
from perfkit.commands.readme import ReadmeCommand
from perfkit.commands.report import ReportCommand
from perfkit.commands.try_ import TryCommand
from perfkit.data.server import resolve_configured_server
from perfkit.errors import ConfigurationError, DatabaseError, KitError, first_line

COMMANDS: list[type[Command]] = [
    SeedCommand,
    CompareCommand,
    BenchCommand,
    LoadTestCommand,
    DatasetsCommand,
    ReportCommand,
    EvidenceCommand,
    EvaluateCommand,
    PatchCommand,
    TryCommand,
    DiffCommand,
    ReadmeCommand,
    NotebooksCommand,
]


INTERRUPTED, TERMINATED = 130, 143
"""Exit codes of a run stopped by Ctrl-C (SIGINT) or by SIGTERM, as a shell reports them."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the process stands, so that it unwinds as after Ctrl-C: the run directory
    stays marked INCOMPLETE, connections close (their queries cancelled) and the server the kit
    started is stopped by the exit handlers a plain SIGTERM would skip."""


def _terminate(signum: int, frame: object) -> None:
    raise Terminated


def _unwinding_rollback(record: logging.LogRecord) -> bool:
    """False for psycopg's note that a connection left by an interrupt could not be rolled back: its
    query was cancelled mid-flight and the connection is closed next, so the note is noise after
    ``interrupted``. Every other psycopg message passes."""
    return not str(record.msg).startswith("error ignored in rollback")


class _Parser(argparse.ArgumentParser):
    """Usage errors become a `ConfigurationError`: one line and exit code 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigurationError(f"{self.prog}: {message} (see --help)")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = _Parser(
        prog="python -m evaluation",
        description="Measure and compare a database-backed function's legacy and optimized versions "
        "(the subject: --subject, by default activity_summary).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, Command] = {}
    for command_class in COMMANDS:
        command = command_class()
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        commands[command.name] = command
    return parser, commands


def main(argv: Sequence[str] | None = None) -> int:
    parser, commands = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    previous = signal.signal(signal.SIGTERM, _terminate)
    psycopg_log = logging.getLogger("psycopg")
    if _unwinding_rollback not in psycopg_log.filters:
        psycopg_log.addFilter(_unwinding_rollback)
    try:
        args = parser.parse_args(arguments)
        command = commands[args.command]
        if command.needs_database:  # a malformed server setting is one line before anything starts
            resolve_configured_server(os.environ)
        return command.run(args)
    except KitError as exc:
        if "--debug" in arguments:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except psycopg.Error as exc:  # one the kit did not foresee: still one line, with what the server said
        if "--debug" in arguments:
            raise
        print(f"error: the server refused: {first_line(exc)} (--debug shows where)", file=sys.stderr)
        return DatabaseError.exit_code
    except Terminated:
        print("terminated", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
