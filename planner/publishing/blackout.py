"""Blackout windows from the config: posts due inside are held, then moved to the window's end.

Held posts are never dropped: when the window closes they are queued again with their time set
to the end of the window (so the grace rule does not turn a day of mourning into missed posts),
and each move is recorded in the post's history.
"""

from __future__ import annotations

from datetime import datetime

from planner.config import Config
from planner.store import outbox
from planner.store.db import transaction, utc_iso

PREFIX = "blackout: "


def apply_blackouts(db, config: Config, *, now: datetime, actor: str) -> None:
    for window in config.blackouts:
        if window.start <= now < window.end:
            outbox.hold_due(db, now=now, reason=f"{PREFIX}{window.reason}", actor=actor,
                            channels=list(window.channels) or None, until=window.end)
    release_ended(db, now=now, actor=actor)


def release_ended(db, *, now: datetime, actor: str) -> list[int]:
    """Blackout-held posts whose window is over go back to the queue, due at the window's end."""
    now_s = utc_iso(now)
    if not db.execute("SELECT 1 FROM posts WHERE state = 'held' AND hold_reason LIKE ? AND retry_at <= ? LIMIT 1",
                      [PREFIX + "%", now_s]).fetchone():
        return []
    with transaction(db) as conn:
        rows = conn.execute(
            """UPDATE posts SET state = 'queued', due_at = retry_at, retry_at = NULL, hold_reason = NULL,
                                updated_at = ?
               WHERE state = 'held' AND hold_reason LIKE ? AND retry_at IS NOT NULL AND retry_at <= ?
               RETURNING id, due_at""", [now_s, PREFIX + "%", now_s]).fetchall()
        for post_id, due_at in rows:
            outbox.record_event(conn, post_id, "held", "queued", now_s, actor,
                                f"blackout over: rescheduled to {due_at}")
    return [r[0] for r in rows]


def active(config: Config, now: datetime):
    return [w for w in config.blackouts if w.start <= now < w.end]
