"""The task's ``python tests/test_before.py``: every requirement against the legacy version.

As a script it lists each requirement's result and exits 0 when every one is as expected (the
legacy's failures are the finding); under pytest those failures are strict xfails.
"""

from __future__ import annotations

import sys

import pytest

from perfkit.commands.requirement_tests import REQUIREMENT_NAMES, assert_requirement, main
from perfkit.judge.requirements import Context

IMPLEMENTATION = "before"


@pytest.mark.db
@pytest.mark.slow
@pytest.mark.parametrize("requirement", REQUIREMENT_NAMES)
def test_requirement(requirement: str, requirement_context: Context) -> None:
    assert_requirement(requirement_context, requirement, IMPLEMENTATION)


if __name__ == "__main__":
    sys.exit(main(IMPLEMENTATION, sys.argv[1:]))
