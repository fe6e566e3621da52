"""The subject seam: a folder described as data, read once, refused with the file and field at fault."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from perfkit.commands.cli import main
from perfkit.errors import ConfigurationError, SubjectError
from perfkit.judge.diff import Run, diff_runs
from perfkit.measure.results import BenchRecord
from perfkit.measure.variants import subject_variants
from perfkit.paths import SUBJECTS_DIR
from perfkit.subject import DEFAULT_SUBJECT, list_subjects, load_subject

TODAY = SUBJECTS_DIR / DEFAULT_SUBJECT


def _copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    """The default subject's folder copied, with one edit of its subject.toml."""
    folder = tmp_path / "copied"
    shutil.copytree(TODAY, folder, ignore=shutil.ignore_patterns("__pycache__"))
    toml = folder / "subject.toml"
    text = toml.read_text()
    text = text.replace('"../../', f'"{TODAY.parent.parent}/')  # instances and candidates stay where they are
    if edit is not None:
        assert edit[0] in text
        text = text.replace(*edit)
    toml.write_text(text)
    return folder


def test_the_default_subject_is_found_by_name_and_described_whole() -> None:
    subject = load_subject()
    assert DEFAULT_SUBJECT in list_subjects()
    assert subject is load_subject(DEFAULT_SUBJECT) is load_subject(TODAY)
    assert subject.key.name == "user_id"
    assert subject.key.table == "events"
    assert subject.function_name == "fetch_user_activity_summary"
    assert [r.role for r in subject.references] == ["rewrite", "floor", "scan_floor", "result_floor"]
    recorded = subject.to_json()
    assert (recorded["name"], recorded["fingerprint"], recorded["title"]) == (DEFAULT_SUBJECT, subject.fingerprint,
                                                                               subject.title)  # fmt: skip
    assert recorded["goals"]["p99_ms"] == 200.0
    assert recorded["references"]["scan_floor"] == {
        "role": "scan_floor",
        "label": "count(metadata)",
        "note": "count(metadata) under its fastest plan: the cheapest way to read the user's rows",
    }
    assert subject.argument == DEFAULT_SUBJECT


def test_variants_are_built_from_the_description_in_a_fixed_order() -> None:
    variants = subject_variants(load_subject())
    assert list(variants)[:3] == ["before", "after", "after[no_seqscan]"]
    assert variants["distinct"].role == "rewrite"
    assert variants["scan_floor[serial]"].role == "scan_floor"
    assert variants["scan_floor[serial]"].settings == {"max_parallel_workers_per_gather": "0"}
    assert "price_floor[serial]" not in variants  # only the scan floor is judged under its best plan


def test_a_copy_elsewhere_is_the_same_subject_with_its_own_fingerprint(tmp_path: Path) -> None:
    copied = load_subject(_copy(tmp_path))
    assert copied.name == DEFAULT_SUBJECT
    assert copied.fingerprint != load_subject().fingerprint  # its paths differ
    assert copied.argument == str(copied.directory)


@pytest.mark.parametrize(
    ("edit", "field", "problem"),
    [
        (('role = "floor"', 'role = "ceiling"'), "references.floor.role", "expected one of"),
        (("[key]", "[key]\nsize = 1"), "key", "unknown field(s) ['size']"),
        (('type = "bigint"', 'type = "text"'), "key.type", "expected one of ['bigint', 'integer']"),
        (('FROM events WHERE user_id = %(user_id)s"', 'FROM events"'), "references.floor.query", "takes no"),
        (('call = "repository_after:fetch', 'call = "repository_after:fetch_nothing'), "implementations", "has no"),
        (("quick_grid = [1_000", "quick_grid = [-1_000"), "scale.quick_grid", "positive integers"),
        (('name = "activity_summary"', 'name = "Activity Summary"'), "name", "lower-case letters"),
    ],
)
def test_a_malformed_description_names_its_file_and_field(
    tmp_path: Path, edit: tuple[str, str], field: str, problem: str
) -> None:
    with pytest.raises(SubjectError) as caught:
        load_subject(_copy(tmp_path, edit))
    assert caught.value.field.startswith(field)
    assert problem in caught.value.problem
    assert str(caught.value.path).endswith("subject.toml")


