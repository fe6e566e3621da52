"""The task harness's entry point, run as a script: ``python evaluation/evaluation.py [--quick]``.

Run as a script, this file's folder comes first on ``sys.path``, where ``evaluation`` would name
this very file instead of the package. So it imports nothing of the kit: it hands over to
``python -P -m evaluation evaluate`` (``-P`` keeps the script's folder off ``sys.path``), which
finds the package installed in the interpreter's environment (``make`` installs it in .venv).
"""

import os
import sys


def main() -> None:
    command = [sys.executable, "-P", "-m", "evaluation", "evaluate", *sys.argv[1:]]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    main()
