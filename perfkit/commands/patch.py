"""``patch``: patches/diff.patch, the change under review."""

from __future__ import annotations

import argparse

from perfkit.commands._options import Command
from perfkit.render.patch import write_patch


class PatchCommand(Command):
    name = "patch"
    help = "write patches/diff.patch: the diff from repository_before/ to repository_after/"
    group = "maintain"
    example = "patch"
    needs_database = False

    def run(self, args: argparse.Namespace) -> int:
        print(f"patch: {write_patch()}")
        return 0
