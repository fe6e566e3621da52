"""The load test's targets: the serving process's memory and failures, judged against `goals`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from perfkit.judge import goals
from perfkit.judge.outcome import Check


def load_checks(summaries: Mapping[str, Mapping[str, Any]]) -> list[Check]:
    """The load test's targets, and the figures a reader looks for beside them."""
    after = summaries["after"]
    checks = [
        Check.judged(
            "serving RSS, optimized",
            f"≤ {goals.RSS_LIMIT_MB:.0f} MB",
            f"{after['max_rss_mb']:.1f} MB (max of {after['rss_samples']} samples)",
            after["max_rss_mb"] <= goals.RSS_LIMIT_MB,
        ),
        Check.judged(
            "RSS growth once warm, optimized",
            f"≤ {goals.WARM_GROWTH_LIMIT_MB:g} MB",
            f"{after['rss_growth_once_warm_mb']:+.1f} MB",
            after["rss_growth_once_warm_mb"] <= goals.WARM_GROWTH_LIMIT_MB,
        ),
        Check.judged(
            "RSS attributable to in-flight events, optimized",
            f"< {goals.ATTRIBUTABLE_LIMIT_MB:g} MB",
            f"{after['rss_attributable_to_events_mb']:+.2f} MB "
            f"(slope {after['rss_slope_mb_per_million_events']:+.2f} MB per million events)",
            abs(after["rss_attributable_to_events_mb"]) < goals.ATTRIBUTABLE_LIMIT_MB,
        ),
        Check.judged(
            "failed requests, optimized",
            "none",
            f"{after['errors']} of {after['requests'] + after['errors']:,} ({after['throughput_per_s']:.1f}/s)",
            after["errors"] == 0,
        ),
    ]
    before = summaries.get("before")
    if before is not None:
        checks.append(
            Check.judged(
                "serving RSS, legacy, above optimized",
                f"≥ {goals.LEGACY_VISIBLE_GROWTH_MB:g} MB (the legacy growth is visible)",
                f"{before['max_rss_mb'] - after['max_rss_mb']:+.0f} MB; RSS rises "
                f"{before['rss_rise_mb_per_million_events_per_request']:+.0f} MB per million events fetched "
                f"(optimized {after['rss_rise_mb_per_million_events_per_request']:+.1f})",
                before["max_rss_mb"] >= after["max_rss_mb"] + goals.LEGACY_VISIBLE_GROWTH_MB,
                before["limit_hit"] or "",
            )
        )
    return checks
