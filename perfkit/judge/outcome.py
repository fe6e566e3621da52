"""The kit's one judging type: a `Check` of one target, requirement or candidate, with a `Result`."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Result(StrEnum):
    """What a check concluded. ``INFO`` rows are evidence, not targets; ``INCONCLUSIVE`` means the
    measurement's confidence interval straddles the goal."""

    PASS = "pass"
    FAIL = "FAIL"
    INCONCLUSIVE = "inconclusive"
    INFO = "info"

    @classmethod
    def of(cls, passed: bool | None) -> Result:
        """``True`` passes, ``False`` fails, ``None`` (not judged) is information."""
        return {True: cls.PASS, False: cls.FAIL, None: cls.INFO}[passed]


JUDGED = (Result.PASS, Result.FAIL, Result.INCONCLUSIVE)
"""The results that count as a verdict on a target (``INFO`` does not)."""


@dataclass(frozen=True)
class Check:
    """One check at one place (``at``, e.g. ``N=10,000``) of one ``subject`` (an implementation or a
    candidate; empty for the optimized version), with the figures behind ``measured`` when a reader
    or a harness needs them as numbers."""

    name: str
    goal: str
    measured: str
    result: Result
    note: str = ""
    at: str = ""
    subject: str = ""
    figures: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def judged(
        cls,
        name: str,
        goal: str,
        measured: str,
        passed: bool | None,
        note: str = "",
        at: str = "",
        **extra: Any,
    ) -> Check:
        return cls(name, goal, measured, Result.of(passed), note, at, **extra)

    @property
    def passed(self) -> bool | None:
        return {Result.PASS: True, Result.FAIL: False}.get(self.result)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "goal": self.goal,
            "measured": self.measured,
            "result": self.result.value,
            "note": self.note,
            "at": self.at,
            "subject": self.subject,
            "figures": self.figures,
            "passed": self.passed,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> Check:
        """A check as `to_json` wrote it; records of schema 2 had no subject and no figures."""
        return cls(
            document["name"],
            document["goal"],
            document["measured"],
            Result(document["result"]),
            document.get("note", ""),
            document.get("at", ""),
            document.get("subject", ""),
            document.get("figures", {}),
        )


def tally(checks: list[Check]) -> dict[Result, int]:
    """How many checks reached each verdict (information rows left out)."""
    return {result: sum(check.result is result for check in checks) for result in JUDGED}
