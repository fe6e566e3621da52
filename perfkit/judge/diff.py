"""Two runs compared: what in their environments makes the comparison doubtful, then every latency,
ratio, target and plan of one against the other, with intervals and tests of significance.

A run is a report directory (its bench results are found through its manifests) or a bench
results directory. Latencies are compared by the ratio of medians (bootstrap interval, Mann–Whitney
U); ratios measured inside each run (speedups, the floor) by how they changed, which cancels the
drift of a shared machine. Each family of comparisons is Holm-adjusted at `SIGNIFICANCE`; a ratio's
change counts only when its whole interval lies beyond the machine's run-to-run noise (`NOISE_BAND`),
and a latency regression only when its whole interval lies beyond the threshold the caller gives.
"""

from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from perfkit.errors import ConfigurationError
from perfkit.judge.goals import INSTRUCTION_THRESHOLD_PERCENT, NOISE_BAND
from perfkit.judge.outcome import Check
from perfkit.measure.results import POOLED, BenchRecord
from perfkit.measure.statistics import SIGNIFICANCE, Comparison, compare_ratios, compare_samples, holm
from perfkit.measure.timing import median

AFTER = "after"
RATIOS = (("before", "after"), ("rewrite", "after"), ("after", "scan_floor"))
"""Ratios of medians compared across runs, by role: the speedups and the distance to the scan floor."""
ENVIRONMENT_FIELDS = (
    "git_commit", "git_dirty", "cpu_count", "cpu_model", "python", "server.version", "server.embedded",
)  # fmt: skip


def beyond_noise(low: float, high: float) -> bool:
    """A ratio's change whose whole interval lies beyond the machine's run-to-run noise."""
    return low > 1 + NOISE_BAND or high < 1 / (1 + NOISE_BAND)


@dataclass(frozen=True)
class Run:
    """One side of a comparison: a bench record and its checks (`perfkit.record.load_run` reads one)."""

    name: str
    record: BenchRecord
    checks: list[Check]


@dataclass
class RunDiff:
    a: str
    b: str
    environment: list[dict[str, Any]] = field(default_factory=list)
    latency: list[dict[str, Any]] = field(default_factory=list)
    ratios: list[dict[str, Any]] = field(default_factory=list)
    targets: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    instructions: list[dict[str, Any]] = field(default_factory=list)
    serial_plans: list[dict[str, Any]] = field(default_factory=list)

    def serial_plan_changes(self) -> list[dict[str, Any]]:
        """Serial plans that read other blocks or removed other rows, or took another shape: any change."""
        return [row for row in self.serial_plans if row["changed"]]

    def serial_plan_regressions(self) -> list[dict[str, Any]]:
        """Serial plans of ``b`` that read more blocks than ``a``'s, or took another shape."""
        return [row for row in self.serial_plans if row["blocks_b"] > row["blocks_a"] or row["shape changed"]]

    def instruction_changes(self, percent: float = INSTRUCTION_THRESHOLD_PERCENT) -> list[dict[str, Any]]:
        """Backend instruction counts that moved by more than ``percent`` either way, or changed plan."""
        return [row for row in self.instructions if abs(row["change_percent"]) > percent or row["plan changed"]]

    def instruction_regressions(self, percent: float = INSTRUCTION_THRESHOLD_PERCENT) -> list[dict[str, Any]]:
        """Calls of ``b`` that execute more than ``percent`` more backend instructions than ``a``'s."""
        return [row for row in self.instructions if row["change_percent"] > percent]

    def regressions(self, percent: float) -> list[dict[str, Any]]:
        """Latencies of ``b`` significantly slower than ``a``'s, the whole interval beyond ``percent``."""
        return [row for row in self.latency if row["significant"] and row["low"] > 1 + percent / 100]

    def significant_ratios(self) -> list[dict[str, Any]]:
        return [row for row in self.ratios if row["significant"]]

    def to_json(self) -> dict[str, Any]:
        return {"significance": SIGNIFICANCE, "noise_band": NOISE_BAND, **asdict(self)}


