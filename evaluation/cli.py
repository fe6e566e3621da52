"""``python -m evaluation``: one command class per subcommand; errors become exit codes here only."""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, NoReturn

from evaluation import db
from evaluation.batch import REPORTS_DIR, discover_notebooks, raise_if_failed, run_batch
from evaluation.bench import FULL_GRID, QUICK_GRID, BenchConfig, run_bench
from evaluation.checks import Check
from evaluation.datasets import (
    dataset_schema,
    drop_dataset_schema,
    owned_schemas,
    seed_dataset,
)
from evaluation.diff import diff_runs, load_run
from evaluation.errors import ConfigurationError, KitError, RegressionError
from evaluation.evidence import EVIDENCE_DIR, curate
from evaluation.implementations import IMPLEMENTATIONS
from evaluation.instances import BIGINT_MAX, BIGINT_MIN, list_instances, read_instance
from evaluation.loadtest.run import LoadConfig, run_load_test
from evaluation.outputs import mark_complete, write_new
from evaluation.parity import instance_parity, require_parity
from evaluation.patch import write_patch
from evaluation.readme import update_readme
from evaluation.report import write_report
from evaluation.taskreport import run_task_evaluation
from evaluation.trial import try_candidate

RESULTS_DIR = Path("results")


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


def user_id(text: str) -> int:
    """argparse type: a BIGINT, as the events table stores user ids."""
    return _integer(text, BIGINT_MIN, BIGINT_MAX, "an integer user id within the BIGINT range")


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


def print_checks(checks: list[Check]) -> None:
    for check in checks:
        where = f" at {check.at}" if check.at else ""
        print(f"  [{check.status:>4}] {check.name}{where}: {check.measured} (goal {check.goal})")
    counts = {result: sum(check.result == result for check in checks) for result in ("pass", "FAIL", "inconclusive")}
    if any(counts.values()):
        print("targets: " + ", ".join(f"{count} {result}" for result, count in counts.items()))


class Command:
    name: ClassVar[str]
    help: ClassVar[str]
    needs_database: ClassVar[bool] = True  # DATABASE_URL is checked before such a command starts

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the subcommand's options."""

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError


class SeedCommand(Command):
    name = "seed"
    help = "load instances into kit-owned schemas (reused while complete)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("instances", nargs="*", help="instance names (default: all)")

    def run(self, args: argparse.Namespace) -> int:
        server = db.resolve_server()
        with db.connect(server.dsn, autocommit=True) as conn:
            for name in args.instances or list_instances():
                dataset = seed_dataset(conn, read_instance(name), progress=sys.stderr.isatty())
                state = "reused" if dataset.reused else f"loaded in {dataset.seconds:.1f} s"
                print(f"{name}: {dataset.rows:,} events in {dataset.schema} ({state})")
        return 0


class CompareCommand(Command):
    name = "compare"
    help = "print both implementations' summaries for the users of an instance and check parity"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("instance", help="instance name or path")
        parser.add_argument("--users", type=user_id, nargs="+", help="user ids (default: all)")
        parser.add_argument(
            "--max-events",
            type=positive_int,
            default=100_000,
            help="skip users with more events than this (the legacy version is slow); default %(default)s",
        )

    def run(self, args: argparse.Namespace) -> int:
        instance = read_instance(args.instance)
        counts = instance.event_counts
        users = args.users or [u for u in instance.user_ids if counts[u] <= args.max_events]
        server = db.resolve_server()
        with db.connect(server.dsn, autocommit=True) as conn:
            report = instance_parity(conn, instance, users=users, progress=sys.stderr.isatty())
        print(f"{instance.name} ({server.display}, schema {report.schema})")
        print(report.frame().to_string(index=False, float_format=lambda v: repr(float(v))))
        require_parity(report.rows)
        print(f"parity: {len(report.rows)} users, before == after for every one")
        return 0


