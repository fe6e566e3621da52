"""``diff``: two reports (or two bench runs) compared, optionally failing on a regression."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from perfkit.commands._options import Command, positive_percent
from perfkit.errors import ConfigurationError, RegressionError
from perfkit.judge.diff import RunDiff, as_optimized, diff_runs
from perfkit.judge.goals import INSTRUCTION_THRESHOLD_PERCENT
from perfkit.record.format import load_run, record_document
from perfkit.record.runs import write_new
from perfkit.render.diff import diff_markdown


class DiffCommand(Command):
    name = "diff"
    help = "compare two reports (or two bench runs): environment, latencies, ratios, targets and plans"
    group = "investigate"
    example = "diff reports/BEFORE reports/AFTER --fail-on-regression 10"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("a", type=Path, help="the earlier report or bench results directory")
        parser.add_argument("b", type=Path, help="the later one")
        parser.add_argument(
            "--as-optimized",
            metavar="CANDIDATE",
            help="compare B's variant CANDIDATE (a `try` run's candidate) with A's optimized version, as B's own",
        )
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as a diff record")
        parser.add_argument(
            "--fail-on-regression",
            type=positive_percent,
            metavar="PCT",
            help="exit 10 when a latency of B is significantly slower than A's by more than PCT percent, when a "
            "call of B executes more backend instructions than A's by more than --instruction-threshold, or when "
            "a serial plan of B reads more blocks or takes another shape",
        )
        parser.add_argument(
            "--instruction-threshold",
            type=positive_percent,
            default=INSTRUCTION_THRESHOLD_PERCENT,
            metavar="PCT",
            help=f"how far a backend instruction count may rise (default {INSTRUCTION_THRESHOLD_PERCENT:g}%%)",
        )

    def run(self, args: argparse.Namespace) -> int:
        later = load_run(args.b)
        if args.as_optimized is not None:
            try:
                later = as_optimized(later, args.as_optimized)
            except ValueError as exc:
                raise ConfigurationError(f"--as-optimized: {exc}") from None
        result = diff_runs(load_run(args.a), later)
        print(diff_markdown(result))
        if args.json is not None:
            document = record_document("diff", result.to_json(), environment=None)
            write_new(args.json, json.dumps(document, indent=2, allow_nan=True) + "\n")
        if args.fail_on_regression is not None:
            found = _regressions(result, args.fail_on_regression, args.instruction_threshold)
            if found:
                raise RegressionError("; ".join(found))
        return 0


def _regressions(result: RunDiff, latency_percent: float, instruction_percent: float) -> list[str]:
    """What B does worse than A, in each family: more instructions, more blocks or another serial plan,
    then slower calls."""
    found = []
    costlier = result.instruction_regressions(instruction_percent)
    if costlier:
        worst = max(costlier, key=lambda row: row["change_percent"])
        found.append(
            f"{len(costlier)} calls of {result.b} execute more backend instructions than {result.a}'s by more than "
            f"{instruction_percent:g}%: worst {worst['variant']} at N={worst['n']:,}, "
            f"{worst['change_percent']:+.1f}% ({worst['a']:,} → {worst['b']:,})"
        )
    heavier = result.serial_plan_regressions()
    if heavier:
        first = heavier[0]
        found.append(
            f"{len(heavier)} serial plans of {result.b} read more blocks than {result.a}'s or changed shape: "
            f"first {first['variant']} at N={first['n']:,} ({first['scope']}), "
            f"{first['blocks_a']:,} → {first['blocks_b']:,} blocks"
            + (", another shape" if first["shape changed"] else "")
        )
    slower = result.regressions(latency_percent)
    if slower:
        worst = max(slower, key=lambda row: row["ratio"])
        found.append(
            f"{len(slower)} latencies of {result.b} are significantly slower than {result.a}'s by more than "
            f"{latency_percent:g}%: worst {worst['variant']} at N={worst['n']:,} ({worst['scope']}), "
            f"{worst['ratio']:.2f}× {worst['interval']}"
        )
    return found
