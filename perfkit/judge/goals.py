"""Every goal the kit judges, declared once: checks, figures and text all read them from here."""

from __future__ import annotations

P99_LIMIT_MS = 200.0
"""p99 latency of the optimized version, at the headline scenario."""

RSS_LIMIT_MB = 128.0
"""Resident memory of a process serving the optimized version."""

MIN_MEMORY_REDUCTION = 0.80
"""Peak memory of one optimized call against one legacy call, at every N from ``REDUCTION_FROM_N``."""
REDUCTION_FROM_N = 100_000

MIN_SPEEDUP_VS_LEGACY = 30.0
LEGACY_FROM_N = 100_000
MIN_SPEEDUP_VS_DISTINCT = 2.0
DISTINCT_FROM_N = 10_000
"""Ratios of medians, judged at every N from these sizes (information below them)."""

SCAN_FLOOR_RATIO_LIMIT = 1.5
"""Optimized median over the cheapest way to read the user's rows (count(metadata) under its best plan)."""

MIN_THROUGHPUT_VS_SCAN_FLOOR = 0.8
"""Under concurrent calls the cores are the limit, so calls per second measure the work of one call:
the optimized query's most calls per second over the scan floor's (count(metadata), the least work that
reads the user's rows). At 0.8 the query adds a quarter to the cost of reading the rows at all."""

MAX_PLAN_REGRET = 1.2
"""Median of the plan the planner chose over the median of the best forced alternative (embedded server)."""

P99_CONFIDENCE = 0.95
"""A p99 whose bootstrap interval at this level straddles the goal is ``inconclusive``."""

MAX_MEMORY_GROWTH_MB = 4.0
"""Growth of the optimized call's memray peak from the smallest to the largest N."""
FLAT_SLOPE = 0.1
"""A log-log slope this close to 0 means "does not grow with N" over the measured range."""

TARGET_N = 1_000_000
"""The size the requirement is stated for."""
WARM_GROWTH_LIMIT_MB = 8.0
"""Load test: RSS growth of the optimized server once warm."""
ATTRIBUTABLE_LIMIT_MB = 1.0
"""Load test: optimized RSS explained by the events in flight (slope × observed range)."""
LEGACY_VISIBLE_GROWTH_MB = 20.0
"""Load test: the legacy server's RSS must rise at least this far above the optimized one's."""

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
MAX_CLIENT_INSTRUCTIONS_PER_EVENT = 50
"""Client instructions one more event may add to the optimized call: less than one iteration of a
Python loop (a few bytecodes, each tens of instructions). The legacy version adds about 60,000; the
optimized call's own count moves by some 30,000 from call to call (the allocator's pools), which is
15 per event over the quick bench's 2,000-event span."""
