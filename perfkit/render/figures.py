"""Figures drawn from a bench record only: nothing here measures."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless by default; notebooks display the returned Figure themselves

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from perfkit.errors import MeasurementError
from perfkit.judge import goals
from perfkit.judge.bench import growth_verdict, plan_regret
from perfkit.judge.capacity import loaded
from perfkit.measure.load.analysis import LoadRun
from perfkit.measure.results import GRID, MB, POOLED, BenchRecord, latency_table, memory_table
from perfkit.measure.scaling import ratio
from perfkit.measure.timing import describe, percentile_interval
from perfkit.paths import unwritable

COLOURS = {
    "before": "#c0392b",
    "after": "#1f77b4",
    "rewrite": "#8e44ad",
    "floor": "#7f8c8d",
    "scan_floor": "#27ae60",
    "result_floor": "#b7950b",
}
"""By role: the two versions and the subject's references (`perfkit.subject.ROLES`)."""
CANDIDATE_COLOUR = "#e67e22"
LABELS = {"before": "legacy (before)", "after": "optimized (after)"}
ROLE_SUFFIX = {"floor": " floor", "scan_floor": " scan floor"}


def _role(record: BenchRecord, name: str) -> str:
    """``name``'s role: before, after, a reference's role, or "" for a candidate."""
    base = name.split("[")[0]
    if base in LABELS:
        return base
    return str(record.subject.get("references", {}).get(base, {}).get("role", ""))


def _colour(record: BenchRecord, name: str) -> str:
    return COLOURS.get(_role(record, name), CANDIDATE_COLOUR)


def _label(record: BenchRecord, name: str) -> str:
    """How a figure names a variant: a version by its side, a reference by its subject's label and role."""
    role = _role(record, name)
    if role in LABELS:
        return LABELS[role]
    return record.label(name) + ROLE_SUFFIX.get(role, "") if role else name


def _n_axis(record: BenchRecord) -> str:
    words = record.words
    return f"{words.get('rows', 'rows')} of the {words.get('key', 'key')} (N)"


def _figure(figsize: tuple[float, float]) -> Figure:
    """A Figure outside pyplot: nothing is shown twice in notebooks, nothing kept alive elsewhere,
    and no GUI backend is needed (saving renders with Agg)."""
    return Figure(figsize=figsize, layout="constrained")


def _finish(fig: Figure, ax: Axes, title: str) -> Figure:
    ax.set_title(title)
    _grid_and_legend(ax)
    return fig


