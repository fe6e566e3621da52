"""The kit's terms, one line each, shown on every report page and in README (the same text, generated),
after the terms of the subject measured (its ``[[glossary]]``)."""

from __future__ import annotations

from collections.abc import Sequence

from perfkit.measure.scenario import PLAN_CACHE_WARMUP
from perfkit.measure.timing import MEDIAN_PRECISION
from perfkit.subject import load_subject

GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "pooled call",
        f"a call on a long-lived connection that has already served {PLAN_CACHE_WARMUP} calls, past "
        f"psycopg's preparation and PostgreSQL's custom/generic plan choice, as in production.",
    ),
    (
        "first call",
        "the first call on a new connection (`after@fresh`): no prepared statement, no plan cache; its own scope.",
    ),
    (
        "custom / generic plan",
        "a plan made for this key's value, or one plan reused for every value once PostgreSQL's plan "
        "cache switched; the kit records which one was timed.",
    ),
    (
        "forced alternative",
        "the same query on a connection where a family of plans is switched off (`[no_seqscan]`, "
        "`[no_index]`, `[serial]`), to time the plans the planner did not choose, or where JIT compiles "
        "the plan at PostgreSQL's default thresholds (`[jit]`, on a server that has a JIT provider).",
    ),
    (
        "plan regret",
        "the chosen plan's median over the fastest different plan among the forced alternatives: above 1,"
        " the planner missed a faster plan.",
    ),
    (
        "serial plan",
        "the plan run once more with parallelism off under `EXPLAIN (ANALYZE, BUFFERS)`: its blocks, "
        "removed rows and shape do not depend on the machine.",
    ),
    (
        "instructions per row",
        "backend instructions of one warm call counted under valgrind, divided by N (per event, per invoice, as "
        "the subject names its rows); two runs agree to "
        "about one part in ten thousand on any machine, where times move by a third.",
    ),
    (
        "under concurrent calls",
        "c closed-loop clients, each on a long-lived connection, calling back to back; a call counts when "
        "every client was calling throughout it. Calls per second = c / mean latency (Little's law).",
    ),
    (
        "capacity",
        "the most concurrent clients at which a variant's p99 stays under the subject's p99 goal, counting up "
        "from one, with the interval its p99s' intervals allow; the scan floor's is the most any query "
        "reading these rows can reach on that machine.",
    ),
    (
        "server CPU per call",
        "the server processes' CPU time over the concurrent bursts (parallel workers included) over the "
        "calls made: the work that load pays, where one idle call's latency shows what parallelism gains.",
    ),
    (
        "inconclusive",
        "the 95% interval of a figure straddles its goal (for example a p99 interval across the p99 goal): "
        "more samples or a quieter machine would decide it.",
    ),
    (
        "stopped",
        "why the sampling of a variant ended: `decided` (the interval of its median's ratio to the "
        "variant it is judged against lies on one side of its goal: more samples would not change the "
        "verdict), `settled` (the 95% interval of its median within ±"
        f"{MEDIAN_PRECISION:.0%} of it), `max samples` (the most its "
        "plan allows; the optimized version takes 100 at every N for a real p99) or `time budget`.",
    ),
    (
        "p99 (n=…)",
        "a percentile carries its sample count; with fewer than 100 samples a p99 is the maximum observed"
        " and says so (`unsupported`).",
    ),
)


def glossary(subject_terms: Sequence[Sequence[str]]) -> tuple[tuple[str, str], ...]:
    """The subject's terms, then the kit's."""
    return (*((str(term), str(meaning)) for term, meaning in subject_terms), *GLOSSARY)


def glossary_markdown() -> str:
    """README's glossary block: the default subject's terms and the kit's, one bullet per term."""
    terms = glossary(load_subject().glossary)
    return "".join(f"- **{term}**: {meaning}\n" for term, meaning in terms)
