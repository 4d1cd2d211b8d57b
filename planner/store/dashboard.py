"""What `planner status` (screen and --json) reads: the next posts, those needing a person, recent
retryable failures and the lateness of recent publications."""

from __future__ import annotations

from datetime import datetime

from planner.store.db import utc_iso

NEEDS_A_PERSON = ("needs_review", "missed", "failed", "unknown")


def upcoming(db, *, limit: int = 5, include_standby: bool = False) -> list[dict]:
    """Queued and retrying posts, soonest first (a retry counts at its retry time)."""
    standby = "" if include_standby else " AND standby = 0"
    return list(db.query(
        "SELECT id, campaign_id, content_id, channel, platform, state, due_at, retry_at, text FROM posts "
        f"WHERE state IN ('queued', 'failed_retryable'){standby} ORDER BY COALESCE(retry_at, due_at) LIMIT ?",
        [limit]))


def needing_attention(db) -> list[dict]:
    """Posts only a person can move on (needs review, missed, failed, unknown), by due time."""
    marks = ",".join("?" * len(NEEDS_A_PERSON))
    return list(db.query(
        "SELECT id, campaign_id, content_id, channel, platform, state, due_at, last_error FROM posts "
        f"WHERE state IN ({marks}) ORDER BY due_at", list(NEEDS_A_PERSON)))


def recent_retries(db, *, limit: int = 5) -> list[dict]:
    """Posts waiting to be tried again, the most recently failed first."""
    return list(db.query(
        "SELECT id, campaign_id, content_id, channel, platform, state, due_at, retry_at, last_error, updated_at "
        "FROM posts WHERE state = 'failed_retryable' ORDER BY updated_at DESC LIMIT ?", [limit]))


def lateness_ms(db, *, since: datetime) -> list[int]:
    """How late (ms) each post published since ``since`` went out, smallest first."""
    return [r[0] for r in db.execute("SELECT late_ms FROM posts WHERE state = 'published' AND published_at >= ? "
                                     "AND late_ms IS NOT NULL ORDER BY late_ms", [utc_iso(since)])]
