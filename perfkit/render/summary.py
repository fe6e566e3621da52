"""summary.md of a bench run: the target table first, then the tables, plans and figures behind it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from perfkit.judge.bench import growth_verdict
from perfkit.judge.outcome import Check
from perfkit.measure.results import MB, BenchRecord, latency_table, memory_table
from perfkit.render.sections import Links, Section, Table, Text, to_markdown
from perfkit.render.tables import (
    checks_frame,
    concurrency_table,
    instructions_table,
    plans_table,
    profile_table,
    serial_plans_table,
)

LATENCY_SUMMARY_COLUMNS = [
    "scope",
    "connection",
    "variant",
    "n",
    "samples",
    "stopped",
    "median_ms",
    "p95_ms",
    "p99_ms",
    "p99_label",
]
CONCURRENCY_NOTE = (
    "Each client calls back to back on a connection of its own; a call counts when it starts within a burst's "
    "window, and every client keeps calling until the last counted call returns, so each counted call ran with "
    "all clients busy. Calls per second = clients / mean latency (Little's law). Server CPU per call: the "
    "server's processes' CPU time over the bursts, parallel workers included, over the calls made."
)
PLANS_NOTE = (
    "Captured on each variant's own connection after its samples (`EXPLAIN (ANALYZE, BUFFERS)` through the "
    "same path: `EXECUTE` of the prepared statement where psycopg prepared one). `changed` names a plan "
    "whose shape differed before the samples."
)


def run_header(record: BenchRecord) -> str:
    params, env = record.parameters, record.environment
    server = env.get("server", {})
    return (
        f"Run {record.created_at}{'' if record.complete else ' — INCOMPLETE: the run stopped early'}; "
        f"commit {str(env.get('git_commit'))[:12]}; {env.get('cpu_count')} CPUs"
        + (f" ({env['cpu_model']})" if env.get("cpu_model") else "")
        + "; "
        f"{str(server.get('version', '')).split(' on ')[0]} "
        f"({'embedded' if server.get('embedded') else 'a server the environment names'}); "
        f"settings {', '.join(f'{k}={v}' for k, v in server.get('settings', {}).items())}; "
        f"instance {params.get('instance')} ({'quick' if params.get('quick') else 'full'})."
        + (
            " Time taken: "
            + ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in record.phase_seconds.items())
            + "."
            if record.phase_seconds
            else ""
        )
    )


def counting_line(record: BenchRecord) -> str:
    """How the instructions were counted, or why they were not."""
    counting = record.counting
    if not counting:
        return "Not counted."
    if "unavailable" in counting:
        return f"Not counted: {counting['unavailable']}."
    return (
        f"Backend: a single-user {counting.get('server_version', '?')} on a copy of the dataset, serial, JIT off, "
        f"the timed sessions' planner settings; each call run twice, the second counted. Client: Python, psycopg "
        f"and libpq in a fresh interpreter, hash randomization fixed, at N in {counting.get('client_sizes')}. "
        f"Profile: the optimized call at its largest counted N "
        f"({counting.get('profile_capture', 'not kept')}, for callgrind_annotate or KCachegrind)."
    )


def memory_fit_lines(record: BenchRecord) -> list[str]:
    lines = []
    for implementation in ("before", "after"):
        fit = record.memory_fit(implementation)
        if fit is not None:
            lines.append(
                f"{implementation}: slope {fit.slope:+.3f}, R² {fit.r_squared:.3f}, "
                f"growth {fit.growth / MB:+.2f} MB: **{growth_verdict(fit)}**"
            )
    return lines


def summary_sections(record: BenchRecord, checks: Sequence[Check], figures: Mapping[str, str]) -> list[Section]:
    sections = [
        Section("", [Text([run_header(record)], bullets=False)]),
        Section("Targets", [Table(checks_frame(checks))]),
        Section(
            "Latency (ms; percentiles labelled with their sample counts)",
            [Table(latency_table(record)[LATENCY_SUMMARY_COLUMNS])],
        ),
        Section(
            "Under concurrent calls (closed-loop clients on long-lived connections; machine-dependent)",
            [Text([CONCURRENCY_NOTE], bullets=False), Table(concurrency_table(record), empty="Not measured.")],
        ),
        Section("Memory of one call (fresh process, memray with native traces)", [Table(memory_table(record))]),
        Section("Scaling of peak memory with N (log-log fit)", [Text(memory_fit_lines(record))]),
        Section("Plans that ran", [Text([PLANS_NOTE], bullets=False), Table(plans_table(record))]),
        Section(
            "Instructions of one warm call, in millions (valgrind: the same on any machine)",
            [
                Text([counting_line(record)], bullets=False),
                Table(instructions_table(record), empty="Not counted."),
                Table(profile_table(record), empty=""),
            ],
        ),
        Section(
            "Serial plans: what each reads (EXPLAIN ANALYZE, BUFFERS, no parallelism)",
            [
                Table(serial_plans_table(record), empty="Not recorded."),
            ],
        ),
        Section("Figures", [Text([f"![{name}]({path})" for name, path in figures.items()], bullets=False)]),
        Section("memray flamegraphs (largest N drawn)", [Links([(p, impl) for impl, p in record.flamegraphs.items()])]),
        Section("Notes", [Text(record.notes)]),
    ]
    return sections


def render_summary(record: BenchRecord, checks: Sequence[Check], figures: Mapping[str, str]) -> str:
    return to_markdown("Benchmark: before vs after", summary_sections(record, checks, figures))