def test_an_unknown_subject_is_one_line_with_exit_code_11(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--quick", "--subject", "no_such_subject"]) == 11
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "no subject.toml here" in err
    assert DEFAULT_SUBJECT in err


def test_a_subject_whose_module_does_not_import_is_refused(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    (folder / "subject.py").write_text("raise RuntimeError('broken on purpose')\n")
    with pytest.raises(SubjectError, match="does not import: RuntimeError: broken on purpose"):
        load_subject(folder)


def test_diff_refuses_runs_of_different_subjects() -> None:
    ours = BenchRecord(environment={}, parameters={"subject": {"name": DEFAULT_SUBJECT, "fingerprint": "a"}})
    theirs = BenchRecord(environment={}, parameters={"subject": {"name": "customer_billing", "fingerprint": "b"}})
    older = BenchRecord(environment={}, parameters={})  # a record from before subjects: the default subject's
    with pytest.raises(ConfigurationError, match="only runs of one subject compare"):
        diff_runs(Run("a", ours, []), Run("b", theirs, []))
    changed = diff_runs(Run("old", older, []), Run("a", ours, []))
    assert {"field": "subject description", "a": None, "b": "a"} in changed.environment


TINY_TOML = """
name = "tiny"
title = "count_notes(owner)"
description = "How many notes one owner has."
module = "subject.py"
instances = "instances"

[key]
name = "owner"
type = "bigint"
table = "notes"

[[tables]]
name = "notes"
ddl = "CREATE TABLE notes (id bigint NOT NULL, owner bigint NOT NULL, PRIMARY KEY (id, owner))"
columns = [["id", "bigint", true], ["owner", "bigint", true]]
primary_key = ["id", "owner"]

[result]
columns = ["notes"]

[implementations.before]
call = "subject:count_in_python"
query = "SELECT id FROM notes WHERE owner = %s"
prepared = true

[implementations.after]
call = "subject:count_in_sql"
query = "SELECT count(*) FROM notes WHERE owner = %(owner)s"

[scale]
grid = [10, 100]
quick_grid = [10, 100]
instance = "tiny"
quick_instance = "tiny"
loaded = [100]
quick_loaded = [100]
trial_grid = [100]
parity_instance = "tiny"
"""

TINY_MODULE = '''
"""tiny: notes counted per owner, in Python (legacy) and in SQL (optimized)."""

from dataclasses import dataclass, field
from typing import Any

from perfkit.data.instances import Reader

GENERATOR_VERSION = 1
INSTANCE_FIELDS = frozenset({"owners"})


@dataclass(frozen=True)
class Notes:
    sizes: dict[int, int]
    kind: str = "generated"
    seed: None = None
    expected: dict[int, Any] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.sizes.values())

    def rows(self, table):
        for owner, count in self.sizes.items():
            for note in range(count):
                yield (note, owner)


def instance_body(document, reader: Reader) -> Notes:
    owners = reader.mapping(document.get("owners"), "owners")
    return Notes({int(owner): reader.integer(count, f"owners.{owner}", 0) for owner, count in owners.items()})


def random_documents(count, rows, seed):
    return [{"name": f"random_{seed}_{index}", "owners": {"1": rows}} for index in range(count)]


def count_in_python(conn, owner):
    with conn.cursor() as cur:
        cur.execute("SELECT id FROM notes WHERE owner = %s", (owner,))
        return {"notes": len(cur.fetchall())}


def count_in_sql(conn, owner):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM notes WHERE owner = %(owner)s", {"owner": owner}, prepare=False)
        return {"notes": cur.fetchone()[0]}
'''


@pytest.mark.db
@pytest.mark.slow
def test_a_tiny_subject_in_a_temporary_folder_runs_a_quick_bench(tmp_path: Path) -> None:
    folder = tmp_path / "tiny"
    (folder / "instances").mkdir(parents=True)
    (folder / "subject.toml").write_text(TINY_TOML)
    (folder / "subject.py").write_text(TINY_MODULE)
    (folder / "instances" / "tiny.json").write_text('{"name": "tiny", "owners": {"1": 10, "2": 100, "3": 5}}')
    output = tmp_path / "runs"
    assert main(["bench", "--quick", "--subject", str(folder), "--output", str(output)]) == 0
    (run,) = output.iterdir()
    record = json.loads((run / "results.json").read_text())
    assert record["parameters"]["subject"]["name"] == "tiny"
    assert record["parameters"]["grid"] == [10, 100]
    timed = {(series["variant"], series["n"]) for series in record["latency"]}
    assert {("before", 10), ("after", 10), ("before", 100), ("after", 100)} <= timed
    counted = {(entry["variant"], entry["n"]) for entry in record["instructions"]}
    assert ("after", 100) in counted or "unavailable" in record["counting"]
    assert {m["implementation"] for m in record["memory"]} == {"before", "after"}


KIT_WORDS = {"id", "type", "metadata", "created_at"}
"""Column names that are also the kit's own words (Python's id and type, a record's created_at, a
notebook's or a package's metadata): a search of the text cannot tell the two apart."""
NAMED_ON_PURPOSE = {
    "record/format.py": {"user_id"},  # reads records written before subjects, all of the default subject
    "commands/evaluate.py": {"user_id"},  # the task's report format names its field so
}


def _subject_names() -> set[str]:
    names: set[str] = set()
    for name in list_subjects():
        subject = load_subject(name)
        names |= {subject.key.name} | {implementation.call.rpartition(":")[2] for implementation in
                                        subject.implementations.values()}  # fmt: skip
        for table in subject.tables:
            names |= {table.name, *table.column_names}
    return names - KIT_WORDS


def test_no_module_of_the_kit_names_a_subjects_tables_columns_or_functions() -> None:
    names = _subject_names()
    assert {"events", "user_id", "fetch_user_activity_summary", "invoice_lines", "customer_id"} <= names
    package = Path(__file__).resolve().parents[1] / "perfkit"
    found = {}
    for path in sorted(package.rglob("*.py")):
        module = path.relative_to(package).as_posix()
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path.read_text()))
        named = (words & names) - NAMED_ON_PURPOSE.get(module, set())
        if named:
            found[module] = sorted(named)
    assert found == {}, f"modules of perfkit/ that name a subject: {found}; the subject's folder should"
