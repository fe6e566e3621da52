"""report.html: the report as one self-contained page a reviewer opens in a browser.

Figures are embedded (PNG as data URIs), tables are rendered by pandas, executed notebooks by
nbconvert without their code cells; no script and no resource comes from outside the file.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from evaluation.checks import Check, checks_frame
from evaluation.outputs import write_new

RESULT_COLOURS = {"pass": "#d5f5e3", "FAIL": "#f5b7b1", "inconclusive": "#fcf3cf", "info": ""}
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.5em; text-align: left; vertical-align: top; }
th { background: #f4f6f7; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
section.notebook { border-top: 2px solid #ccc; margin-top: 2em; }
.note { color: #555; }
"""


def table_html(frame: pd.DataFrame, *, result_column: str | None = None) -> str:
    """A DataFrame as an HTML table; rows coloured by their result when there is one."""
    if frame.empty:
        return '<p class="note">(no data)</p>'
    styler = frame.style.hide(axis="index")
    if result_column is not None:

        def paint(row: pd.Series) -> list[str]:
            colour = RESULT_COLOURS.get(str(row[result_column]), "")
            return [f"background-color: {colour}" if colour else ""] * len(row)

        styler = styler.apply(paint, axis=1)
    return str(styler.to_html())


def image_html(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def notebook_html(path: Path) -> str:
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


def render_page(title: str, sections: Sequence[tuple[str, str]]) -> str:
    """The page: a title and (heading, HTML) sections, in order."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for heading, content in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>\n{content}" if heading else content)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def checks_html(checks: Sequence[Check]) -> str:
    return table_html(checks_frame(checks), result_column="result") if checks else '<p class="note">No targets.</p>'


def paragraphs(lines: Sequence[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(line)}</li>" for line in lines) + "</ul>"


def link(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def write_page(path: Path, title: str, sections: Sequence[tuple[str, str]]) -> Path:
    return write_new(path, render_page(title, sections))


def figures_html(directory: Path, stems: Sequence[str]) -> str:
    return "\n".join(
        image_html(directory / f"{stem}.png", stem) for stem in stems if (directory / f"{stem}.png").exists()
    )