def as_optimized(run: Run, candidate: str) -> Run:
    """``run`` with ``candidate`` (a variant of a `try` run, and its forced alternatives) in the place
    of the optimized version: how a candidate's figures are compared with another run's optimized
    ones. Raises ValueError when the run has no such variant."""
    record = run.record

    def renamed(variant: str) -> str | None:
        base, bracket, rest = variant.partition("[")
        if base == candidate:
            return f"{AFTER}{bracket}{rest}"
        return None if base == AFTER else variant

    if not any(series.variant == candidate for series in record.latency):
        found = sorted({series.variant for series in record.latency if "[" not in series.variant})
        raise ValueError(f"{run.name} timed no variant {candidate!r}; it timed {found}")
    moved = copy.deepcopy(record)
    moved.latency = [
        replace(series, variant=name) for series in record.latency if (name := renamed(series.variant)) is not None
    ]
    moved.plans = {
        key: {name: plan for variant, plan in plans.items() if (name := renamed(variant.split("@")[0])) is not None}
        for key, plans in record.plans.items()
    }
    for field_name in ("serial_plans", "instructions"):
        rows = getattr(record, field_name)
        setattr(moved, field_name, [{**row, "variant": name} for row in rows if (name := renamed(row["variant"]))])
    return Run(f"{run.name} ({candidate} as {AFTER})", moved, [])


def diff_runs(a: Run, b: Run) -> RunDiff:
    """Run B against run A: refused when they measured different subjects."""
    subject_a, subject_b = a.record.subject["name"], b.record.subject["name"]
    if subject_a != subject_b:
        raise ConfigurationError(
            f"{a.name} measured subject {subject_a} and {b.name} subject {subject_b}: "
            "only runs of one subject compare; diff two runs of the same --subject"
        )
    result = RunDiff(a.name, b.name, environment=_environment(a.record, b.record))
    latency, latency_comparisons = [], []
    for series in sorted(b.record.latency, key=lambda s: (s.scope, s.n, s.connection, s.variant)):
        old = a.record.series(series.variant, series.n, series.scope, series.connection)
        if old is None or not old.seconds or not series.seconds:
            continue
        comparison = compare_samples(series.seconds, old.seconds)
        latency_comparisons.append(comparison)
        latency.append(
            {
                "scope": series.scope,
                "connection": series.connection,
                "variant": series.variant,
                "n": series.n,
                "a_median_ms": median(old.seconds) * 1000,
                "b_median_ms": median(series.seconds) * 1000,
            }
        )
    result.latency = _judged(latency, latency_comparisons, band=False)
    ratios, ratio_comparisons = [], []
    names = {"before": "before", "after": "after"} | {
        role: b.record.named(role) for role in ("rewrite", "scan_floor") if b.record.named(role)
    }
    for scope, n in b.record.scenarios():
        for numerator, denominator in ((names.get(x), names.get(y)) for x, y in RATIOS):
            if numerator is None or denominator is None:
                continue
            samples = [
                run.record.series(variant, n, scope, POOLED) for run in (b, a) for variant in (numerator, denominator)
            ]
            if any(s is None or len(s.seconds) < 2 for s in samples):
                continue
            comparison = compare_ratios(*(s.seconds for s in samples if s is not None))
            ratio_comparisons.append(comparison)
            ratios.append({"scope": scope, "n": n, "ratio": f"{numerator} / {denominator}"})
    result.ratios = _judged(ratios, ratio_comparisons, key="change")
    result.targets = _targets(a.checks, b.checks)
    result.plans = _plans(a.record, b.record)
    result.instructions = _instructions(a.record, b.record)
    result.serial_plans = _serial_plans(a.record, b.record)
    return result


def _serial_plans(a: BenchRecord, b: BenchRecord) -> list[dict[str, Any]]:
    """Blocks, removed rows and shapes of the serial plans, compared exactly."""
    earlier = {(p["scope"], p["n"], p["variant"]): p for p in a.serial_plans}
    rows = []
    for plan in b.serial_plans:
        previous = earlier.get((plan["scope"], plan["n"], plan["variant"]))
        if previous is None:
            continue
        blocks_a = previous["shared_blocks"] + previous["temp_blocks"]
        blocks_b = plan["shared_blocks"] + plan["temp_blocks"]
        shape_changed = previous["shape_hash"] != plan["shape_hash"]
        rows.append(
            {
                "scope": plan["scope"],
                "n": plan["n"],
                "variant": plan["variant"],
                "blocks_a": blocks_a,
                "blocks_b": blocks_b,
                "rows_removed_a": previous["rows_removed"],
                "rows_removed_b": plan["rows_removed"],
                "shape changed": shape_changed,
                "changed": shape_changed or blocks_a != blocks_b or previous["rows_removed"] != plan["rows_removed"],
            }
        )
    return rows


