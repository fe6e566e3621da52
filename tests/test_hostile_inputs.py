"""Every bad input the kit was shown to mishandle, one row each: one line, the documented exit code."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from perfkit.commands.cli import main
from perfkit.data.instances import read_instance

GENERATOR = {"seed": 1, "users": [{"user_id": 1, "events": 10}]}


def _events(metadata_text: str = '{"price": 1}', event_type: str = '"purchase"') -> str:
    return f'{{"events": [{{"id": 1, "user_id": 7, "type": {event_type}, "metadata": {metadata_text}}}]}}'


def _generator(**changes: Any) -> str:
    return json.dumps({"generator": {**GENERATOR, **changes}})


INSTANCE_FILES = {
    "nan in metadata": (_events('{"price": NaN}'), "refused NaN: JSON has no non-finite numbers"),
    "infinity in metadata": (_events('{"price": Infinity}'), "refused Infinity"),
    "nul in type": (_events(event_type='"pur\\u0000chase"'), "events[0].type: holds the character U+0000"),
    "lone surrogate": (_events('{"note": "\\ud800"}'), "events[0].metadata.note: holds a lone surrogate"),
    "nesting 100,000 deep": (_events("[" * 100_000 + "]" * 100_000), "nested too deep to read (at most 64"),
    "nesting 70 deep": (_events("[" * 70 + "]" * 70), "nested more than 64 levels deep"),
    "integer of 5,000 digits": (_events('{"price": ' + "9" * 5000 + "}"), "a number of 5,000 digits (at most 1,000)"),
    "infinity share": (
        '{"generator": {"seed": 1, "users": [{"user_id": 1, "events": 1}], "type_mix": {"click": Infinity}}}',
        "generator.type_mix.click: refused Infinity",
    ),
    "nan share": (
        '{"generator": {"seed": 1, "users": [{"user_id": 1, "events": 1}], "type_mix": {"click": NaN}}}',
        "generator.type_mix.click: refused NaN",
    ),
    "repeat past bigint": (
        _generator(users=[{"user_id": 2**63 - 3, "events": 1, "repeat": 5}]),
        "generator.users[0].repeat: user ids would run past the BIGINT maximum",
    ),
    "10^14 rows": (
        _generator(users=[{"user_id": 1, "events": 100_000_000, "repeat": 1_000_000}]),
        "100,000,000,000,000 events in all; an instance may hold at most 50,000,000",
    ),
    "expected key outside bigint": (
        '{"events": [], "expected": {"9223372036854775808": {"click": 0, "view": 0, "purchase": 0, "total_value": 0}}}',
        "keys must be user ids within the BIGINT range",
    ),
    "expected key 1_0": (
        '{"events": [], "expected": {"1_0": {"click": 0, "view": 0, "purchase": 0, "total_value": 0}}}',
        "expected.1_0: keys must be user ids within the BIGINT range",
    ),
    "nan expected total": (
        '{"events": [], "expected": {"7": {"click": 0, "view": 0, "purchase": 0, "total_value": NaN}}}',
        "expected.7.total_value: refused NaN",
    ),
}


def _one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: "), err
    assert err.count("\n") == 1, err
    return err


@pytest.mark.parametrize("case", sorted(INSTANCE_FILES))
def test_a_bad_instance_file_is_one_line_naming_file_field_and_limit(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, fragment = INSTANCE_FILES[case]
    path = tmp_path / "bad.json"
    path.write_text(text)
    assert main(["seed", str(path)]) == 3
    err = _one_line(capsys)
    assert str(path) in err
    assert fragment in err


def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(tmp_path: Path) -> None:
    path = tmp_path / "fine.json"
    path.write_text(_events('{"note": "C:\\\\u0000 is a path, not a NUL"}'))
    (event,) = read_instance(path).rows()
    assert event[3] is not None
    assert "\\\\u0000" in event[3]  # the backslash kept, escaped as JSON


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "taken"
    path.write_text("")
    return path


COMMANDS = {
    "statement timeout beyond PostgreSQL's": (["bench", "--statement-timeout", "99999999999"], "PostgreSQL's limit"),
    "load for an infinite duration": (["loadtest", "--duration", "inf"], "a positive, finite number of seconds"),
    "load for nan seconds": (["loadtest", "--duration", "nan"], "a positive, finite number of seconds"),
    "user outside bigint": (["compare", "small", "--keys", "99999999999999999999"], "within the BIGINT range"),
    "grid of zero": (["bench", "--grid", "0"], "expected a positive integer"),
    "unknown command": (["nope"], "invalid choice: 'nope'"),
}


@pytest.mark.parametrize("case", sorted(COMMANDS))
def test_a_bad_option_is_one_line_and_exit_2(case: str, capsys: pytest.CaptureFixture[str]) -> None:
    args, fragment = COMMANDS[case]
    assert main(args) == 2
    assert fragment in _one_line(capsys)


@pytest.mark.db
@pytest.mark.parametrize(
    "args",
    [
        ["bench", "--quick", "--no-memory"],
        ["loadtest", "--quick", "--duration", "1", "--legacy-duration", "1"],
        ["report", "--quick", "--notebook", "01_parity"],
    ],
    ids=["bench", "loadtest", "report"],
)
def test_an_output_that_is_a_file_is_one_line_and_exit_2(
    args: list[str], a_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*args, "--output", str(a_file)]) == 2
    assert "is a file; --output needs a directory" in _one_line(capsys)


@pytest.mark.db
def test_dropping_a_dataset_never_seeded_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "never_seeded_here.json"
    path.write_text(_events())
    assert main(["datasets", "--drop", str(path)]) == 2
    assert "was seeded: nothing to drop" in _one_line(capsys)
