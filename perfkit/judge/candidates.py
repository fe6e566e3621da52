"""A candidate's verdict: parity with the legacy version (or the refusal), then its bench checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from perfkit.judge.outcome import Check, Result

PARITY = "parity with the legacy version"
SPEED = "candidate / optimized (median)"


def parity_check(candidate: str, *, users: int = 0, refusal: str = "") -> Check:
    """PASS when every user agreed; FAIL with the refusal (the first difference, or what failed)."""
    if refusal:
        return Check(PARITY, "every user agrees", f"refused: {refusal}", Result.FAIL, subject=candidate)
    measured = f"agrees with the legacy version for all {users} users"
    return Check(PARITY, "every user agrees", measured, Result.PASS, subject=candidate, figures={"users": users})


@dataclass
class CandidateOutcome:
    """One candidate tried: its parity check first, then the checks of its bench run, if it had one."""

    candidate: str
    description: str
    checks: list[Check] = field(default_factory=list)
    directory: str = ""

    @property
    def refused(self) -> bool:
        return any(check.name == PARITY and check.result is Result.FAIL for check in self.checks)

    @property
    def parity(self) -> str:
        return next((check.measured for check in self.checks if check.name == PARITY), "not checked")

    def to_json(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "description": self.description,
            "checks": [check.to_json() for check in self.checks],
            "directory": self.directory,
        }

    @classmethod
    def from_json(cls, document: dict[str, Any]) -> CandidateOutcome:
        checks = [Check.from_json(check) for check in document["checks"]]
        return cls(document["candidate"], document["description"], checks, document["directory"])
