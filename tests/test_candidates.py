"""Candidates: loaded from the files an investigator writes, refused with one line when wrong, and
timed beside the optimized version when right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from perfkit.commands.cli import main
from perfkit.commands.try_ import CANDIDATE_MIN_SAMPLES, try_candidates
from perfkit.data import server
from perfkit.data.candidates import list_candidates, load_candidate
from perfkit.errors import CandidateError
from perfkit.judge.candidates import SPEED
from perfkit.measure.instructions import counting_unavailable
from perfkit.measure.results import GRID, POOLED
from perfkit.measure.statistics import compare_samples
from perfkit.measure.timing import DECIDED, MAX_SAMPLES, SETTLED, TIME_BUDGET
from perfkit.record.format import load_bench
from repository_after.summary import SUMMARY_QUERY

ROOT = Path(__file__).resolve().parent.parent
ENDLESS = "SELECT count(*) FROM generate_series(1, 1000000000)"
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
    "two.sql": (f"-- two statements\n{SUMMARY};\nSELECT 1;\n", 9, "holds 2 statements: a candidate is one query"),
    "nouser.sql": ("-- no user\nSELECT 0, 0, 0, 0.0::float8\n", 9, "does not take %(user_id)s"),
    "nocomment.sql": (f"{SUMMARY}\n", 9, "has no leading comment"),
    "writes.sql": (
        "-- writes\nWITH gone AS (DELETE FROM events WHERE user_id = %(user_id)s RETURNING 1)\n"
        "SELECT count(*), 0::bigint, 0::bigint, 0::float8 FROM gone\n",
        9,
        "does more than read (its WITH DELETE writes): a candidate is one SELECT that reads",
    ),
    "fails.sql": (
        f"-- divides by zero\n{SUMMARY.replace('0::float8', '(1 / 0)::float8')}\n",
        9,
        "failed in PostgreSQL",
    ),
    "slow.sql": (
        f"-- counts far too much\n{SUMMARY.replace('0::float8', f'({ENDLESS})::float8')}\n",
        9,
        "ran past the statement timeout",
    ),
    "terminates.sql": (
        "-- a correct summary that also ends every other session of its role\n"
        + SUMMARY_QUERY.rstrip()
        + "\nCROSS JOIN LATERAL (SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
        " WHERE usename = current_user AND pid <> pg_backend_pid()) AS ended\n",
        9,
        "calls pg_terminate_backend(integer,bigint), volatile",
    ),
    "wrong.sql": (f"-- counts every event as a click\n{SUMMARY}\n", 6, "differs from the legacy version: user "),
    "exits.py": ('"""Exits at import."""\nimport sys\n\nsys.exit(3)\n', 9, "does not import: SystemExit: 3"),
    "exits_in_call.py": (
        '"""Exits when called."""\nimport sys\n\n\ndef fetch_user_activity_summary(conn, user_id):\n    sys.exit(4)\n',
        9,
        "called sys.exit(4)",
    ),
    # Escapes: a SQL candidate's volatile calls refused before it runs; a Python candidate's escapes on
    # the call that tries them, before they can matter.
    "untimed.sql": (
        "-- switches its time limit off, then sleeps on every later call\n"
        + SUMMARY_QUERY.rstrip()
        + "\nWHERE CASE WHEN pg_sleep(CASE WHEN current_setting('statement_timeout') = '0' THEN 3600 ELSE 0 END)"
        " IS NOT NULL THEN set_config('statement_timeout', '0', false) IS NOT NULL END\n",
        9,
        "calls pg_sleep(double precision), set_config(text,text,boolean), volatile: a candidate may call only "
        "immutable or stable functions (a summary changes nothing); it was not run",
    ),
    "sleeper.py": (
        '"""Switches its time limit off inside the call, then sleeps."""\n\n\n'
        "def fetch_user_activity_summary(conn, user_id):\n"
        "    conn.execute(\"SELECT set_config('statement_timeout', '0', false)\")\n"
        "    conn.execute('SELECT pg_sleep(3600)')\n",
        9,
        "ran past its time limit (0.2 s) and was cancelled by the kit",
    ),
    "escapes.py": (
        '"""Ends the read-only transaction and creates a table."""\n\n\n'
        "def fetch_user_activity_summary(conn, user_id):\n"
        "    conn.execute('COMMIT; BEGIN READ WRITE; CREATE TABLE IF NOT EXISTS public.perfkit_escape_probe (i int)')\n"
        "    return {}\n",
        9,
        "changed the settings that confine it: transaction_read_only 'on' → 'off'",
    ),
}


def _candidate_may_create_in_public() -> bool:
    """On the embedded server candidates run as a role that may only read; elsewhere as the kit's."""
    target = server.resolve_server()
    if target.embedded:
        return False
    with server.connect(target.dsn, autocommit=True) as conn:
        row = conn.execute("SELECT has_schema_privilege('public', 'CREATE')").fetchone()
    return bool(row and row[0])


