"""``compare``: both implementations' summaries side by side for the users of an instance, and parity."""

from __future__ import annotations

import argparse
import sys

from perfkit.commands._options import Command, add_subject, key, positive_int
from perfkit.data import server
from perfkit.data.instances import read_instance
from perfkit.measure.parity import check_parity, require_parity
from perfkit.subject import load_subject


class CompareCommand(Command):
    name = "compare"
    help = "print both implementations' summaries for the users of an instance and check parity"
    group = "investigate"
    example = "compare parity_literal"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("instance", help="instance name or path")
        parser.add_argument("--keys", type=key, nargs="+", help="the keys to compare (default: all)")
        parser.add_argument(
            "--max-rows",
            type=positive_int,
            default=100_000,
            help="skip keys of more rows than this (the legacy version is slow); default %(default)s",
        )
        add_subject(parser)

    def run(self, args: argparse.Namespace) -> int:
        subject = load_subject(args.subject)
        instance = read_instance(args.instance, subject)
        counts = instance.sizes
        users = args.keys or [u for u in instance.keys if counts[u] <= args.max_rows]
        target = server.resolve_server()
        with server.connect(target.dsn, autocommit=True) as conn:
            (report,) = check_parity(conn, [instance], users=users, progress=sys.stderr.isatty())
        print(f"{instance.name} ({target.display}, schema {report.schema})")
        print(report.frame().to_string(index=False, float_format=lambda v: repr(float(v))))
        require_parity(report.rows, subject.words.key)
        print(f"parity: {len(report.rows)} {subject.words.keys}, before == after for every one")
        return 0
