"""The CLI: subcommands end to end, and errors as one line with an exit code."""

from __future__ import annotations

import importlib.metadata
import re
import shlex

import pytest

from perfkit.commands.cli import (
    COMMANDS,
    GROUPS,
    INTERRUPTED,
    TERMINATED,
    build_parser,
    cli_reference,
    exit_codes,
    main,
)
from perfkit.errors import KitError
from perfkit.paths import CLI_REFERENCE


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


def test_help_lists_every_exit_code_the_kit_returns(capsys: pytest.CaptureFixture[str]) -> None:
    """Each error class's code, and those of Ctrl-C and SIGTERM: one meaning each, in every --help."""
    errors = _subclasses(KitError)
    assert len({error.exit_code for error in errors}) == len(errors)
    codes = {error.exit_code for error in errors} | {0, INTERRUPTED, TERMINATED}
    assert {code for code, _ in exit_codes()} == codes
    for argv in (["--help"], ["report", "--help"], ["diff", "--help"]):
        with pytest.raises(SystemExit) as exited:
            main(argv)
        assert exited.value.code == 0
        listed = capsys.readouterr().out.split("exit codes:\n")[1]
        assert {int(code) for code in re.findall(r"^ +(\d+)  ", listed, re.MULTILINE)} == codes


def test_every_command_shows_an_example_that_parses() -> None:
    parser, commands = build_parser()
    for name, command in commands.items():
        arguments = shlex.split(command.example)
        assert arguments[0] == name, f"{name}'s example runs {arguments[0]}"
        assert parser.parse_args(arguments).command == name


def test_main_job_is_listed_first_and_every_command_has_a_group() -> None:
    assert COMMANDS[0].name == "report"
    assert {command.group for command in COMMANDS} == set(GROUPS)
    order = [list(GROUPS).index(command.group) for command in COMMANDS]
    assert order == sorted(order), "--help lists the commands group by group, in COMMANDS' order"


def test_version_names_the_installed_package(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"perfkit {importlib.metadata.version('summary-perfkit')}"


def test_cli_reference_is_the_parser() -> None:
    assert CLI_REFERENCE.read_text() == cli_reference(), (
        "run `perfkit readme evidence/<report>` to regenerate docs/cli.md"
    )