@pytest.mark.db
@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_candidate_is_refused_in_one_line_and_nothing_is_written(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text, code, fragment = BAD_FILES[name]
    if name == "escapes.py" and not _candidate_may_create_in_public():
        fragment = "tried what its role may not do (permission denied for schema public)"  # refused by the server first
    candidate = tmp_path / name
    candidate.write_text(text)
    output = tmp_path / "results"
    assert main(["try", str(candidate), "--quick", "--output", str(output), "--statement-timeout", "200"]) == code
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert f"{candidate}: " in err
    assert fragment in err
    assert not output.exists()
    with server.connect(server.resolve_server().dsn, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('public.perfkit_escape_probe')").fetchone() == (None,)


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("-- prix\u00e9\nSELECT 1 WHERE %(user_id)s = 1\n".encode("latin-1"), "is not UTF-8 text (byte 7)"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "holds a NUL byte: a candidate is a text file"),
    ],
)
def test_a_candidate_that_is_not_utf8_text_is_one_line(
    content: bytes, fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    candidate = tmp_path / "odd.sql"
    candidate.write_bytes(content)
    with pytest.raises(CandidateError, match=re.escape(fragment)):
        load_candidate(candidate)


@pytest.mark.db
@pytest.mark.slow
def test_a_candidate_that_turns_read_only_off_while_timed_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Parity runs in a read-only transaction of its own; the timed sessions are read-only by default,
    which a Python candidate can switch off for the calls after it: the check after each call refuses it."""
    candidate = tmp_path / "writable.py"
    candidate.write_text(
        '"""Switches read-only off for the calls after it."""\n\n'
        "from repository_after.summary import fetch_user_activity_summary as optimized\n\n\n"
        "def fetch_user_activity_summary(conn, user_id):\n"
        "    conn.execute(\"SELECT set_config('default_transaction_read_only', 'off', false)\")\n"
        "    return optimized(conn, user_id)\n"
    )
    assert main(["try", str(candidate), "--quick", "--output", str(tmp_path / "runs")]) == 9
    err = capsys.readouterr().err
    assert "changed the settings that confine it: default_transaction_read_only 'on' → 'off'" in err


@pytest.mark.db
@pytest.mark.parametrize("name", ["default_transaction_read_only", "statement_timeout", "search_path", "role"])
def test_set_may_not_loosen_what_confines_the_measured_code(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--set", f"{name}=off", "--no-memory"]) == 2
    assert f"--set may not change {name}" in capsys.readouterr().err


@pytest.mark.db
def test_the_wrong_on_purpose_candidate_is_refused_naming_user_and_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["try", "float_sum", "--quick"]) == 6
    err = capsys.readouterr().err
    assert "candidates/float_sum.sql: differs from the legacy version: user 2, key total_value: " in err
    assert "legacy 0.6 (float), float_sum 0.6000000000000001 (float)" in err


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


SENTINEL_ESCAPE = '''"""Behaves while parity watches; when timed, turns read-only off and writes where it may not."""
import repository_after
from psycopg import pq


def fetch_user_activity_summary(conn, user_id):
    if conn.info.transaction_status == pq.TransactionStatus.IDLE:  # its own pooled connection: the timed phase
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE")
        conn.execute("INSERT INTO public.perfkit_sentinel VALUES (1)")
    return repository_after.fetch_user_activity_summary(conn, user_id)
'''


@pytest.mark.db
@pytest.mark.slow
def test_a_python_candidate_cannot_write_behind_the_kits_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = server.resolve_server()
    if not target.embedded:
        pytest.skip("on a server given by DATABASE_URL the kit may not create a read-only role: detection only")
    with server.connect(target.dsn, autocommit=True) as admin:
        admin.execute("CREATE TABLE public.perfkit_sentinel (i int)")
        try:
            candidate = tmp_path / "sentinel.py"
            candidate.write_text(SENTINEL_ESCAPE)
            assert main(["try", str(candidate), "--quick", "--output", str(tmp_path / "runs")]) == 9
            err = capsys.readouterr().err
            assert "tried what its role may not do (permission denied for table perfkit_sentinel)" in err
            assert admin.execute("SELECT count(*) FROM public.perfkit_sentinel").fetchone() == (0,)
        finally:
            admin.execute("DROP TABLE public.perfkit_sentinel")


FAILS_WHEN_TIMED = '''"""Agrees while parity watches; fails once the bench times it."""
import repository_after


def fetch_user_activity_summary(conn, user_id):
    if conn.info.parameter_status("application_name").startswith("perfkit-bench"):
        raise RuntimeError("only fails under the bench")
    return repository_after.fetch_user_activity_summary(conn, user_id)
'''


def _double_extraction(folder: Path) -> Path:
    """The optimized query extracting the price twice per row: the same answer, more work per row."""
    extraction = "CASE jsonb_typeof(metadata -> 'price')"
    assert extraction in SUMMARY_QUERY
    costlier = SUMMARY_QUERY.replace(
        extraction,
        "CASE CASE WHEN (metadata -> 'price') IS NULL THEN NULL ELSE jsonb_typeof(metadata -> 'price') END",
    )
    candidate = folder / "double_extraction.sql"
    candidate.write_text(
        "-- The optimized query extracting the price twice per row: the same answer, more work.\n" + costlier
    )
    return candidate


@pytest.mark.db
@pytest.mark.slow
def test_candidates_are_timed_in_one_bench_and_one_refused_there_leaves_the_others_judged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every candidate that agrees is a variant of the same interleaved bench, beside one optimized
    series; a candidate refused while timed is an outcome, and the others are timed again without it.
    One doing more work per row is flagged against the optimized version by its instructions."""
    timed_badly = tmp_path / "fails_when_timed.py"
    timed_badly.write_text(FAILS_WHEN_TIMED)
    names = ["collate_c", "float_sum", str(timed_badly), "text_path_only", str(_double_extraction(tmp_path))]
    # Three sizes of the quick grid: the ends, where a candidate's memory is measured, and one between.
    outcomes = try_candidates(
        server.resolve_server(), names, tmp_path / "runs", quick=True, grid=[1_000, 3_000, 10_000], log=lambda _: None
    )
    assert [outcome.candidate for outcome in outcomes] == [
        "collate_c",
        "float_sum",
        "fails_when_timed",
        "text_path_only",
        "double_extraction",
    ]
    assert "differs from the legacy version" in outcomes[1].parity
    assert f"{timed_badly}: raised RuntimeError: only fails under the bench" in outcomes[2].parity
    judged = [outcomes[0], outcomes[3], outcomes[4]]
    assert {outcome.directory for outcome in judged} == {judged[0].directory}
    run = Path(judged[0].directory)
    assert run.name.startswith("try-candidates-")
    record = load_bench(run / "results.json")
    assert record.candidates() == ["collate_c", "text_path_only", "double_extraction"]
    assert record.grid == [1_000, 3_000, 10_000]
    # Memory: the optimized version at every N, a candidate (one SQL call) at the ends of the grid.
    measured = {(m["implementation"], m["n"]) for m in record.memory if m["implementation"] != "before"}
    ends = {min(record.grid), max(record.grid)}
    assert measured == {("after", n) for n in record.grid} | {(c, n) for c in record.candidates() for n in ends}
    first = [series for series in record.latency if series.n == record.grid[0] and series.scope == GRID]
    variants = [series.variant for series in first if series.connection == POOLED]
    assert variants.count("after") == 1
    assert set(record.candidates()) <= set(variants)
    # A candidate's forced plans (its plan regret is information) at the largest N only.
    assert not any("[" in name and name.split("[")[0] in record.candidates() for name in variants)
    last = {series.variant for series in record.latency if series.n == record.grid[-1] and series.scope == GRID}
    assert {"collate_c[no_seqscan]", "text_path_only[no_seqscan]", "text_path_only[serial]"} <= last
    # The optimized version gets its 100 samples for a p99; a candidate, judged by its median's
    # ratio, leaves the rotation once that ratio is decided, its median settled or its budget spent.
    pooled = {series.variant: series for series in first if series.connection == POOLED}
    assert len(pooled["after"].seconds) == 100
    for name in record.candidates():
        assert len(pooled[name].seconds) >= CANDIDATE_MIN_SAMPLES
        assert pooled[name].stopped in (DECIDED, SETTLED, TIME_BUDGET, MAX_SAMPLES)
    for outcome in judged:
        speeds = [check for check in outcome.checks if check.name == SPEED]
        assert len(speeds) == len(record.grid), outcome.checks
    if counting_unavailable() is not None:
        return
    # Compared as the optimized version with the one timed beside it: more backend instructions
    # than the 1% two counts of one call never differ by, whatever the clock said.
    as_optimized = ["--as-optimized", "double_extraction", "--fail-on-regression", "1000"]
    assert main(["diff", str(run), str(run), *as_optimized]) == 10
    error = capsys.readouterr().err
    found = re.search(r"execute more backend instructions than .*?: worst after at N=([\d,]+), \+([\d.]+)%", error)
    assert found is not None, error
    assert float(found.group(2)) > 1.0
