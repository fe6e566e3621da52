"""The load test's targets: the serving process's memory and failures, judged against its subject's goals."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from perfkit.judge.outcome import Check


def load_checks(summaries: Mapping[str, Mapping[str, Any]], stated: Mapping[str, float]) -> list[Check]:
    """The load test's targets under the subject's goals (``stated``; one not stated is not judged), and
    the figures a reader looks for beside them."""
    return list(_checks(summaries, stated))


def _checks(summaries: Mapping[str, Mapping[str, Any]], stated: Mapping[str, float]) -> Iterator[Check]:
    after = summaries["after"]
    if "rss_mb" in stated:
        yield Check.judged(
            "serving RSS, optimized",
            f"≤ {stated['rss_mb']:.0f} MB",
            f"{after['max_rss_mb']:.1f} MB (max of {after['rss_samples']} samples)",
            after["max_rss_mb"] <= stated["rss_mb"],
        )
    if "warm_growth_mb" in stated:
        yield Check.judged(
            "RSS growth once warm, optimized",
            f"≤ {stated['warm_growth_mb']:g} MB",
            f"{after['rss_growth_once_warm_mb']:+.1f} MB",
            after["rss_growth_once_warm_mb"] <= stated["warm_growth_mb"],
        )
    if "attributable_mb" in stated:
        yield Check.judged(
            "RSS attributable to in-flight rows, optimized",
            f"< {stated['attributable_mb']:g} MB",
            f"{after['rss_attributable_to_events_mb']:+.2f} MB "
            f"(slope {after['rss_slope_mb_per_million_events']:+.2f} MB per million rows)",
            abs(after["rss_attributable_to_events_mb"]) < stated["attributable_mb"],
        )
    yield Check.judged(
        "failed requests, optimized",
        "none",
        f"{after['errors']} of {after['requests'] + after['errors']:,} ({after['throughput_per_s']:.1f}/s)",
        after["errors"] == 0,
    )
    before = summaries.get("before")
    if before is not None and "legacy_visible_growth_mb" in stated:
        visible = stated["legacy_visible_growth_mb"]
        yield Check.judged(
            "serving RSS, legacy, above optimized",
            f"≥ {visible:g} MB (the legacy growth is visible)",
            f"{before['max_rss_mb'] - after['max_rss_mb']:+.0f} MB; RSS rises "
            f"{before['rss_rise_mb_per_million_events_per_request']:+.0f} MB per million rows fetched "
            f"(optimized {after['rss_rise_mb_per_million_events_per_request']:+.1f})",
            before["max_rss_mb"] >= after["max_rss_mb"] + visible,
            before["limit_hit"] or "",
        )
