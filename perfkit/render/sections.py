"""Pages as data: a page is a title and `Section` objects made of blocks, rendered once as Markdown
(report.md, summary.md, diff.md) and once as HTML (report.html) by the two functions at the end.

The HTML page is self-contained: figures are embedded as PNG data URIs, tables are rendered by
pandas, executed notebooks by nbconvert without their code cells; nothing comes from outside the file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from perfkit.record.runs import write_new
from perfkit.render.plantree import PLAN_STYLE, DrawnPlan, tree_html, tree_text
from perfkit.render.tables import markdown_table


@dataclass(frozen=True)
class Text:
    """Lines of prose: a bulleted list, or paragraphs when ``bullets`` is false."""

    lines: Sequence[str]
    bullets: bool = True


@dataclass(frozen=True)
class Table:
    """A DataFrame; in HTML its rows are coloured by ``result_column`` when there is one."""

    frame: pd.DataFrame
    result_column: str | None = None
    empty: str = "(no data)"


@dataclass(frozen=True)
class Figures:
    """PNG figures ``stems`` of ``directory``, linked as ``relative/<stem>.png`` in Markdown, embedded in HTML."""

    directory: Path
    relative: Path
    stems: Sequence[str]

    def present(self) -> list[str]:
        return [stem for stem in self.stems if (self.directory / f"{stem}.png").exists()]


@dataclass(frozen=True)
class Links:
    links: Sequence[tuple[str, str]]  # (href, text)


@dataclass(frozen=True)
class Notebook:
    """An executed notebook, embedded in HTML (outputs only); Markdown links to it from a table instead."""

    path: Path


@dataclass(frozen=True)
class Terms:
    """Definitions, term by term (a glossary)."""

    entries: Sequence[tuple[str, str]]


@dataclass(frozen=True)
class Plans:
    """Plans drawn as trees, side by side in HTML, one after the other in Markdown."""

    drawn: Sequence[DrawnPlan]
    heading: str = ""


@dataclass(frozen=True)
class Collapsed:
    """Blocks a reader opens when they need them (``<details>`` in HTML; a sub-heading in Markdown)."""

    summary: str
    blocks: Sequence[Text | Table | Figures | Links | Plans]


Block = Text | Table | Figures | Links | Notebook | Terms | Plans | Collapsed


@dataclass(frozen=True)
class Section:
    heading: str  # empty: the page's opening lines
    blocks: Sequence[Block] = field(default_factory=list)


# --- Markdown ---------------------------------------------------------------------------------


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    lines = [f"# {title}", ""]
    for section in sections:
        parts = [text for block in section.blocks if (text := _markdown_block(block))]
        if not parts:
            continue
        if section.heading:
            lines += [f"## {section.heading}", ""]
        for part in parts:
            lines += [part, ""]
    return "\n".join(lines).rstrip() + "\n"


def _markdown_block(block: Block) -> str:
    match block:
        case Text(lines, bullets):
            return "\n".join(f"- {line}" for line in lines) if bullets else "\n\n".join(lines)
        case Table(frame, _, empty):
            return markdown_table(frame) if not frame.empty else empty
        case Figures():
            return "\n".join(f"![{stem}]({block.relative}/{stem}.png)" for stem in block.present())
        case Links(links):
            return " · ".join(f"[{text}]({href})" for href, text in links)
        case Notebook():
            return ""
        case Terms(entries):
            return "\n".join(f"- **{term}**: {meaning}" for term, meaning in entries)
        case Plans(drawn, heading):
            trees = [f"{plan.variant} ({plan.caption}):\n\n```\n{tree_text(plan)}\n```" for plan in drawn]
            return "\n\n".join(([f"**{heading}**"] if heading else []) + trees)
        case Collapsed(summary, blocks):
            inner = [text for inner in blocks if (text := _markdown_block(inner))]
            return "\n\n".join([f"**{summary}**", *inner]) if inner else ""
    raise TypeError(f"not a block: {block!r}")


# --- HTML -------------------------------------------------------------------------------------

RESULT_COLOURS = {"pass": "#d5f5e3", "FAIL": "#f5b7b1", "inconclusive": "#fcf3cf", "info": ""}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f6f7; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
section.notebook { border-top: 2px solid #ccc; margin-top: 2em; }
.note { color: #555; }
ul.verdict li { font-size: 1.05em; margin: 0.25em 0; }
dl.glossary dt { font-weight: 600; margin-top: 0.4em; }
dl.glossary dd { margin-left: 1.5em; color: #333; }
"""


