"""The public package: a small lazy surface that imports, connects and writes nothing up front."""

from __future__ import annotations

import subprocess
import sys

import evaluation


def test_every_public_name_resolves() -> None:
    for name in evaluation.__all__:
        assert getattr(evaluation, name) is not None, name
    assert sorted(dir(evaluation)) == sorted(evaluation.__all__)


def test_import_loads_no_submodule_and_opens_nothing() -> None:
    code = (
        "import sys, evaluation\n"
        "heavy = ('pandas', 'psycopg')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('evaluation.') or m in heavy)\n"
        "print(loaded)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"
