"""patches/diff.patch: the change under review, from repository_before/ to repository_after/."""

from __future__ import annotations

import difflib
from pathlib import Path

from perfkit.paths import PATCH, PROJECT_ROOT, unwritable

_BEFORE, _AFTER = "repository_before", "repository_after"


def render_patch(root: Path = PROJECT_ROOT) -> str:
    """A unified diff of every .py file of the two folders, as ``git diff`` names them (a/, b/)."""
    names = sorted({p.name for folder in (_BEFORE, _AFTER) for p in (root / folder).glob("*.py")})
    chunks = []
    for name in names:
        old, new = root / _BEFORE / name, root / _AFTER / name
        old_lines = old.read_text().splitlines(keepends=True) if old.exists() else []
        new_lines = new.read_text().splitlines(keepends=True) if new.exists() else []
        diff = difflib.unified_diff(
            old_lines,
            new_lines,
            fromfile=f"a/{_BEFORE}/{name}" if old.exists() else "/dev/null",
            tofile=f"b/{_AFTER}/{name}" if new.exists() else "/dev/null",
        )
        chunks.append("".join(diff))
    return "".join(chunks)


def write_patch(path: Path = PATCH) -> Path:
    with unwritable(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_patch())
    return path