def to_html(title: str, sections: Sequence[Section], *, link_figures: bool = False) -> str:
    """The page, its figures embedded; with ``link_figures`` they are linked by their path relative
    to the page instead (the slim page kept beside its figures in the evidence)."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}{PLAN_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for section in sections:
        body = "\n".join(text for block in section.blocks if (text := _html_block(block, link_figures)))
        if not body:
            continue
        parts.append(f"<h2>{html.escape(section.heading)}</h2>\n{body}" if section.heading else body)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_block(block: Block, link: bool = False) -> str:
    match block:
        case Text(lines, bullets):
            if not lines:
                return ""
            if bullets:
                return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"
            return "".join(f'<p class="note">{html.escape(line)}</p>' for line in lines)
        case Table(frame, result_column, empty):
            return _table_html(frame, result_column) if not frame.empty else f'<p class="note">{html.escape(empty)}</p>'
        case Figures():
            if link:
                return "\n".join(
                    f'<img alt="{html.escape(stem)}" src="{html.escape(f"{block.relative}/{stem}.png")}">'
                    for stem in block.present()
                )
            return "\n".join(_image_html(block.directory / f"{stem}.png", stem) for stem in block.present())
        case Links(links):
            anchors = (f'<a href="{html.escape(href)}">{html.escape(text)}</a>' for href, text in links)
            return "<p>" + " · ".join(anchors) + "</p>"
        case Notebook(path):
            return f'<section class="notebook">{_notebook_html(path)}</section>' if path.is_file() else ""
        case Terms(entries):
            items = "".join(f"<dt>{html.escape(t)}</dt><dd>{html.escape(m)}</dd>" for t, m in entries)
            return f'<dl class="glossary">{items}</dl>'
        case Plans(drawn, heading):
            title = f"<h3>{html.escape(heading)}</h3>" if heading else ""
            return title + '<div class="plans">' + "".join(tree_html(plan) for plan in drawn) + "</div>"
        case Collapsed(summary, blocks):
            inner = "\n".join(text for inner in blocks if (text := _html_block(inner, link)))
            return f"<details><summary>{html.escape(summary)}</summary>{inner}</details>" if inner else ""
    raise TypeError(f"not a block: {block!r}")


def _table_html(frame: pd.DataFrame, result_column: str | None) -> str:
    styler = frame.style.hide(axis="index")
    if result_column is not None:

        def paint(row: pd.Series) -> list[str]:
            colour = RESULT_COLOURS.get(str(row[result_column]), "")
            return [f"background-color: {colour}" if colour else ""] * len(row)

        styler = styler.apply(paint, axis=1)
    return str(styler.to_html())


def _image_html(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _notebook_html(path: Path) -> str:
    """An executed notebook, outputs only (its code cells left out)."""
    import nbformat
    from nbconvert import HTMLExporter

    # nbconvert and nbformat declare no types for these two calls.
    exporter = HTMLExporter(  # type: ignore[no-untyped-call]
        template_name="basic", exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True
    )
    notebook = nbformat.read(path, as_version=4)  # type: ignore[no-untyped-call]
    body, _ = exporter.from_notebook_node(notebook)
    return str(body)


def write_pages(directory: Path, stem: str, title: str, sections: Sequence[Section]) -> dict[str, Path]:
    """``<stem>.md`` and ``<stem>.html`` of the same sections; never overwrites."""
    return {
        "markdown": write_new(directory / f"{stem}.md", to_markdown(title, sections)),
        "html": write_new(directory / f"{stem}.html", to_html(title, sections)),
    }
