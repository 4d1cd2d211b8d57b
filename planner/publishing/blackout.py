"""Blackout windows (the config's, and each campaign's own): posts due inside are held, then moved
to the window's end.

Held posts are never dropped: when the window closes they are queued again with their time set
to the end of the window (so the grace rule does not turn a day of mourning into missed posts),
and each move is recorded in the post's history.
"""

from __future__ import annotations

from datetime import datetime

from planner.config import Config
from planner.domain.campaign import Blackout
from planner.domain.events import EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.store import campaigns, outbox, posts


def apply_blackouts(db, config: Config, *, now: datetime, actor: str) -> None:
    for window in active(config, now, db):
        outbox.hold_due(db, now=now, hold=Hold(HoldKind.BLACKOUT, window.reason), actor=actor,
                        channels=list(window.channels) or None, until=window.end, campaign=window.campaign)
    release_ended(db, now=now, actor=actor)


def release_ended(db, *, now: datetime, actor: str) -> list[int]:
    """Blackout-held posts whose window is over go back to the queue, due at the window's end."""
    return posts.release_ended_holds(db, kind=HoldKind.BLACKOUT, now=now, actor=actor,
                                     what=lambda due_at: event(EventCode.BLACKOUT_OVER, due=due_at))


def active(config: Config, now: datetime, db=None) -> list[Blackout]:
    """Windows in force now: the config's, and (given the database) the campaigns' own."""
    windows = list(config.blackouts) + (campaign_windows(db) if db is not None else [])
    return [w for w in windows if w.start <= now < w.end]


def campaign_windows(db) -> list[Blackout]:
    """Each campaign's own windows, as last applied."""
    return [window for campaign in campaigns.list_all(db) for window in campaign.blackouts]
