"""``evidence``: a report's small, readable part copied into evidence/."""

from __future__ import annotations

import argparse
from pathlib import Path

from perfkit.commands._options import Command
from perfkit.paths import EVIDENCE_DIR
from perfkit.record.evidence import curate
from perfkit.render.report import slim_page


class EvidenceCommand(Command):
    name = "evidence"
    help = "copy a report's text, data, PNG figures and slim page into evidence/ (the small folder README cites)"
    group = "maintain"
    example = "evidence reports/20261206T025646Z"
    needs_database = False

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("report", type=Path, help="a report directory written by `make report`")
        parser.add_argument("--into", type=Path, default=EVIDENCE_DIR, help="parent folder (default evidence/)")

    def run(self, args: argparse.Namespace) -> int:
        report = args.report.resolve()
        page = slim_page(report) if (report / "report.json").is_file() else None
        print(f"evidence: {curate(report, args.into, page=page)}")
        return 0
