"""The task's ``python -m pytest tests/test_after.py -v``: every requirement against the optimized version.

Each requirement must pass (a timing the machine cannot settle is skipped with its figures); as a
script it lists each requirement's result and exits 0 when every one passed.
"""

from __future__ import annotations

import sys

import pytest

from perfkit.commands.requirement_tests import REQUIREMENT_NAMES, assert_requirement, main
from perfkit.judge.requirements import Context

IMPLEMENTATION = "after"


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize("requirement", REQUIREMENT_NAMES)
def test_requirement(requirement: str, requirement_context: Context) -> None:
    assert_requirement(requirement_context, requirement, IMPLEMENTATION)


if __name__ == "__main__":
    sys.exit(main(IMPLEMENTATION, sys.argv[1:]))