class LoadTestCommand(Command):
    name = "loadtest"
    help = "concurrent requests for users of every size; the serving process's RSS sampled every 100 ms"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quick", action="store_true", help="the quick instance for a few seconds")
        parser.add_argument("--instance", help="request mix: every user of this instance (default: scaling)")
        parser.add_argument(
            "--duration", type=positive_seconds, help="seconds of load on the optimized version (default 60)"
        )
        parser.add_argument(
            "--legacy-duration", type=positive_seconds, help="seconds on the legacy version (default 20)"
        )
        parser.add_argument("--workers", type=positive_int, help="concurrent workers (default: 2 × CPU count)")
        parser.add_argument(
            "--legacy-limit-mb", type=positive_int, default=3072, help="address-space cap of the legacy run"
        )
        parser.add_argument(
            "--source-schema", metavar="NAME", help="read the existing NAME.events table (never written)"
        )
        parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="parent of the run directory")

    def run(self, args: argparse.Namespace) -> int:
        config = LoadConfig.quick() if args.quick else LoadConfig.full()
        overrides = {
            key: value
            for key, value in {
                "instance": args.instance,
                "duration": args.duration,
                "legacy_duration": args.legacy_duration,
                "workers": args.workers,
                "legacy_limit_mb": args.legacy_limit_mb,
                "source_schema": args.source_schema,
            }.items()
            if value is not None
        }
        result = run_load_test(db.resolve_server(), replace(config, **overrides), args.output)
        print_checks(result.checks)
        print(f"loadtest: results in {result.directory}")
        return 0


class DatasetsCommand(Command):
    name = "datasets"
    help = "list the kit's dataset schemas, or drop them with --drop"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--drop",
            nargs="*",
            metavar="INSTANCE",
            help="drop these instances' schemas (none named: all)",
        )

    def run(self, args: argparse.Namespace) -> int:
        server = db.resolve_server()
        with db.connect(server.dsn, autocommit=True) as conn:
            owned = owned_schemas(conn)
            if args.drop is None:
                for schema, complete in sorted(owned.items()):
                    print(f"{schema}\t{'complete' if complete else 'incomplete'}")
                return 0
            targets = [dataset_schema(read_instance(n)) for n in args.drop] if args.drop else list(owned)
            for schema in targets:
                drop_dataset_schema(conn, schema)
                print(f"dropped {schema}")
        return 0


class BenchCommand(Command):
    name = "bench"
    help = "latency, memory and scaling of both versions over a grid of N, into a new results directory"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--instance", help="instance to seed and measure (default: scaling, quick with --quick)")
        parser.add_argument("--quick", action="store_true", help=f"small grid {list(QUICK_GRID)}: about a minute")
        parser.add_argument(
            "--grid", type=positive_int, nargs="+", metavar="N", help=f"sizes N (default {list(FULL_GRID)})"
        )
        parser.add_argument(
            "--output",
            type=Path,
            default=RESULTS_DIR,
            help="parent of the run directory (default %(default)s)",
        )
        parser.add_argument("--no-memory", action="store_true", help="skip the memray measurements")
        parser.add_argument("--no-flamegraphs", action="store_true", help="skip the flamegraphs at the largest N")
        parser.add_argument(
            "--source-schema",
            metavar="NAME",
            help="read the existing NAME.events table (never written) instead of seeding an instance",
        )
        parser.add_argument(
            "--statement-timeout", type=statement_timeout_ms, metavar="MS", help="statement_timeout of the measurements"
        )
        parser.add_argument(
            "--set",
            type=setting,
            action="append",
            default=[],
            metavar="NAME=VALUE",
            help="a setting for the bench's own sessions only (the server's configuration is never changed), "
            "e.g. --set random_page_cost=1.1 to try the advice of a plan regret",
        )

    def run(self, args: argparse.Namespace) -> int:
        config = BenchConfig.quick_config() if args.quick else BenchConfig.full()
        overrides: dict[str, Any] = {
            "memory": not args.no_memory,
            "flamegraphs": not args.no_flamegraphs,
            "session_settings": dict(args.set),
        }
        if args.grid:
            overrides["grid"] = sorted(set(args.grid))
        if args.statement_timeout is not None:
            overrides["statement_timeout_ms"] = args.statement_timeout
        config = replace(config, **overrides)
        if args.source_schema:
            if args.instance:
                raise ConfigurationError("--instance and --source-schema exclude each other")
            run = run_bench(
                db.resolve_server(),
                None,
                config,
                args.output,
                source_schema=args.source_schema,
                progress=sys.stderr.isatty(),
            )
        else:
            instance = read_instance(args.instance or ("quick" if args.quick else "scaling"))
            run = run_bench(db.resolve_server(), instance, config, args.output, progress=sys.stderr.isatty())
        print_checks(run.checks)
        print(f"bench: summary in {run.files['summary']}")
        return 0


