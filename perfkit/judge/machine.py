"""The machine apart from the query: what one run's machine needed just to read the rows (the scan
floor) and what the query adds on top, so that a latency verdict says which of the two decided it.

A p99 goal missed on a machine that needs 171.6 ms to read the rows says little about the query; the
same query's ratio to its floor says what a machine must manage for the goal to hold.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from perfkit.judge.bench import P99, SCAN_FLOOR
from perfkit.judge.outcome import Check

_FIRST_MS = re.compile(r"^([\d,]+(?:\.\d+)?) ms")
_GOAL_MS = re.compile(r"< ?([\d,]+(?:\.\d+)?) ms")
_FLOOR = re.compile(r"\((?P<name>[^:()]+(?:\[[^\]]+\])?): (?P<ms>[\d,]+(?:\.\d+)?) ms\)")


@dataclass(frozen=True)
class MachineSplit:
    """At one place of one run: the optimized p99 and its goal, and the scan floor's median (and p99
    where the run kept it), all in milliseconds."""

    at: str
    goal_ms: float
    p99_ms: float
    floor: str
    floor_median_ms: float
    floor_p99: str | None = None  # "max (n=40): 130.1 ms", as measured, where the run kept it

    @property
    def query_ratio(self) -> float:
        """The query's p99 over the floor's median: what the query adds on top of reading the rows."""
        return self.p99_ms / self.floor_median_ms

    @property
    def needed_floor_ms(self) -> float:
        """The scan floor's median under which the p99 goal holds, at this run's ratio."""
        return self.goal_ms / self.query_ratio

    @property
    def machine_suffices(self) -> bool:
        return self.floor_median_ms < self.needed_floor_ms

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "query_ratio": self.query_ratio,
            "needed_floor_ms": self.needed_floor_ms,
            "machine_suffices": self.machine_suffices,
        }

    def sentence(self) -> str:
        floor_p99 = f"; {self.floor_p99}" if self.floor_p99 else ""
        margin = self.floor_median_ms / self.needed_floor_ms
        verdict = (
            f"this machine is within it ({1 / margin:.2f}× to spare)"
            if self.machine_suffices
            else f"this machine is {margin:.2f}× too slow for it"
        )
        return (
            f"Machine or query: on this machine, reading the rows alone (the scan floor, {self.floor}) took "
            f"{self.floor_median_ms:,.1f} ms (median{floor_p99}); the optimized query's p99 was "
            f"{self.query_ratio:.2f}× that, so p99 < {self.goal_ms:g} ms needs a machine that reads them in under "
            f"{self.needed_floor_ms:,.1f} ms: {verdict}."
        )


def machine_split(checks: Sequence[Check], at: str) -> MachineSplit | None:
    """The split at ``at``, from the checks' figures, or from their text in records written before the
    figures were kept (the one place that reads them so)."""
    here = {c.name: c for c in checks if c.at == at and not c.subject}
    p99, floor = here.get(P99), here.get(SCAN_FLOOR)
    if p99 is None or floor is None:
        return None
    p99_ms = measured_p99_ms(p99)
    goal_ms = p99.figures.get("goal_ms") or _number(_GOAL_MS, p99.goal)
    named = _FLOOR.search(floor.measured)
    floor_ms = floor.figures.get("floor_median_ms") or (_number(_FLOOR, floor.measured, "ms") if named else None)
    name = floor.figures.get("floor") or (named["name"] if named else None)
    if not (p99_ms and goal_ms and floor_ms and name):
        return None
    return MachineSplit(at, float(goal_ms), float(p99_ms), str(name), float(floor_ms), floor.figures.get("floor_p99"))


def measured_p99_ms(check: Check) -> float | None:
    """A p99 check's figure in milliseconds, kept with it or read from its text (older records)."""
    return check.figures.get("p99_ms") or _number(_FIRST_MS, check.measured)


def _number(pattern: re.Pattern[str], text: str, group: str | int = 1) -> float | None:
    found = pattern.search(text)
    return float(found[group].replace(",", "")) if found else None
