"""The legacy implementation of ``fetch_user_activity_summary``, kept as it ran in production."""

from repository_before.summary import fetch_user_activity_summary

__all__ = ["fetch_user_activity_summary"]
