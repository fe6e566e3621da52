"""The task's ``python tests/test_before.py``: every requirement against the legacy version.

As a script it lists each requirement's result and exits 0 when every one is as expected (the
legacy's failures are the finding); under pytest those failures are strict xfails.
"""

from __future__ import annotations

import sys

from perfkit.commands.requirement_tests import main, requirement_test

test_requirement = requirement_test("before")

if __name__ == "__main__":
    sys.exit(main("before", sys.argv[1:]))
