"""``readme``: README's results table rewritten from the report it cites."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfkit.commands._options import Command
from perfkit.render.readme import update_readme


class ReadmeCommand(Command):
    name = "readme"
    help = "rewrite README's results table from a report (a curated one under evidence/)"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("report", type=Path, help="the report directory README cites, e.g. evidence/<name>")

    def run(self, args: argparse.Namespace) -> int:
        print(f"readme: {update_readme(args.report)} now shows {args.report}")
        return 0
