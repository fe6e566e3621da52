"""The optimized implementation of ``fetch_user_activity_summary``: one query, aggregated by PostgreSQL."""

from repository_after.summary import fetch_user_activity_summary

__all__ = ["fetch_user_activity_summary"]
