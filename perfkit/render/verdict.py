"""The verdict a reviewer reads first: a few generated lines on equivalence, memory, latency at the
requirement's scale (with the machine it was measured on), speedups, and which targets fail and why.

Every line is read from the records and checks of the run; nothing here judges anew.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from typing import Any

from perfkit.judge.bench import LINEAR, P99, SCAN_FLOOR
from perfkit.judge.capacity import CAPACITY
from perfkit.judge.machine import machine_split
from perfkit.judge.outcome import Check, Result
from perfkit.measure.results import BenchRecord
from perfkit.subject import load_subject

MB = 1024 * 1024
LISTED_FAILURES = 6
"""Failing targets named in the verdict; the rest are counted, and all of them are in the table below."""


def verdict_lines(
    *,
    parity: Mapping[str, Any] | None,
    record: BenchRecord | None,
    memory_fits: Mapping[str, Mapping[str, Any]],
    checks: Sequence[Check],
) -> list[str]:
    lines = [_equivalence(parity)]
    if record is not None:
        lines += _memory(record, memory_fits)
        lines += _latency(record, checks)
    lines.append(_targets(checks))
    return [line for line in lines if line]


def _equivalence(parity: Mapping[str, Any] | None) -> str:
    if parity is None:
        return "Equivalence: not known (the parity notebook did not finish)."
    reports = parity["reports"]
    words = parity.get("words") or asdict(load_subject().words)  # records older than subjects: the default's
    users = sum(int(report["users"]) for report in reports)
    differing = [(report["instance"], report["mismatches"]) for report in reports if report["mismatches"]]
    declared = parity.get("differences") or []
    wrong = [d["name"] for d in declared if not d["confirmed"]]
    if wrong:
        return f"NOT as declared: the declared difference(s) {', '.join(wrong)} did not show; see Parity below."
    on_purpose = (
        f" It differs on purpose in {len(declared)} declared case(s), each confirmed: "
        + ", ".join(d["name"] for d in declared)
        + "."
        if declared
        else ""
    )
    if not differing:
        return (
            f"Equivalent: the optimized version returns the legacy version's {words.get('result', 'result')} "
            f"for all {users:,} {words['keys']} of {len(reports)} datasets (hand-checked instances and random ones)."
            + on_purpose
        )
    instance, mismatches = differing[0]
    count = sum(len(found) for _, found in differing)
    return (
        f"NOT equivalent: {count} {words['keys']} differ, first in {instance} ({words['key']} {mismatches[0]}); "
        "see Parity below."
    )


def _memory(record: BenchRecord, fits: Mapping[str, Mapping[str, Any]]) -> list[str]:
    parts = []
    for implementation, name in (("after", "optimized"), ("before", "legacy")):
        fit = fits.get(implementation)
        measured = [m for m in record.memory if m["implementation"] == implementation and not m["limit_hit"]]
        if fit is None or not measured:
            continue
        largest = max(measured, key=lambda m: int(m["n"]))
        parts.append(
            f"{name} {fit['verdict']} (log-log slope {fit['slope']:+.2f}; "
            f"{largest['peak_bytes'] / MB:,.2f} MB at N={int(largest['n']):,})"
        )
    return [f"Memory, the memray peak of one call: {'; '.join(parts)}."] if parts else []


def requirement_scope(checks: Sequence[Check]) -> str | None:
    """Where the requirement is judged: the headline scenario, else the largest N the latency was taken at."""
    places = [c.at for c in checks if c.name == P99]
    headline = [at for at in places if at.startswith("headline")]
    if headline:
        return headline[0]
    return max(places, key=lambda at: int(at.removeprefix("N=").replace(",", "")), default=None)


def machine_line(environment: Mapping[str, Any]) -> str:
    """The machine a time was taken on, as a reader weighs it."""
    server = environment.get("server") or {}
    version = str(server.get("version") or "PostgreSQL ?").split(" on ")[0]
    where = "embedded" if server.get("embedded") else "given by the environment"
    mhz = f" at {environment['cpu_mhz']:,} MHz" if environment.get("cpu_mhz") else ""
    return (
        f"{environment.get('cpu_model') or 'an unknown CPU'}{mhz}, {environment.get('cpu_count', '?')} CPUs, "
        f"{version} ({where})"
    )


def _latency(record: BenchRecord, checks: Sequence[Check]) -> list[str]:
    at = requirement_scope(checks)
    if at is None:
        return []
    here = {c.name: c for c in checks if c.at == at and not c.subject}
    p99 = here[P99]
    lines = [
        f"Latency at the requirement's scale ({at}): {p99.measured}, goal {p99.goal}: {p99.result.value}; "
        f"measured on {machine_line(record.environment)}{_assumed_settings(record)}. Times on a shared machine "
        "move by a third between runs: compare versions within one run."
    ]
    ratios = [
        f"{here[name].measured.split(' ')[0]} {label}"
        for name, label in (
            ("speedup over legacy", "faster than the legacy version"),
            ("speedup over the DISTINCT rewrite", "faster than the DISTINCT rewrite"),
            (SCAN_FLOOR, "the scan floor's median"),
        )
        if name in here
    ]
    if ratios:
        lines.append(f"There, in the same run: {', '.join(ratios)} (ratios of medians).")
    split = machine_split(checks, at)
    if split is not None:
        lines.append(split.sentence())
    lines += _capacity(checks, at)
    linear = next((c for c in checks if c.name == LINEAR), None)
    if linear is not None:
        lines.append(f"What reproduces on any machine: the optimized query's backend work is {linear.measured}.")
    return lines


VERDICT_SETTINGS = ("jit", "max_parallel_workers_per_gather", "random_page_cost")
"""The settings a verdict on latency assumes, named beside it: each changes what the optimized query costs."""


def _assumed_settings(record: BenchRecord) -> str:
    settings = {
        **record.environment.get("server", {}).get("settings", {}),
        **record.parameters.get("session_settings", {}),
    }
    named = [f"{name} = {settings[name]}" for name in VERDICT_SETTINGS if name in settings]
    return f" with {', '.join(named)}" if named else ""


def _capacity(checks: Sequence[Check], at: str) -> list[str]:
    """The p99 goal under concurrent calls, beside the scan floor's: what the machine allows at all."""
    found = {c.name: c for c in checks if c.at == at}
    after, floor = found.get(f"{CAPACITY}, after"), found.get(f"{CAPACITY}, scan_floor")
    if after is None:
        return []
    figures = after.figures
    interval = f"{figures['low']}–{figures['high']}" if figures["low"] != figures["high"] else f"{figures['low']}"
    line = (
        f"Under concurrent calls there: p99 {after.goal.removeprefix('p99 ')} {_holds(figures['clients'])} "
        f"(95% interval {interval}) on this machine; the optimized query serves at most "
        f"{figures['calls_per_second']:.1f} calls/s"
    )
    if floor is not None:
        rate = floor.figures["calls_per_second"]
        line += (
            f", {figures['calls_per_second'] / rate:.2f}× the scan floor's {rate:.1f} (the most any query reading "
            f"these rows serves here; its p99 {_holds(floor.figures['clients'])})"
        )
    return [line + "."]


def _holds(clients: int) -> str:
    if clients == 0:
        return "does not hold even for one call at a time"
    return f"holds up to {clients} concurrent call{'s' if clients > 1 else ''}"


def _targets(checks: Sequence[Check]) -> str:
    judged = [c for c in checks if c.result is not Result.INFO]
    failed = [c for c in judged if c.result is Result.FAIL]
    open_ = sum(c.result is Result.INCONCLUSIVE for c in judged)
    undecided = f"; {open_} inconclusive (interval across the goal)" if open_ else ""
    if not judged:
        return "No target was judged."
    if not failed:
        return f"Every judged target passes: {len(judged) - open_} of {len(judged)}{undecided}."
    named = [f"{c.name} at {c.at} ({c.measured.split(' (')[0]}; goal {c.goal})" for c in failed[:LISTED_FAILURES]]
    more = f", and {len(failed) - LISTED_FAILURES} more" if len(failed) > LISTED_FAILURES else ""
    return f"{len(failed)} of {len(judged)} targets fail{undecided}: {'; '.join(named)}{more}."
