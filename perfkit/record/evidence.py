"""The curated evidence: the small, readable part of a report that README and the trajectory cite.

Reports stay out of git (they hold memray captures and executed notebooks); a copy of their
text, data and PNG figures, with every path relative to the report, is what gets committed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

from perfkit.errors import ConfigurationError
from perfkit.paths import EVIDENCE_DIR, unwritable
from perfkit.record.format import read_record
from perfkit.record.runs import INCOMPLETE, write_new

KEPT_SUFFIXES = (".md", ".json", ".csv", ".png")
"""Kept, PNG figures re-encoded with a palette and JSON records without indentation."""
RAW_FIELDS = {"load.json": ("runs",), "results.json": ("plans",)}
"""Fields left out of a kept record: every request and RSS sample of the load test (its summaries and checks
stay), and the raw EXPLAIN of every plan a bench captured (the page draws them and report.md tables them;
the serial plans, which `diff` compares, stay)."""
MAX_EVIDENCE_BYTES = 2 * 1024 * 1024


def kept(path: Path, report: Path) -> bool:
    """Text, data and PNG figures; of each candidate's run only its summary.md (its verdicts)."""
    parts = path.relative_to(report).parts
    if any(part.startswith("try-") for part in parts[:-1]):
        return path.name == "summary.md"
    return path.suffix in KEPT_SUFFIXES


MAX_PAGE_BYTES = 1024 * 1024
"""The slim report.html a reader opens without running anything: its figures embedded, no notebooks."""


def curate(report: Path, into: Path = EVIDENCE_DIR, *, page: str | None = None) -> Path:
    """Copy the kept files of ``report`` into ``into/<report name>/``, with ``page`` (the report's slim
    HTML page, rendered by the caller) as its report.html; return that directory."""
    report = report.resolve()
    if not (report / "report.json").is_file():
        raise ConfigurationError(f"{report} is not a report directory (no report.json): give one `make report` wrote")
    read_record(report / "report.json", "report")  # refuses what this kit cannot read
    if (report / INCOMPLETE).exists():
        raise ConfigurationError(
            f"{report} did not finish (it holds {INCOMPLETE}): curate a report that ran to the end"
        )
    target = into.resolve() / report.name
    if target.exists():
        raise ConfigurationError(f"{target} exists already; remove it first to curate {report.name} again")
    chosen = [p for p in sorted(report.rglob("*")) if p.is_file() and kept(p, report)]
    left_out = sorted({p.suffix or p.name for p in report.rglob("*") if p.is_file() and p not in chosen})
    page_bytes = len(page.encode()) if page is not None else 0
    if page_bytes > MAX_PAGE_BYTES:
        raise ConfigurationError(
            f"{report.name}'s slim page would be {page_bytes / 1024 / 1024:.1f} MB (limit "
            f"{MAX_PAGE_BYTES / 1024 / 1024:.0f} MB): curate a report with fewer figures"
        )
    contents = {path.relative_to(report): _compacted(path, report) for path in chosen}
    size = sum(len(data) for data in contents.values()) + page_bytes  # what the tree will hold
    if size > MAX_EVIDENCE_BYTES:
        raise ConfigurationError(
            f"{report.name} would add {size / 1024 / 1024:.1f} MB of evidence (limit "
            f"{MAX_EVIDENCE_BYTES / 1024 / 1024:.0f} MB): curate a report of a smaller run"
        )
    partial = target.parent / f".{target.name}.partial-{os.getpid()}"
    try:
        with unwritable(partial):
            _copy(report, contents, partial, page, size, left_out)
            partial.rename(target)  # the curated folder appears whole, or not at all
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def compact_png(path: Path) -> bytes:
    """A figure re-encoded with a palette of 128 colours: a third of its size, as legible."""
    return compact_png_bytes(path.read_bytes())


def compact_png_bytes(data: bytes) -> bytes:
    """`compact_png` of a PNG held in memory (a notebook's figure); what is not a PNG is kept as it is."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            reduced = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    except UnidentifiedImageError:
        return data  # not a figure the kit drew: kept as it is
    buffer = io.BytesIO()
    reduced.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def compact_json(text: str, raw: tuple[str, ...] = ()) -> str:
    """A record without its indentation, and without its ``raw`` fields: read the same way, in less space."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return text  # not the kit's record: kept as it is
    if isinstance(document, dict):
        for name in raw:
            document.pop(name, None)
    return json.dumps(document, separators=(",", ":"), allow_nan=True) + "\n"


def _compacted(path: Path, report: Path) -> bytes:
    """A kept file as the evidence holds it: PNGs re-encoded, records without indentation, and paths
    inside the report relative to it (the machine that ran it is not the reader's)."""
    if path.suffix == ".png":
        return compact_png(path)
    try:
        text = path.read_text(encoding="utf-8").replace(f"{report}/", "")
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path} is not UTF-8 text: a report's files are the kit's own") from None
    if path.suffix == ".json":
        text = compact_json(text, RAW_FIELDS.get(path.name, ()))
    return text.encode("utf-8")


def _copy(
    report: Path, contents: dict[Path, bytes], into: Path, page: str | None, size: int, left_out: list[str]
) -> None:
    """The kept files, the page and CURATED.md, into a folder that is renamed only once all are there."""
    for relative, data in contents.items():
        destination = into / relative
        with unwritable(destination):
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(data)
    page_said = ""
    if page is not None:
        write_new(into / "report.html", page)
        page_said = " report.html here is the slim page: the report without its executed notebooks."
    write_new(
        into / "CURATED.md",
        f"Curated from report `{report.name}` by `python -m evaluation evidence`: its Markdown, JSON, CSV and PNG "
        f"files, and the summary.md of each candidate's run ({size / 1024:,.0f} KB).{page_said} Left out "
        f"(regenerated by `make report`): {', '.join(left_out) or 'nothing'}: the full report.html with the "
        "executed notebooks, SVG figures, "
        "memray captures and flamegraphs, the load test's raw samples, the candidates' raw records; links to them "
        "here do not resolve.\n",
    )
