"""The task's ``python -m pytest tests/test_after.py -v``: every requirement against the optimized version.

Each requirement must pass (a timing the machine cannot settle is skipped with its figures); as a
script it lists each requirement's result and exits 0 when every one passed.
"""

from __future__ import annotations

import sys

from perfkit.commands.requirement_tests import main, requirement_test

test_requirement = requirement_test("after")

if __name__ == "__main__":
    sys.exit(main("after", sys.argv[1:]))