def _grid_and_legend(ax: Axes) -> None:
    ax.grid(True, which="both", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # a partial run may have nothing to label
        ax.legend(fontsize=8)


def latency_figure(record: BenchRecord) -> Figure:
    """Latency against N, log-log: the p50 line and the p95–p99 band of each variant."""
    table = latency_table(record)
    if not table.empty:
        table = table[table.scope == GRID]
    fig = _figure((7.5, 4.8))
    ax = fig.subplots()
    pooled = table[table.connection == POOLED] if not table.empty else table
    # Candidates first and faint, so that the optimized line they cluster around stays in sight.
    for index, candidate in enumerate(record.candidates()):
        rows = pooled[pooled.variant == candidate].sort_values("n")
        label = "candidates p50 (one line each; see their table)" if index == 0 else None
        ax.plot(rows.n, rows.p50_ms, color=CANDIDATE_COLOUR, linestyle="--", linewidth=1, alpha=0.6, label=label)
    shown = ("before", record.named("rewrite"), "after", record.named("scan_floor"), record.named("floor"))
    for variant in (name for name in shown if name):
        rows = pooled[pooled.variant == variant].sort_values("n")
        if rows.empty:
            continue
        colour = _colour(record, variant)
        ax.plot(rows.n, rows.p50_ms, marker="o", color=colour, label=f"{_label(record, variant)} p50")
        ax.fill_between(rows.n, rows.p95_ms, rows.p99_ms, color=colour, alpha=0.2)
        for n, value, samples in zip(rows.n, rows.p50_ms, rows.samples, strict=True):
            if samples >= 100:
                continue
            ax.annotate(
                f"n={samples}",
                (n, value),
                textcoords="offset points",
                xytext=(4, 4),
                fontsize=7,
                color=colour,
            )
    limit = record.goals.get("p99_ms")
    if limit is not None:
        ax.axhline(limit, color="black", linestyle=":", linewidth=1, label=f"{limit:g} ms target (p99)")
    ax.set(xscale="log", yscale="log", xlabel=_n_axis(record), ylabel="latency (ms)")
    return _finish(fig, ax, "Latency vs N (line: p50; band: p95–p99; n: samples, where fewer than 100)")


def memory_figure(record: BenchRecord) -> Figure:
    """memray peak of one call against N, log-log, with each implementation's fitted slope."""
    table = memory_table(record)
    fig = _figure((7.5, 4.8))
    ax = fig.subplots()
    implementations = sorted(set(table.implementation), key=lambda name: (name not in COLOURS, name))
    for implementation in implementations:
        rows = table[(table.implementation == implementation) & ~table.limit_hit].sort_values("n")
        if rows.empty:
            continue
        colour = _colour(record, implementation)
        fit = record.memory_fit(implementation)
        label = _label(record, implementation)
        if fit is not None and fit.points >= 2:
            label += f": slope {fit.slope:+.2f} ({growth_verdict(fit)})"
            xs = np.geomspace(rows.n.min(), rows.n.max(), 50)
            ax.plot(xs, [fit.predict(x) / MB for x in xs], color=colour, linestyle="--", linewidth=1)
        ax.plot(rows.n, rows.peak_mb, marker="o", linestyle="none", color=colour, label=label)
    ax.set(xscale="log", yscale="log", xlabel=_n_axis(record), ylabel="peak memory of one call (MB)")
    if not table.empty and table.peak_mb.min() > 0:
        # A flat line alone would leave a log axis without a range: keep at least a decade around it.
        low, high = float(table.peak_mb.min()), float(table.peak_mb.max())
        ax.set_ylim(min(low, high / 10) / 2, max(high, low * 10) * 2)
    return _finish(fig, ax, "Memory vs N (memray peak, native traces; dashed: log-log fit)")


def ratio_figure(record: BenchRecord) -> Figure:
    """Speedups, plan regret and the ratio to the scan floor, and memory reduction, against N."""
    grid = record.grid

    def over_after(other: str, n: int) -> float:
        return ratio(record.median_seconds(other, n), record.median_seconds("after", n))

    stated, rewrite, scan = record.goals, record.named("rewrite"), record.named("scan_floor")

    def over_scan_floor(n: int) -> float:
        fastest = record.fastest(scan, n) if scan else None
        return ratio(record.median_seconds("after", n), fastest[1]) if fastest else np.nan

    def regret(n: int) -> float:
        found = plan_regret(record, GRID, n)
        return found.value if found else np.nan

    reductions = record.memory_reductions()
    legacy = [over_after("before", n) for n in grid]
    rewritten = [over_after(rewrite, n) if rewrite else np.nan for n in grid]
    fig = _figure((14, 4.2))
    speed_ax, plan_ax, memory_ax = fig.subplots(1, 3)
    speed = {
        "legacy / optimized": (legacy, COLOURS["before"], stated.get("min_speedup_vs_legacy")),
        f"{record.label(rewrite) if rewrite else 'rewrite'} / optimized": (
            rewritten,
            COLOURS["rewrite"],
            stated.get("min_speedup_vs_rewrite"),
        ),
    }
    _ratio_panel(speed_ax, grid, speed, "Speedup vs N", "speedup (ratio of medians)", log_y=True)
    plans = {
        "chosen plan / fastest other plan": (
            [regret(n) for n in grid],
            COLOURS["after"],
            stated.get("max_plan_regret"),
        ),
        "optimized / scan floor (best plan)": (
            [over_scan_floor(n) for n in grid],
            COLOURS["scan_floor"],
            stated.get("max_scan_floor_ratio"),
        ),
    }
    _ratio_panel(plan_ax, grid, plans, "Plan regret and scan floor vs N", "ratio of medians")
    least = stated.get("min_memory_reduction")
    memory = {
        "memory reduction": (
            [100 * reductions.get(n, np.nan) for n in grid],
            COLOURS["after"],
            None if least is None else 100 * least,
        )
    }
    _ratio_panel(memory_ax, grid, memory, "Peak memory reduction vs N", "memory reduction (%)")
    return fig


def _ratio_panel(
    ax: Axes,
    grid: list[int],
    series: Mapping[str, tuple[list[float], str, float | None]],
    title: str,
    ylabel: str,
    *,
    log_y: bool = False,
) -> None:
    """Each measured series with its goal as a dotted line; a note instead when nothing was measured."""
    measured = {label: item for label, item in series.items() if any(np.isfinite(item[0]))}
    for label, (values, colour, goal) in measured.items():
        ax.plot(grid, values, marker="o", color=colour, label=label)
        if goal is not None:
            ax.axhline(goal, color=colour, linestyle=":", linewidth=1, label=f"goal {goal:g}")
    ax.set(xlabel="N", ylabel=ylabel, title=title)
    if measured:
        ax.set_xscale("log")
        if log_y:
            ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "not measured in this run", ha="center", transform=ax.transAxes)
    _grid_and_legend(ax)


