"""``diff``: two reports (or two bench runs) compared, optionally failing on a regression."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from perfkit.commands._options import Command, positive_percent
from perfkit.errors import RegressionError
from perfkit.judge.diff import diff_runs
from perfkit.record.format import load_run, record_document
from perfkit.record.runs import write_new
from perfkit.render.diff import diff_markdown


class DiffCommand(Command):
    name = "diff"
    help = "compare two reports (or two bench runs): environment, latencies, ratios, targets and plans"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("a", type=Path, help="the earlier report or bench results directory")
        parser.add_argument("b", type=Path, help="the later one")
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as a diff record")
        parser.add_argument(
            "--fail-on-regression",
            type=positive_percent,
            metavar="PCT",
            help="exit 10 when a latency of B is significantly slower than A's by more than PCT percent",
        )

    def run(self, args: argparse.Namespace) -> int:
        result = diff_runs(load_run(args.a), load_run(args.b))
        print(diff_markdown(result))
        if args.json is not None:
            document = record_document("diff", result.to_json(), environment=None)
            write_new(args.json, json.dumps(document, indent=2, allow_nan=True) + "\n")
        if args.fail_on_regression is not None:
            slower = result.regressions(args.fail_on_regression)
            if slower:
                worst = max(slower, key=lambda row: row["ratio"])
                raise RegressionError(
                    f"{len(slower)} latencies of {result.b} are significantly slower than {result.a}'s by more than "
                    f"{args.fail_on_regression:g}%: worst {worst['variant']} at N={worst['n']:,} ({worst['scope']}), "
                    f"{worst['ratio']:.2f}× {worst['interval']}"
                )
        return 0
