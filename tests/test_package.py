"""The public package: a small lazy surface that imports, connects and writes nothing up front."""

from __future__ import annotations

import subprocess
import sys

import perfkit
from perfkit.paths import PROJECT_ROOT


def test_every_public_name_resolves() -> None:
    for name in perfkit.__all__:
        assert getattr(perfkit, name) is not None, name
    assert sorted(dir(perfkit)) == sorted(perfkit.__all__)


def test_import_loads_no_submodule_and_opens_nothing() -> None:
    code = (
        "import sys, perfkit\n"
        "heavy = ('pandas', 'psycopg')\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('perfkit.') or m in heavy)\n"
        "print(loaded)\n"
    )
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_the_task_entry_point_needs_no_interpreter_trick() -> None:
    """Run as a script, evaluation/ comes first on sys.path; the kit's own name is not shadowed there."""
    script = PROJECT_ROOT / "evaluation" / "evaluation.py"
    completed = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, check=False, timeout=60
    )
    assert completed.returncode == 0, completed.stderr
    assert "--impl" in completed.stdout