def instructions_figure(record: BenchRecord) -> Figure:
    """What reproduces on any machine: instructions of one call against N (backend per variant, the
    client per implementation), and where the optimized call's backend instructions go."""
    fig = _figure((11.0, 4.8))
    counts_ax, profile_ax = fig.subplots(1, 2, width_ratios=(1.1, 1.0))
    variants = sorted({c["variant"] for c in record.instructions}, key=lambda name: (not _role(record, name), name))
    for variant in variants:
        counts = sorted(record.instruction_counts(variant).items())
        colour = _colour(record, variant)
        label = f"backend: {_label(record, variant)}"
        counts_ax.plot([n for n, _ in counts], [c / 1e6 for _, c in counts], marker="o", color=colour, label=label)
    for implementation in ("before", "after"):
        client = sorted(record.instruction_counts(implementation, client=True).items())
        if client:
            colour = COLOURS[implementation]
            label = f"client: {LABELS[implementation]}"
            counts_ax.plot([n for n, _ in client], [c / 1e6 for _, c in client], "s--", color=colour, label=label)
    counts_ax.set(xscale="log", yscale="log", xlabel=_n_axis(record), ylabel="instructions of one call (M)")
    _finish(fig, counts_ax, "Instructions per warm call (valgrind)")
    profile = record.instruction_profile[:12][::-1]
    if profile:
        total = max(record.instruction_counts("after").items())[1]
        names = [entry["function"] for entry in profile]
        profile_ax.barh(names, [100 * entry["inclusive"] / total for entry in profile], color=COLOURS["after"])
        profile_ax.barh(names, [100 * entry["own"] / total for entry in profile], color="#aec7e8", label="own")
        profile_ax.set(xlabel="% of the call's backend instructions (dark: with callees)")
        profile_ax.tick_params(axis="y", labelsize=7)
        _finish(fig, profile_ax, f"Optimized call at N={max(record.instruction_counts('after')):,}: where they go")
    else:
        profile_ax.set_axis_off()
    return fig


