"""How the kit judges, declared once: the statistics behind every verdict. What is judged, and against
which thresholds, is the subject's (`perfkit.subject.GOALS`, read from a record by `BenchRecord.goals`)."""

from __future__ import annotations

P99_CONFIDENCE = 0.95
"""A p99 whose bootstrap interval at this level straddles the goal is ``inconclusive``."""

FLAT_SLOPE = 0.1
"""A log-log slope this close to 0 means "does not grow with N" over the measured range."""

NOISE_BAND = 0.50
"""Between two runs on this shared machine, a ratio of medians of a few milliseconds drifts by up to
about this much with no change to the code: two quick reports in a row, alone on the machine, showed
after / scan_floor at N = 30,000 move by 1.56x, the floor's whole family of plans together. The
samples of one run cannot see that, so a ratio's change counts only when its whole interval lies
beyond this band: statistically and practically significant."""

LINEAR_R_SQUARED = 0.99
"""Backend instructions against N lie on a line at least this well: one more event costs the same."""
MIN_LINEAR_SIZES = 3
"""Two points always lie on a line: linearity is shown from three sizes."""
INSTRUCTION_THRESHOLD_PERCENT = 1.0
"""A backend instruction count that moves by more than this between two runs has changed (two counts
of one call differ by about 0.003%)."""