class ReportCommand(Command):
    name = "report"
    help = "the main job: run every notebook through papermill into evaluation/reports/<UTC time>/"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--quick", action="store_true", help="the notebooks' CI-scale parameters")
        parser.add_argument("--output", type=Path, default=REPORTS_DIR, help="parent of the report directory")
        parser.add_argument("--notebook", nargs="+", metavar="NAME", help="run only these notebooks (e.g. 01_parity)")
        parser.add_argument(
            "--param",
            "-p",
            action="append",
            default=[],
            metavar="NOTEBOOK:NAME=VALUE",
            help="override a notebook parameter, e.g. 01_parity:random_datasets=5 (VALUE read as JSON if it parses)",
        )

    def run(self, args: argparse.Namespace) -> int:
        notebooks = None
        if args.notebook:
            available = {path.stem: path for path in discover_notebooks()}
            unknown = sorted(set(args.notebook) - set(available))
            if unknown:
                raise ConfigurationError(f"no notebook(s) {unknown}; available: {sorted(available)}")
            notebooks = [available[name] for name in args.notebook]
        run = run_batch(
            quick=args.quick,
            reports_base=args.output,
            notebooks=notebooks,
            progress=sys.stderr.isatty(),
            stdout=sys.stdout,
            overrides=_parse_parameters(args.param),
        )
        paths = write_report(run)
        print(f"report: {paths['markdown']}")
        raise_if_failed(run)
        mark_complete(run.directory)
        return 0


class EvidenceCommand(Command):
    name = "evidence"
    help = "copy a report's text, data and PNG figures into evidence/ (the small folder README cites)"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("report", type=Path, help="a report directory written by `make report`")
        parser.add_argument("--into", type=Path, default=EVIDENCE_DIR, help="parent folder (default evidence/)")

    def run(self, args: argparse.Namespace) -> int:
        print(f"evidence: {curate(args.report, args.into)}")
        return 0


class TryCommand(Command):
    name = "try"
    help = "a candidate rewrite in one step: parity with the legacy version, then timed beside the optimized one"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("candidate", help="a name from candidates/ or the path of a .py or .sql file")
        parser.add_argument("--quick", action="store_true", help="the quick instance and grid: about a minute")
        parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="parent of the run directory")
        parser.add_argument(
            "--statement-timeout",
            type=statement_timeout_ms,
            default=60_000,
            metavar="MS",
            help="statement_timeout of every query the candidate runs (default %(default)s)",
        )

    def run(self, args: argparse.Namespace) -> int:
        candidate, users, run = try_candidate(
            db.resolve_server(),
            args.candidate,
            args.output,
            quick=args.quick,
            statement_timeout_ms=args.statement_timeout,
            progress=sys.stderr.isatty(),
        )
        print(f"{candidate.name}: {candidate.description.splitlines()[0]}")
        print(f"parity: the legacy and {candidate.name} agree for all {users} users")
        print_checks([c for c in run.checks if c.note == candidate.name])
        print(f"try: summary in {run.files['summary']}")
        return 0


