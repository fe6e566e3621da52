"""``evidence``: a report's small, readable part copied into evidence/."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfkit.commands._options import Command
from perfkit.paths import EVIDENCE_DIR
from perfkit.record.evidence import curate


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
