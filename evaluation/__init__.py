"""The performance investigation kit: datasets, measurements and reports for comparing the legacy
and optimized ``fetch_user_activity_summary`` on a real PostgreSQL.

Importing it connects to nothing, starts nothing, writes nothing and loads no submodule: names
are imported on first use, so the memory probe's child process stays as small as the code it measures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from evaluation.bench import BenchConfig, BenchRun, run_bench
    from evaluation.candidates import Candidate, list_candidates, load_candidate
    from evaluation.checks import Check, bench_checks, checks_frame, memory_verdicts, plan_regret
    from evaluation.compare import Comparison, compare_samples
    from evaluation.datasets import Dataset, drop_dataset_schema, seed_dataset, use_dataset
    from evaluation.db import ServerTarget, connect, redact_dsn, resolve_server
    from evaluation.errors import (
        CandidateError,
        ConfigurationError,
        DatabaseError,
        InstanceError,
        KitError,
        MeasurementError,
        NotebookError,
        OwnershipError,
        ParityError,
    )
    from evaluation.evidence import curate
    from evaluation.instances import Instance, list_instances, literal_instance, read_instance
    from evaluation.loadtest.analysis import LoadRun, load_checks, load_latency_table
    from evaluation.loadtest.run import LoadConfig, LoadTestResult, run_load_test
    from evaluation.outputs import write_manifest
    from evaluation.parity import (
        ParityReport,
        highlight_differences,
        instance_parity,
        random_parity,
        require_parity,
        save_parity_reports,
    )
    from evaluation.plans import capture_plan, plan_shape, plan_summary
    from evaluation.plots import (
        all_figures,
        latency_figure,
        load_latency_figure,
        memory_figure,
        ratio_figure,
        rss_over_time_figure,
    )
    from evaluation.results import BenchRecord, latency_table, memory_table, read_record, tidy
    from evaluation.summary import plans_table
    from evaluation.trial import TrialOutcome, candidates_frame, save_trials, try_candidate, try_candidates

_MODULES: dict[str, tuple[str, ...]] = {
    "evaluation.bench": ("BenchConfig", "BenchRun", "run_bench"),
    "evaluation.candidates": ("Candidate", "list_candidates", "load_candidate"),
    "evaluation.checks": ("Check", "bench_checks", "checks_frame", "memory_verdicts", "plan_regret"),
    "evaluation.compare": ("Comparison", "compare_samples"),
    "evaluation.datasets": ("Dataset", "drop_dataset_schema", "seed_dataset", "use_dataset"),
    "evaluation.db": ("ServerTarget", "connect", "redact_dsn", "resolve_server"),
    "evaluation.errors": (
        "CandidateError",
        "ConfigurationError",
        "DatabaseError",
        "InstanceError",
        "KitError",
        "MeasurementError",
        "NotebookError",
        "OwnershipError",
        "ParityError",
    ),
    "evaluation.evidence": ("curate",),
    "evaluation.instances": ("Instance", "list_instances", "literal_instance", "read_instance"),
    "evaluation.loadtest.analysis": ("LoadRun", "load_checks", "load_latency_table"),
    "evaluation.loadtest.run": ("LoadConfig", "LoadTestResult", "run_load_test"),
    "evaluation.outputs": ("write_manifest",),
    "evaluation.parity": (
        "ParityReport",
        "highlight_differences",
        "instance_parity",
        "random_parity",
        "require_parity",
        "save_parity_reports",
    ),
    "evaluation.plans": ("capture_plan", "plan_shape", "plan_summary"),
    "evaluation.plots": (
        "all_figures",
        "latency_figure",
        "load_latency_figure",
        "memory_figure",
        "ratio_figure",
        "rss_over_time_figure",
    ),
    "evaluation.results": ("BenchRecord", "latency_table", "memory_table", "read_record", "tidy"),
    "evaluation.summary": ("plans_table",),
    "evaluation.trial": ("TrialOutcome", "candidates_frame", "save_trials", "try_candidate", "try_candidates"),
}
_EXPORTS = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BenchConfig",
    "BenchRecord",
    "BenchRun",
    "Candidate",
    "CandidateError",
    "Check",
    "Comparison",
    "ConfigurationError",
    "DatabaseError",
    "Dataset",
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
    "ServerTarget",
    "TrialOutcome",
    "all_figures",
    "bench_checks",
    "candidates_frame",
    "capture_plan",
    "checks_frame",
    "compare_samples",
    "connect",
    "curate",
    "drop_dataset_schema",
    "highlight_differences",
    "instance_parity",
    "latency_figure",
    "latency_table",
    "list_candidates",
    "list_instances",
    "literal_instance",
    "load_candidate",
    "load_checks",
    "load_latency_figure",
    "load_latency_table",
    "memory_figure",
    "memory_table",
    "memory_verdicts",
    "plan_regret",
    "plan_shape",
    "plan_summary",
    "plans_table",
    "random_parity",
    "ratio_figure",
    "read_instance",
    "read_record",
    "redact_dsn",
    "require_parity",
    "resolve_server",
    "rss_over_time_figure",
    "run_bench",
    "run_load_test",
    "save_parity_reports",
    "save_trials",
    "seed_dataset",
    "tidy",
    "try_candidate",
    "try_candidates",
    "use_dataset",
    "write_manifest",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