def _instructions(a: BenchRecord, b: BenchRecord) -> list[dict[str, Any]]:
    """Counts compared exactly, the backend's and the client's: no interval is needed where two runs
    agree to a few in 100,000."""
    rows = []
    for side, earlier, later in (
        ("backend", a.instructions, b.instructions),
        ("client", [{**c, "variant": c["implementation"]} for c in a.client_instructions],
         [{**c, "variant": c["implementation"]} for c in b.client_instructions]),
    ):  # fmt: skip
        previous_calls = {(c["variant"], c["n"]): c for c in earlier}
        for call in later:
            previous = previous_calls.get((call["variant"], call["n"]))
            if previous is None:
                continue
            rows.append(
                {
                    "side": side,
                    "variant": call["variant"],
                    "n": call["n"],
                    "a": previous["instructions"],
                    "b": call["instructions"],
                    "change_percent": 100 * (call["instructions"] / previous["instructions"] - 1),
                    "plan changed": previous.get("plan_shape") != call.get("plan_shape"),
                }
            )
    return rows


def _judged(
    rows: list[dict[str, Any]], comparisons: list[Comparison], key: str = "ratio", *, band: bool = True
) -> list[dict[str, Any]]:
    """Holm-adjusted significance; with ``band``, only beyond the machine's run-to-run noise."""
    adjusted = holm([c.p_value for c in comparisons])
    judged = []
    for row, comparison, p_value in zip(rows, comparisons, adjusted, strict=True):
        significant = not math.isnan(p_value) and p_value < SIGNIFICANCE
        significant = significant and (not band or beyond_noise(comparison.low, comparison.high))
        judged.append(
            {
                **row,
                key: comparison.ratio,
                "low": comparison.low,
                "high": comparison.high,
                "interval": f"[{comparison.low:.2f}–{comparison.high:.2f}]",
                "p_adjusted": p_value,
                "significant": significant,
                "samples": f"{comparison.old_samples} → {comparison.new_samples}",
            }
        )
    return judged


def _environment(a: BenchRecord, b: BenchRecord) -> list[dict[str, Any]]:
    rows = []
    for name in ENVIRONMENT_FIELDS:
        old, new = _field(a.environment, name), _field(b.environment, name)
        if old != new:
            rows.append({"field": name, "a": old, "b": new})
    for setting in sorted(set(_settings(a)) | set(_settings(b))):
        old, new = _settings(a).get(setting), _settings(b).get(setting)
        if old != new:
            rows.append({"field": f"setting {setting}", "a": old, "b": new})
    session_a, session_b = a.parameters.get("session_settings"), b.parameters.get("session_settings")
    if session_a != session_b:
        rows.append({"field": "session settings", "a": session_a, "b": session_b})
    fingerprint_a, fingerprint_b = a.subject["fingerprint"], b.subject["fingerprint"]
    if fingerprint_a != fingerprint_b:
        rows.append({"field": "subject description", "a": fingerprint_a, "b": fingerprint_b})
    for name in ("fingerprint", "table_rows"):
        if a.parameters.get(name) != b.parameters.get(name):
            rows.append({"field": f"instance {name}", "a": a.parameters.get(name), "b": b.parameters.get(name)})
    headline_a, headline_b = a.parameters.get("headline") or {}, b.parameters.get("headline") or {}
    if headline_a.get("fingerprint") != headline_b.get("fingerprint"):
        rows.append(
            {"field": "headline fingerprint", "a": headline_a.get("fingerprint"), "b": headline_b.get("fingerprint")}
        )
    return rows


def _field(environment: dict[str, Any], dotted: str) -> Any:
    value: Any = environment
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _settings(record: BenchRecord) -> dict[str, Any]:
    settings: dict[str, Any] = record.environment.get("server", {}).get("settings", {})
    return settings


def _targets(a: list[Check], b: list[Check]) -> list[dict[str, Any]]:
    old = {(c.at, c.name): c for c in a}
    rows = []
    for check in b:
        previous = old.get((check.at, check.name))
        rows.append(
            {
                "at": check.at,
                "target": check.name,
                "a": f"{previous.measured} ({previous.result})" if previous else "(not measured)",
                "b": f"{check.measured} ({check.result})",
                "result changed": previous is not None and previous.result != check.result,
            }
        )
    return rows


def _plans(a: BenchRecord, b: BenchRecord) -> list[dict[str, Any]]:
    rows = []
    for key, variants in b.plans.items():
        for variant, plan in variants.items():
            previous = a.plans.get(key, {}).get(variant)
            if previous is not None and previous["shape"] != plan["shape"]:
                rows.append({"scenario": key, "variant": variant, "a": previous["shape"], "b": plan["shape"]})
    return rows
