"""Stage 5, render: what a reader sees.

Enters: records, checks and measurements.
Leaves: Markdown and HTML built from the same section objects, figures, tables, summary.md,
report.md and report.html, the diff of two runs, README's results table and the patch.
Nothing here measures or connects.
"""
