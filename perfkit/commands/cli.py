"""``python -m perfkit`` (also ``python -m evaluation``): the subcommands, and the one place where the
kit's errors become a one-line message and an exit code."""

from __future__ import annotations

import argparse
import functools
import importlib.metadata
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence
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
from perfkit.data.server import embedded_server_stopped, resolve_configured_server
from perfkit.errors import ConfigurationError, DatabaseError, KitError, first_line

COMMANDS: list[type[Command]] = [
    ReportCommand,
    EvaluateCommand,
    CompareCommand,
    BenchCommand,
    TryCommand,
    LoadTestCommand,
    DiffCommand,
    SeedCommand,
    DatasetsCommand,
    NotebooksCommand,
    EvidenceCommand,
    ReadmeCommand,
    PatchCommand,
]
"""In the order ``--help`` lists them: the main job first, then investigation, then maintenance."""

GROUPS = {
    "main": "the main job",
    "investigate": "investigation",
    "maintain": "maintenance (datasets, the committed notebooks and evidence)",
}
PROG = "perfkit"


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


def exit_codes() -> list[tuple[int, str]]:
    """Every code the command line exits with, and what it means: read from the error classes, so the
    list in ``--help`` and docs/cli.md cannot drift from what the kit does."""
    codes = [(0, "done (a report whose targets fail is still done: its verdict says FAIL)")]
    pending: list[type[KitError]] = [KitError]
    while pending:
        error = pending.pop()
        pending += error.__subclasses__()
        if error is not KitError:
            doc = (error.__doc__ or error.__name__).strip().split(";")[0].split(". ")[0].rstrip(".")
            codes.append((error.exit_code, f"{doc[0].lower()}{doc[1:]} ({error.__name__})"))
    codes += [
        (INTERRUPTED, "interrupted (Ctrl-C): the run directory is left marked INCOMPLETE"),
        (TERMINATED, "terminated (SIGTERM): as after Ctrl-C"),
    ]
    return sorted(set(codes))


def _exit_code_lines() -> str:
    return "\n".join(f"  {code:>3}  {meaning}" for code, meaning in exit_codes())


def _command_list() -> str:
    width = max(len(c.name) for c in COMMANDS)
    blocks = []
    for group, title in GROUPS.items():
        lines = [f"  {c.name:<{width}}  {c.help}" for c in COMMANDS if c.group == group]
        blocks.append(f"{title}:\n" + "\n".join(lines))
    return "\n\n".join(blocks)


def version() -> str:
    try:
        return importlib.metadata.version("summary-perfkit")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was not installed
        return "unknown (not installed: pip install -e .)"


def build_parser(prog: str = PROG) -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser, commands, _ = _build(prog)
    return parser, commands


def _build(
    prog: str, width: int | None = None
) -> tuple[argparse.ArgumentParser, dict[str, Command], dict[str, argparse.ArgumentParser]]:
    """The parser, the commands and each command's own parser; ``width`` fixes the help's line length."""
    formatter: Callable[..., argparse.HelpFormatter] = argparse.RawDescriptionHelpFormatter
    if width:
        formatter = functools.partial(argparse.RawDescriptionHelpFormatter, width=width)
    parser = _Parser(
        prog=prog,
        description="Measure and compare a database-backed function's legacy and optimized versions "
        "(the subject: --subject, by default activity_summary).\n\n" + _command_list(),
        epilog=f"example:\n  {prog} {ReportCommand.example}\n\nexit codes:\n{_exit_code_lines()}\n\n"
        f"Run '{prog} COMMAND --help' for a command's options.",
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: dict[str, Command] = {}
    parsers: dict[str, argparse.ArgumentParser] = {}
    for command_class in COMMANDS:
        command = command_class()
        sub = subparsers.add_parser(
            command.name,
            description=command.help,
            epilog=f"example:\n  {prog} {command.example}\n\nexit codes:\n{_exit_code_lines()}",
            formatter_class=formatter,
        )
        command.add_arguments(sub)
        commands[command.name] = command
        parsers[command.name] = sub
    return parser, commands, parsers


REFERENCE_WIDTH = 100


def cli_reference(prog: str = PROG) -> str:
    """docs/cli.md: the top-level help and every command's, generated from the parser so that the
    reference cannot drift from the options (a test keeps the committed file equal)."""
    parser, _, parsers = _build(prog, REFERENCE_WIDTH)
    text = [
        "# Command line reference",
        "",
        f"<!-- generated from the argument parser by `{prog} readme`; tests/test_cli.py keeps it equal -->",
        "",
        f"`{prog}` is the console script the project installs; `python -m evaluation` is the same command "
        "under the name the task's harness uses.",
        "",
        "```text",
        parser.format_help().rstrip(),
        "```",
    ]
    for name, sub in parsers.items():
        text += ["", f"## {name}", "", "```text", sub.format_help().rstrip(), "```"]
    return "\n".join(text) + "\n"


def _fail(message: str, exit_code: int) -> int:
    """One line on stderr and the exit code; when the embedded server died under the run, that is
    the cause, whatever failed first because of it."""
    if embedded_server_stopped():
        message = f"the embedded PostgreSQL stopped during the run: {message}; the next run starts it again"
        exit_code = DatabaseError.exit_code
    print(f"error: {message}", file=sys.stderr)
    return exit_code


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    parser, commands = build_parser(prog)
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
        return _fail(str(exc), exc.exit_code)
    except psycopg.Error as exc:  # one the kit did not foresee: still one line, with what the server said
        if "--debug" in arguments:
            raise
        return _fail(f"the server refused: {first_line(exc)} (--debug shows where)", DatabaseError.exit_code)
    except Terminated:
        print("terminated", file=sys.stderr)
        return TERMINATED
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, previous)
