"""Candidates: loaded from the files an investigator writes, refused with one line when wrong, and
timed beside the optimized version when right."""

from __future__ import annotations

from pathlib import Path

import pytest

from perfkit.commands.cli import main
from perfkit.data.candidates import list_candidates, load_candidate
from perfkit.measure.statistics import compare_samples

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = "SELECT count(*), count(*), count(*), 0::float8 FROM events WHERE user_id = %(user_id)s"


def test_every_shipped_candidate_loads_and_says_what_it_tries() -> None:
    names = list_candidates()
    assert {"text_path_only", "collate_c", "group_by_type", "single_extraction", "float_sum"} <= set(names)
    for name in names:
        candidate = load_candidate(name)
        assert len(candidate.description) > 40, name


BAD_FILES = {
    "broken.py": ("import nowhere_to_be_found\n", 9, "does not import: ModuleNotFoundError"),
    "nofunction.py": ('"""Nothing to call."""\n', 9, "defines no function fetch_user_activity_summary"),
    "nodoc.py": ("def fetch_user_activity_summary(conn, user_id):\n    return {}\n", 9, "has no docstring"),
    "two.sql": (f"-- two statements\n{SUMMARY};\nSELECT 1;\n", 9, "holds more than one statement"),
    "nouser.sql": ("-- no user\nSELECT 0, 0, 0, 0.0::float8\n", 9, "does not take %(user_id)s"),
    "nocomment.sql": (f"{SUMMARY}\n", 9, "has no leading comment"),
    "writes.sql": (
        "-- writes\nWITH gone AS (DELETE FROM events WHERE user_id = %(user_id)s RETURNING 1)\n"
        "SELECT count(*), 0::bigint, 0::bigint, 0::float8 FROM gone\n",
        9,
        "tried to write: candidates run in read-only transactions",
    ),
    "fails.sql": (
        f"-- divides by zero\n{SUMMARY.replace('0::float8', '(1 / 0)::float8')}\n",
        9,
        "failed in PostgreSQL",
    ),
    "slow.sql": (
        f"-- sleeps\n{SUMMARY.replace('0::float8', '(pg_sleep(0.5) IS NULL)::int::float8')}\n",
        9,
        "ran past the statement timeout",
    ),
    "wrong.sql": (f"-- counts every event as a click\n{SUMMARY}\n", 6, "differs from the legacy version: user "),
}


@pytest.mark.db
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_candidate_is_refused_in_one_line_and_nothing_is_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, code, fragment = BAD_FILES[name]
    candidate = tmp_path / name
    candidate.write_text(text)
    output = tmp_path / "results"
    assert main(["try", str(candidate), "--quick", "--output", str(output), "--statement-timeout", "200"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{candidate}: " in err
    assert fragment in err
    assert not output.exists()


@pytest.mark.db
def test_the_wrong_on_purpose_candidate_is_refused_naming_user_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["try", "float_sum", "--quick"]) == 6
    err = capsys.readouterr().err
    assert "candidates/float_sum.sql: differs from the legacy version: user 2, key total_value: " in err
    assert "legacy 0.6 (float), float_sum 0.6000000000000001 (float)" in err


@pytest.mark.db
@pytest.mark.slow
def test_a_candidate_is_timed_beside_the_optimized_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["try", "collate_c", "--quick", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "parity: the legacy and collate_c agree for all " in out
    (run,) = tmp_path.iterdir()
    assert run.name.startswith("try-collate_c-")
    summary = (run / "summary.md").read_text()
    for n in ("1,000", "3,000", "10,000", "30,000"):
        assert f"N={n}" in summary
    assert summary.count("candidate / optimized (median)") == 4
    assert "memray-collate_c-30000.bin" in {p.name for p in (run / "memray").iterdir()}


def test_a_comparison_says_faster_slower_or_no_difference() -> None:
    base = [0.010 + 0.0001 * (i % 7) for i in range(60)]
    faster = compare_samples([v * 0.8 for v in base], base)
    assert faster.direction == "faster"
    assert faster.high < 1.0
    slower = compare_samples([v * 1.3 for v in base[:20]], base)  # samples of unequal size
    assert slower.direction == "slower"
    assert slower.low > 1.0
    same = compare_samples(base[::2], base[1::2])
    assert same.direction == "no significant difference"
    assert same.low <= 1.0 <= same.high