def concurrency_figure(record: BenchRecord) -> Figure:
    """Per loaded scenario, p99 (with its interval) and calls per second against concurrent clients:
    where each variant crosses the p99 goal, and how many calls it serves when the cores are busy."""
    found = loaded(record)
    fig = _figure((11, 3.8 * max(len(found), 1)))
    axes = fig.subplots(max(len(found), 1), 2, squeeze=False)
    for row, ((scope, n), variants) in enumerate(sorted(found.items(), key=lambda item: item[0][1])):
        p99_ax, rate_ax = axes[row]
        for variant, series in variants.items():
            ordered = sorted(series, key=lambda s: s.clients)
            clients = [s.clients for s in ordered]
            colour = _colour(record, variant)
            style = "--" if "[" in variant else "-"
            label = _label(record, variant) if "[" not in variant else variant
            p99 = [describe(s.seconds)["p99"].value * 1000 for s in ordered]
            bounds = [percentile_interval(s.seconds, 99.0, confidence=goals.P99_CONFIDENCE) for s in ordered]
            p99_ax.plot(clients, p99, style, marker="o", color=colour, label=label)
            p99_ax.fill_between(
                clients,
                [low * 1000 for low, _ in bounds],
                [high * 1000 for _, high in bounds],
                color=colour,
                alpha=0.15,
            )
            rate_ax.plot(clients, [s.calls_per_second for s in ordered], style, marker="o", color=colour, label=label)
        limit = record.goals.get("p99_ms")
        if limit is not None:
            p99_ax.axhline(limit, color="black", linestyle=":", label=f"goal p99 < {limit:.0f} ms")
        tried = sorted({s.clients for series in variants.values() for s in series})
        for ax, what in ((p99_ax, "p99 latency (ms), 95% interval"), (rate_ax, "calls per second")):
            ax.set_xscale("log", base=2)
            ax.set_xticks(tried, [str(c) for c in tried])
            ax.minorticks_off()
            ax.set_xlabel("concurrent clients")
            ax.set_ylabel(what)
            ax.set_title(f"{scope} N={n:,}: {what}", fontsize=10)
            _grid_and_legend(ax)
    fig.suptitle(f"Under concurrent calls (machine-dependent: {record.environment.get('cpu_count', '?')} CPUs)")
    return fig


def save_figure(fig: Figure, directory: Path, stem: str) -> list[Path]:
    """PNG for reading, SVG for zooming; never overwrites."""
    paths = [directory / f"{stem}.png", directory / f"{stem}.svg"]
    for path in paths:
        if path.exists():
            raise MeasurementError(f"{path} exists already; results are never overwritten")
        with unwritable(path):
            fig.savefig(path, dpi=130)
    return paths


def all_figures(record: BenchRecord) -> dict[str, Figure]:
    return {
        "latency_vs_n": latency_figure(record),
        "memory_vs_n": memory_figure(record),
        "ratios_vs_n": ratio_figure(record),
        **({"instructions_vs_n": instructions_figure(record)} if record.instructions else {}),
        **({"concurrency": concurrency_figure(record)} if record.concurrency else {}),
    }


def rss_over_time_figure(runs: Mapping[str, LoadRun], rss_mb: float | None = None) -> Figure:
    """RSS of the serving process over time: the flat line against the sawtooth."""
    fig = _figure((8, 4.5))
    ax = fig.subplots()
    for implementation in ("before", "after"):
        run = runs.get(implementation)
        if run is None or not run.rss:
            continue
        times = [t for t, _ in run.rss]
        ax.plot(times, [v / MB for _, v in run.rss], color=COLOURS[implementation], label=LABELS[implementation])
        limit = run.limit_hit
        if limit is not None:
            ax.axvline(limit["end"], color=COLOURS[implementation], linestyle=":", linewidth=1)
            ax.annotate(f"limit hit at {limit['rows']:,} rows", (limit["end"], ax.get_ylim()[1] * 0.9), fontsize=8)
    if rss_mb is not None:
        ax.axhline(rss_mb, color="black", linestyle=":", linewidth=1, label=f"{rss_mb:g} MB target")
    ax.set(xlabel="seconds since the load started", ylabel="RSS of the serving process (MB)")
    return _finish(fig, ax, "Memory under concurrent load (sampled every 100 ms)")


def load_latency_figure(runs: Mapping[str, LoadRun]) -> Figure:
    """Latency under load of each version, one histogram per version (log-spaced bins)."""
    fig = _figure((8, 4.5))
    ax = fig.subplots()
    all_latencies = [r["end"] - r["start"] for run in runs.values() for r in run.completed]
    if all_latencies:
        bins = [float(b) for b in np.geomspace(max(min(all_latencies), 1e-4), max(all_latencies) * 1.01, 40)]
        for implementation in ("before", "after"):
            run = runs.get(implementation)
            if run is None or not run.completed:
                continue
            latencies = [(r["end"] - r["start"]) for r in run.completed]
            ax.hist(latencies, bins=bins, alpha=0.6, color=COLOURS[implementation],
                    label=f"{LABELS[implementation]} (n={len(latencies)})")  # fmt: skip
    ax.set(xscale="log", xlabel="latency under load (s)", ylabel="requests")
    return _finish(fig, ax, "Latency under load, all user sizes")
