"""``readme``: README's results table rewritten from the report it cites."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfkit.commands._options import Command
from perfkit.paths import CLI_REFERENCE
from perfkit.render.readme import update_readme


class ReadmeCommand(Command):
    name = "readme"
    help = "rewrite the generated parts of README and docs/ from a report (a curated one under evidence/)"
    group = "maintain"
    example = "readme evidence/20261206T025646Z"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("report", type=Path, help="the report directory README cites, e.g. evidence/<name>")

    def run(self, args: argparse.Namespace) -> int:
        # Imported here: the command line's module imports every command, this one included.
        from perfkit.commands.cli import cli_reference

        print(f"readme: {update_readme(args.report)} now shows {args.report}")
        CLI_REFERENCE.write_text(cli_reference())
        print(f"readme: {CLI_REFERENCE} now shows every command's --help")
        return 0
