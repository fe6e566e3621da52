"""The task harness's entry point: ``python evaluation/evaluation.py [--full] [--impl before|after]``.

Run as a script, this folder comes first on ``sys.path``; the kit is the ``perfkit`` package, a
name nothing here shadows, so it is imported directly (``make`` installs it into .venv).
"""

import sys

from perfkit.commands.cli import main

if __name__ == "__main__":
    sys.exit(main(["evaluate", *sys.argv[1:]]))
