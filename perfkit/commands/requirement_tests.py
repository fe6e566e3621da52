"""The task's test files, ``tests/test_before.py`` and ``tests/test_after.py``: the kit's requirement
checks (`perfkit.judge.requirements`, not a copy) against one implementation, as pytest tests and as
a script that lists them.

Under pytest a requirement the legacy version is expected to fail is a strict xfail: an unexpected
pass turns the run red, as does any failure of the optimized version. A timing the machine cannot
settle is skipped with its figures, never asserted as a flaky pass or fail.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path

from perfkit.commands._options import add_scale
from perfkit.data import server
from perfkit.judge.outcome import Check, Result
from perfkit.judge.requirements import REQUIREMENTS, Context, Scale, requirement_context

REQUIREMENT_NAMES = tuple(REQUIREMENTS)
REQUIREMENT_PROPERTY = "requirement"
"""The user property under which a requirement test keeps what it measured, for the run's summary."""


def measure(context: Context, requirement: str, implementation: str) -> tuple[Check, Result]:
    """The requirement's check for ``implementation``, and the result expected at this scale."""
    check = REQUIREMENTS[requirement][1](context, implementation)
    return check, context.scale.expected(requirement, implementation)


def assert_requirement(
    context: Context, requirement: str, implementation: str, keep: Callable[[str, object], None]
) -> None:
    """The pytest verdict: pass, strict xfail, or a skip that carries an unsettled timing's figures;
    ``keep`` (pytest's record_property) holds what was measured for the run's summary."""
    import pytest

    check, expected = measure(context, requirement, implementation)
    keep(REQUIREMENT_PROPERTY, f"[{check.result.value}] {check.measured}")
    if check.result in (Result.INCONCLUSIVE, Result.INFO):
        pytest.skip(f"not settled on this machine: {check.measured}")
    if expected is Result.FAIL:
        if check.result is Result.PASS:
            pytest.fail(f"[XPASS(strict)] {implementation} was expected to fail {requirement}: {check.measured}")
        pytest.xfail(f"the expected finding: {check.measured}")
    assert check.result is Result.PASS, f"{requirement} ({implementation}): {check.measured}"


def main(implementation: str, argv: list[str]) -> int:
    """``python tests/test_<implementation>.py``: every requirement, one line each; exit 0 when every
    result is the expected one (for the legacy version its failures are the finding), else 1."""
    parser = argparse.ArgumentParser(prog=f"python tests/test_{implementation}.py")
    add_scale(parser)
    args = parser.parse_args(argv)
    scale = Scale.full() if args.full else Scale.quick()
    unexpected = 0
    with (
        tempfile.TemporaryDirectory(prefix="perfkit-requirements-") as workdir,
        requirement_context(server.resolve_server(), scale, Path(workdir)) as context,
    ):
        for requirement in REQUIREMENT_NAMES:
            check, expected = measure(context, requirement, implementation)
            settled = check.result not in (Result.INCONCLUSIVE, Result.INFO)
            as_expected = check.result is expected or not settled
            unexpected += not as_expected
            note = "" if as_expected else f" (UNEXPECTED: {expected.value} expected)"
            print(f"[{check.result.value:>4}] {requirement}: {check.measured}{note}", flush=True)
    failed = [r for r in REQUIREMENT_NAMES if scale.expected(r, implementation) is Result.FAIL]
    if failed:
        print(f"{implementation} is expected to fail: {', '.join(failed)}")
    print(f"{implementation}: {'every result as expected' if not unexpected else f'{unexpected} unexpected'}")
    return 1 if unexpected else 0


def requirement_test(implementation: str) -> Callable[[str, Context, Callable[[str, object], None]], None]:
    """The pytest test of a task test file: one case per requirement, on the module's shared context."""
    import pytest

    @pytest.mark.db
    @pytest.mark.slow
    @pytest.mark.parametrize("requirement", REQUIREMENT_NAMES)
    def test_requirement(
        requirement: str, requirement_context: Context, record_property: Callable[[str, object], None]
    ) -> None:
        assert_requirement(requirement_context, requirement, implementation, record_property)

    return test_requirement
