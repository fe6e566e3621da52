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
    from evaluation.datasets import Dataset, drop_dataset_schema, seed_dataset, use_dataset
    from evaluation.db import ServerTarget, connect, redact_dsn, resolve_server
    from evaluation.errors import (
        ConfigurationError,
        DatabaseError,
        InstanceError,
        KitError,
        MeasurementError,
        OwnershipError,
        ParityError,
    )
    from evaluation.instances import Instance, list_instances, literal_instance, load_instance
    from evaluation.load import load_checks, load_latency_table
    from evaluation.loadtest import LoadConfig, run_load_test
    from evaluation.parity import (
        ParityReport,
        highlight_differences,
        instance_parity,
        random_parity,
        require_parity,
        save_parity_reports,
    )
    from evaluation.plots import (
        all_figures,
        latency_figure,
        load_latency_figure,
        memory_figure,
        ratio_figure,
        rss_over_time_figure,
    )
    from evaluation.results import BenchRecord, latency_table, load_record, memory_table, tidy
    from evaluation.targets import (
        TargetCheck,
        check_targets,
        memory_verdicts,
        plan_summary,
        plans_frame,
        targets_frame,
    )

_EXPORTS = {
    "BenchConfig": "evaluation.bench",
    "BenchRecord": "evaluation.results",
    "BenchRun": "evaluation.bench",
    "ConfigurationError": "evaluation.errors",
    "DatabaseError": "evaluation.errors",
    "Dataset": "evaluation.datasets",
    "Instance": "evaluation.instances",
    "InstanceError": "evaluation.errors",
    "KitError": "evaluation.errors",
    "MeasurementError": "evaluation.errors",
    "OwnershipError": "evaluation.errors",
    "ParityError": "evaluation.errors",
    "ParityReport": "evaluation.parity",
    "ServerTarget": "evaluation.db",
    "TargetCheck": "evaluation.targets",
    "check_targets": "evaluation.targets",
    "connect": "evaluation.db",
    "drop_dataset_schema": "evaluation.datasets",
    "highlight_differences": "evaluation.parity",
    "instance_parity": "evaluation.parity",
    "latency_figure": "evaluation.plots",
    "latency_table": "evaluation.results",
    "list_instances": "evaluation.instances",
    "literal_instance": "evaluation.instances",
    "load_instance": "evaluation.instances",
    "load_record": "evaluation.results",
    "memory_figure": "evaluation.plots",
    "memory_table": "evaluation.results",
    "plan_summary": "evaluation.targets",
    "random_parity": "evaluation.parity",
    "ratio_figure": "evaluation.plots",
    "redact_dsn": "evaluation.db",
    "require_parity": "evaluation.parity",
    "LoadConfig": "evaluation.loadtest",
    "run_load_test": "evaluation.loadtest",
    "rss_over_time_figure": "evaluation.plots",
    "load_latency_figure": "evaluation.plots",
    "load_checks": "evaluation.load",
    "load_latency_table": "evaluation.load",
    "save_parity_reports": "evaluation.parity",
    "targets_frame": "evaluation.targets",
    "memory_verdicts": "evaluation.targets",
    "plans_frame": "evaluation.targets",
    "all_figures": "evaluation.plots",
    "resolve_server": "evaluation.db",
    "run_bench": "evaluation.bench",
    "seed_dataset": "evaluation.datasets",
    "tidy": "evaluation.results",
    "use_dataset": "evaluation.datasets",
}

__all__ = [
    "BenchConfig",
    "BenchRecord",
    "BenchRun",
    "ConfigurationError",
    "DatabaseError",
    "Dataset",
    "Instance",
    "InstanceError",
    "KitError",
    "LoadConfig",
    "MeasurementError",
    "OwnershipError",
    "ParityError",
    "ParityReport",
    "ServerTarget",
    "TargetCheck",
    "all_figures",
    "check_targets",
    "connect",
    "drop_dataset_schema",
    "highlight_differences",
    "instance_parity",
    "latency_figure",
    "latency_table",
    "list_instances",
    "literal_instance",
    "load_checks",
    "load_instance",
    "load_latency_figure",
    "load_latency_table",
    "load_record",
    "memory_figure",
    "memory_table",
    "memory_verdicts",
    "plan_summary",
    "plans_frame",
    "random_parity",
    "ratio_figure",
    "redact_dsn",
    "require_parity",
    "resolve_server",
    "rss_over_time_figure",
    "run_bench",
    "run_load_test",
    "save_parity_reports",
    "seed_dataset",
    "targets_frame",
    "tidy",
    "use_dataset",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evaluation' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    return sorted(__all__)
