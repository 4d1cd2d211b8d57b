"""Read-only queries shared by the commands and reports."""

from __future__ import annotations

import sqlite_utils

STATE_ORDER = ("draft", "pending_approval", "queued", "held", "publishing", "unknown", "needs_review",
               "failed_retryable", "failed", "missed", "published", "canceled")


def campaign_state_counts(db: sqlite_utils.Database, campaign_id: str | None = None) -> dict[str, int]:
    """Posts per state, in lifecycle order, leaving out states with none."""
    where, params = ("WHERE campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
    found = dict(db.execute(f"SELECT state, COUNT(*) FROM posts {where} GROUP BY state", params).fetchall())
    return {state: found[state] for state in STATE_ORDER if state in found}


def queue_rows(db: sqlite_utils.Database, *, campaign: str | None, start: str | None, end: str | None,
               states: list[str], limit: int) -> list[dict]:
    clauses, params = [], []
    if campaign:
        clauses.append("campaign_id = ?")
        params.append(campaign)
    if start:
        clauses.append("due_at >= ?")
        params.append(start)
    if end:
        clauses.append("due_at < ?")
        params.append(end)
    if states:
        clauses.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(states)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return list(db.query(
        f"SELECT id, campaign_id, content_id, channel, platform, due_at, state, text, published_at "
        f"FROM posts {where} ORDER BY due_at, id LIMIT ?", [*params, limit]))