class ReadmeCommand(Command):
    name = "readme"
    help = "rewrite README's results table from a report (a curated one under evidence/)"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("report", type=Path, help="the report directory README cites, e.g. evidence/<name>")

    def run(self, args: argparse.Namespace) -> int:
        print(f"readme: {update_readme(args.report)} now shows {args.report}")
        return 0


class DiffCommand(Command):
    name = "diff"
    help = "compare two reports (or two bench runs): environment, latencies, ratios, targets and plans"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("a", type=Path, help="the earlier report or bench results directory")
        parser.add_argument("b", type=Path, help="the later one")
        parser.add_argument("--json", type=Path, metavar="FILE", help="also write the comparison as JSON")
        parser.add_argument(
            "--fail-on-regression",
            type=positive_percent,
            metavar="PCT",
            help="exit 10 when a latency of B is significantly slower than A's by more than PCT percent",
        )

    def run(self, args: argparse.Namespace) -> int:
        result = diff_runs(load_run(args.a), load_run(args.b))
        print(result.markdown())
        if args.json is not None:
            write_new(args.json, json.dumps(result.to_json(), indent=2, allow_nan=True) + "\n")
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


class EvaluateCommand(Command):
    name = "evaluate"
    help = "the task's requirements run against each implementation, a quick bench, and report.json"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--impl",
            action="append",
            choices=IMPLEMENTATIONS,
            help="implementation to check (repeatable; default: both)",
        )
        parser.add_argument("--quick", action="store_true", help="CI scale: N up to 30,000 instead of 900,000")
        parser.add_argument("--output", type=Path, default=REPORTS_DIR, help="parent of <date>/<time>/report.json")

    def run(self, args: argparse.Namespace) -> int:
        implementations = args.impl or list(IMPLEMENTATIONS)
        directory, document = run_task_evaluation(
            db.resolve_server(), implementations, quick=args.quick, reports_base=args.output
        )
        summary = document["summary"]
        print(f"functional parity passed: {summary['functional_parity_passed']}")
        print(f"scalability targets met (after): {summary['scalability_targets_met']}")
        print(f"fail to pass: {', '.join(document['fail_to_pass']) or 'none'}")
        print(f"pass to pass: {', '.join(document['pass_to_pass']) or 'none'}")
        for user, figures in summary["performance_improvements"].items():
            speedup = f"{figures['speedup']:.1f}×" if figures["speedup"] is not None else f"n/a ({figures['reason']})"
            print(f"user {user} (N={figures['n']:,}): {speedup}")
        print(f"evaluation: {directory / 'report.json'}")
        return 0


class PatchCommand(Command):
    name = "patch"
    help = "write patches/diff.patch: the diff from repository_before/ to repository_after/"
    needs_database = False

    def run(self, args: argparse.Namespace) -> int:
        print(f"patch: {write_patch()}")
        return 0


def _parse_parameters(items: list[str]) -> dict[str, dict[str, Any]]:
    parsed: dict[str, dict[str, Any]] = {}
    for item in items:
        notebook, _, assignment = item.partition(":")
        name, equals, raw = assignment.partition("=")
        if not notebook or not name or not equals:
            raise ConfigurationError(
                f"--param {item!r}: expected NOTEBOOK:NAME=VALUE, e.g. 01_parity:random_datasets=5"
            )
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        parsed.setdefault(notebook, {})[name] = value
    return parsed


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
]


class _Parser(argparse.ArgumentParser):
    """Usage errors become a `ConfigurationError`: one line and exit code 2, like every other error."""

    def error(self, message: str) -> NoReturn:
        raise ConfigurationError(f"{self.prog}: {message} (see --help)")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = _Parser(
        prog="python -m evaluation",
        description="Measure and compare the legacy and optimized fetch_user_activity_summary.",
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
    try:
        args = parser.parse_args(arguments)
        command = commands[args.command]
        url = os.environ.get("DATABASE_URL", "").strip()
        if command.needs_database and url:
            db.parse_database_url(url)  # a malformed URL is one line before anything starts
        return command.run(args)
    except KitError as exc:
        if "--debug" in arguments:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
