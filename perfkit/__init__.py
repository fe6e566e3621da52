"""The performance investigation kit: datasets, measurements and reports for comparing the legacy
and optimized versions of a database-backed function (a subject, described in ``subjects/<name>/``)
on a real PostgreSQL.

The library is laid out as data flows through it, one folder per stage: `data` → `measure` →
`judge` → `record` → `render`, with the `commands` on top; `errors`, `paths` and `subject` serve
them all.
This module is its public face: the names below, imported on first use, so that importing the kit
connects to nothing, starts nothing, writes nothing and loads no submodule (the memory probe"s
child process stays as small as the code it measures).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from perfkit.commands.bench import BenchConfig, BenchRun, run_bench
    from perfkit.commands.loadtest import LoadConfig, LoadTestResult, run_load_test
    from perfkit.commands.try_ import bench_with_candidates, try_candidate, try_candidates
    from perfkit.data.candidates import Candidate, list_candidates, load_candidate
    from perfkit.data.datasets import Dataset, drop_dataset_schema, seed_dataset, use_dataset
    from perfkit.data.instances import Instance, list_instances, literal_instance, read_instance
    from perfkit.data.server import ServerTarget, connect, redact_dsn, resolve_server
    from perfkit.errors import (
        CandidateError,
        ConfigurationError,
        DatabaseError,
        InstanceError,
        KitError,
        MeasurementError,
        NotebookError,
        OwnershipError,
        ParityError,
        SubjectError,
    )
    from perfkit.judge.bench import bench_checks, growth_verdict, memory_verdicts, plan_regret
    from perfkit.judge.candidates import CandidateOutcome
    from perfkit.judge.load import load_checks
    from perfkit.judge.outcome import Check, Result
    from perfkit.measure.load.analysis import LoadRun
    from perfkit.measure.parity import (
        DifferenceOutcome,
        ParityReport,
        check_differences,
        check_parity,
        highlight_differences,
        random_instances,
        require_differences,
        require_parity,
    )
    from perfkit.measure.plans import capture_plan, plan_shape, plan_summary
    from perfkit.measure.results import BenchRecord, latency_table, memory_table, tidy
    from perfkit.measure.statistics import Comparison, compare_samples
    from perfkit.record.evidence import curate
    from perfkit.record.format import (
        load_bench,
        load_candidates,
        load_run,
        read_record,
        save_candidates,
        save_parity_reports,
    )
    from perfkit.record.runs import write_manifest
    from perfkit.render.figures import (
        all_figures,
        concurrency_figure,
        instructions_figure,
        latency_figure,
        load_latency_figure,
        memory_figure,
        ratio_figure,
        rss_over_time_figure,
    )
    from perfkit.render.tables import (
        candidates_frame,
        checks_frame,
        concurrency_table,
        instructions_table,
        load_latency_table,
        markdown_table,
        plans_table,
        profile_table,
        serial_plans_table,
    )
    from perfkit.subject import Subject, list_subjects, load_subject

_MODULES: dict[str, tuple[str, ...]] = {
    "perfkit.commands.bench": (
        "BenchConfig",
        "BenchRun",
        "run_bench",
    ),
    "perfkit.commands.loadtest": (
        "LoadConfig",
        "LoadTestResult",
        "run_load_test",
    ),
    "perfkit.commands.try_": (
        "bench_with_candidates",
        "try_candidate",
        "try_candidates",
    ),
    "perfkit.subject": (
        "Subject",
        "list_subjects",
        "load_subject",
    ),
    "perfkit.data.candidates": (
        "Candidate",
        "list_candidates",
        "load_candidate",
    ),
    "perfkit.data.datasets": (
        "Dataset",
        "drop_dataset_schema",
        "seed_dataset",
        "use_dataset",
    ),
    "perfkit.data.instances": (
        "Instance",
        "list_instances",
        "literal_instance",
        "read_instance",
    ),
    "perfkit.data.server": (
        "ServerTarget",
        "connect",
        "redact_dsn",
        "resolve_server",
    ),
    "perfkit.errors": (
        "CandidateError",
        "ConfigurationError",
        "DatabaseError",
        "InstanceError",
        "KitError",
        "MeasurementError",
        "NotebookError",
        "OwnershipError",
        "ParityError",
        "SubjectError",
    ),
    "perfkit.judge.bench": (
        "bench_checks",
        "growth_verdict",
        "memory_verdicts",
        "plan_regret",
    ),
    "perfkit.judge.candidates": ("CandidateOutcome",),
    "perfkit.judge.load": ("load_checks",),
    "perfkit.judge.outcome": (
        "Check",
        "Result",
    ),
    "perfkit.measure.load.analysis": ("LoadRun",),
    "perfkit.measure.parity": (
        "DifferenceOutcome",
        "check_differences",
        "require_differences",
        "ParityReport",
        "check_parity",
        "highlight_differences",
        "random_instances",
        "require_parity",
    ),
    "perfkit.measure.plans": (
        "capture_plan",
        "plan_shape",
        "plan_summary",
    ),
    "perfkit.measure.results": (
        "BenchRecord",
        "latency_table",
        "memory_table",
        "tidy",
    ),
    "perfkit.measure.statistics": (
        "Comparison",
        "compare_samples",
    ),
    "perfkit.record.evidence": ("curate",),
    "perfkit.record.format": (
        "load_bench",
        "load_candidates",
        "load_run",
        "read_record",
        "save_candidates",
        "save_parity_reports",
    ),
    "perfkit.record.runs": ("write_manifest",),
    "perfkit.render.figures": (
        "all_figures",
        "concurrency_figure",
        "instructions_figure",
        "latency_figure",
        "load_latency_figure",
        "memory_figure",
        "ratio_figure",
        "rss_over_time_figure",
    ),
    "perfkit.render.tables": (
        "candidates_frame",
        "checks_frame",
        "concurrency_table",
        "instructions_table",
        "load_latency_table",
        "markdown_table",
        "plans_table",
        "profile_table",
        "serial_plans_table",
    ),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BenchConfig",
    "BenchRecord",
    "BenchRun",
    "Candidate",
    "CandidateError",
    "CandidateOutcome",
    "Check",
    "Comparison",
    "ConfigurationError",
    "DatabaseError",
    "Dataset",
    "DifferenceOutcome",
    "Instance",
    "InstanceError",
    "KitError",
    "LoadConfig",
    "LoadRun",
    "LoadTestResult",
    "MeasurementError",
    "NotebookError",
    "OwnershipError",
    "ParityError",
    "ParityReport",
    "Result",
    "ServerTarget",
    "Subject",
    "SubjectError",
    "all_figures",
    "bench_checks",
    "bench_with_candidates",
    "candidates_frame",
    "capture_plan",
    "check_differences",
    "check_parity",
    "checks_frame",
    "compare_samples",
    "concurrency_figure",
    "concurrency_table",
    "connect",
    "curate",
    "drop_dataset_schema",
    "growth_verdict",
    "highlight_differences",
    "instructions_figure",
    "instructions_table",
    "latency_figure",
    "latency_table",
    "list_candidates",
    "list_instances",
    "list_subjects",
    "literal_instance",
    "load_bench",
    "load_candidate",
    "load_candidates",
    "load_checks",
    "load_latency_figure",
    "load_latency_table",
    "load_run",
    "load_subject",
    "markdown_table",
    "memory_figure",
    "memory_table",
    "memory_verdicts",
    "plan_regret",
    "plan_shape",
    "plan_summary",
    "plans_table",
    "profile_table",
    "random_instances",
    "ratio_figure",
    "read_instance",
    "read_record",
    "redact_dsn",
    "require_differences",
    "require_parity",
    "resolve_server",
    "rss_over_time_figure",
    "run_bench",
    "run_load_test",
    "save_candidates",
    "save_parity_reports",
    "seed_dataset",
    "serial_plans_table",
    "tidy",
    "try_candidate",
    "try_candidates",
    "use_dataset",
    "write_manifest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'perfkit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
