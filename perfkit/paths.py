"""Every folder the kit reads from or writes to, in one place (every stage may import it).

The kit is installed editable from its checkout, so its folders are found from this file.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# What the kit reads.
SUBJECTS_DIR = PROJECT_ROOT / "subjects"
"""One folder per subject: what is investigated, described as data (`perfkit.subject`)."""
NOTEBOOKS_DIR = PROJECT_ROOT / "notebooks"
README = PROJECT_ROOT / "README.md"
DOCS_DIR = PROJECT_ROOT / "docs"
"""Reference material README links: generated parts are kept equal to the kit by tests."""
CLI_REFERENCE = DOCS_DIR / "cli.md"

# What the kit writes (git-ignored but for the evidence and the patch).
DEFAULT_PGDATA = PROJECT_ROOT / ".pgdata"
COUNTING_DIR = PROJECT_ROOT / ".counting"
"""Single-user data directories where backend instructions are counted, one per dataset."""
RESULTS_DIR = PROJECT_ROOT / "results"
"""Runs of `bench`, `loadtest` and `try`: one new directory each."""
REPORTS_DIR = PROJECT_ROOT / "reports"
"""Reports of `make report`: one new directory each."""
TASK_DIR = PROJECT_ROOT / "evaluation"
TASK_REPORTS_DIR = TASK_DIR / "reports"
"""The task's own reports (`python evaluation/evaluation.py`), in the layout its harness expects."""
TASK_REPORT_SCHEMA = TASK_DIR / "task_report.schema.json"
EVIDENCE_DIR = PROJECT_ROOT / "evidence"
"""The small curated folder README and the trajectory cite."""
PATCH = PROJECT_ROOT / "patches" / "diff.patch"
