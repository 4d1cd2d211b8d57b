"""Blackout windows (the config's, and each campaign's own): posts due inside are held, then moved
to the window's end.

Held posts are never dropped: when the window closes they are queued again with their time set
to the end of the window (so the grace rule does not turn a day of mourning into missed posts),
and each move is recorded in the post's history.
"""

from __future__ import annotations

from datetime import datetime

import json

from planner.config import Config
from planner.domain.campaign import Blackout
from planner.domain.events import EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.store import outbox
from planner.store.db import parse_utc, transaction, utc_iso


def apply_blackouts(db, config: Config, *, now: datetime, actor: str) -> None:
    for window in active(config, now, db):
        outbox.hold_due(db, now=now, hold=Hold(HoldKind.BLACKOUT, window.reason), actor=actor,
                        channels=list(window.channels) or None, until=window.end, campaign=window.campaign)
    release_ended(db, now=now, actor=actor)


def release_ended(db, *, now: datetime, actor: str) -> list[int]:
    """Blackout-held posts whose window is over go back to the queue, due at the window's end."""
    now_s = utc_iso(now)
    if not db.execute("SELECT 1 FROM posts WHERE state = 'held' AND hold_kind = ? AND retry_at <= ? LIMIT 1",
                      [HoldKind.BLACKOUT.value, now_s]).fetchone():
        return []
    with transaction(db) as conn:
        rows = conn.execute(
            f"""UPDATE posts SET state = 'queued', due_at = retry_at, retry_at = NULL, {outbox.CLEAR_HOLD},
                                 updated_at = ?
                WHERE state = 'held' AND hold_kind = ? AND retry_at IS NOT NULL AND retry_at <= ?
                RETURNING id, due_at""", [now_s, HoldKind.BLACKOUT.value, now_s]).fetchall()
        for post_id, due_at in rows:
            outbox.record_event(conn, post_id, "held", "queued", now_s, actor,
                                event(EventCode.BLACKOUT_OVER, due=due_at))
    return [r[0] for r in rows]


def active(config: Config, now: datetime, db=None) -> list[Blackout]:
    """Windows in force now: the config's, and (given the database) the campaigns' own."""
    windows = list(config.blackouts) + (campaign_windows(db) if db is not None else [])
    return [w for w in windows if w.start <= now < w.end]


_cache: dict[tuple[str, str], list[Blackout]] = {}


def campaign_windows(db) -> list[Blackout]:
    """Each campaign's windows from its stored spec (parsed again only when the campaign is re-applied)."""
    found = []
    for campaign_id, applied_at, spec in db.execute("SELECT id, applied_at, json_extract(spec, '$.blackouts') "
                                                    "FROM campaigns"):
        key = (campaign_id, applied_at)
        if key not in _cache:
            _cache[key] = [Blackout(start=parse_utc(w["start"]), end=parse_utc(w["end"]), reason=w["reason"],
                                    campaign=campaign_id) for w in json.loads(spec or "[]")]
        found += _cache[key]
    return found
