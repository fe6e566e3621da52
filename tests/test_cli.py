"""The CLI: subcommands end to end, and errors as one line with an exit code."""

from __future__ import annotations

import re

import pytest

from perfkit.commands.cli import INTERRUPTED, TERMINATED, main
from perfkit.errors import KitError
from perfkit.paths import README


@pytest.mark.db
def test_compare_prints_both_summaries_and_parity(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "parity_literal"]) == 0
    out = capsys.readouterr().out
    assert "parity: 15 users, before == after for every one" in out
    assert "237.4" in out


def test_unknown_instance_is_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "no_such_instance"]) == 3
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "no such instance file" in err
    assert err.count("\n") == 1


def test_unreachable_server_is_one_line_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://kit:s3cret-pw@127.0.0.1:1/nowhere")
    assert main(["seed", "small"]) == 4
    err = capsys.readouterr().err
    assert "host 127.0.0.1, port 1" in err
    assert "s3cret-pw" not in err
    assert err.count("\n") == 1


def _subclasses(root: type[KitError]) -> set[type[KitError]]:
    found = set(root.__subclasses__())
    return found.union(*(_subclasses(child) for child in found))


def test_readme_lists_every_exit_code_the_kit_returns() -> None:
    """Each error class's code, and those of Ctrl-C and SIGTERM: one meaning each, all in README."""
    codes = {error.exit_code for error in _subclasses(KitError)} | {INTERRUPTED, TERMINATED}
    assert len({error.exit_code for error in _subclasses(KitError)}) == len(_subclasses(KitError))
    paragraph = README.read_text().split("Errors are one\nline on stderr and a non-zero exit code")[1].split("\n\n")[0]
    listed = {int(code) for code in re.findall(r"(\d+) [a-z(]", paragraph)}
    assert listed == codes
