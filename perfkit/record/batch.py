"""What a batch of notebooks left: each notebook's outcome, and the outputs it declared in its manifest."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class NotebookOutcome:
    name: str
    executed: str
    parameters: dict[str, Any]
    seconds: float = 0.0
    ok: bool = False
    error: dict[str, Any] | None = None
    outputs: dict[str, str] = field(default_factory=dict)  # from the notebook's manifest: kind -> absolute path

    @property
    def error_line(self) -> str:
        if self.error is None:
            return ""
        cell = self.error.get("cell_index")
        where = f"cell {cell}" if cell is not None else "before any cell ran"
        error = f"{self.error.get('ename')}: {self.error.get('evalue')}"
        return f"{self.name}: {where}: {error} (see {self.executed})"


@dataclass
class BatchRun:
    directory: Path
    quick: bool
    outcomes: list[NotebookOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[NotebookOutcome]:
        return [outcome for outcome in self.outcomes if not outcome.ok]

    def outcomes_json(self) -> list[dict[str, Any]]:
        """Each notebook's outcome, its paths relative to the report directory."""
        return [
            {
                **asdict(outcome),
                "executed": _relative(outcome.executed, self.directory),
                "parameters": {k: v for k, v in outcome.parameters.items() if k != "output_dir"},
                "outputs": {kind: _relative(path, self.directory) for kind, path in outcome.outputs.items()},
            }
            for outcome in self.outcomes
        ]


def _relative(path: str, directory: Path) -> str:
    return str(Path(path).relative_to(directory))
