"""The posts as the report and the KPI evaluation read them (planner.reports)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import NamedTuple, Sequence

from planner.store.db import utc_iso
from planner.store.queries import period_sql

_POST_COLUMNS = ("id", "content_id", "channel", "platform", "state", "due_at", "published_at", "late_ms", "url",
                 "text", "error")


def posts(db, campaign_id: str, *, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """The campaign's posts due in [start, end), by time: {"id", "content_id", "channel", "platform", "state",
    "due_at", "published_at", "late_ms", "url", "text", "error"} (times as UTC text)."""
    clauses, params = period_sql("due_at", start, end)
    rows = db.execute(f"SELECT id, content_id, channel, platform, state, due_at, published_at, late_ms, url, "
                      f"text, last_error FROM posts WHERE campaign_id = ?{clauses} ORDER BY due_at, id",
                      [campaign_id, *params]).fetchall()
    return [dict(zip(_POST_COLUMNS, row)) for row in rows]


def content_tags(db, campaign_id: str) -> dict[str, dict]:
    """content id -> {"issue", "audiences"} of each of the campaign's content items."""
    return {content_id: {"issue": issue, "audiences": json.loads(audiences)} for content_id, issue, audiences in
            db.execute("SELECT id, issue, audiences FROM content WHERE campaign_id = ?", [campaign_id])}


class Outcome(NamedTuple):
    id: int
    platform: str
    state: str
    late_ms: int | None


def outcomes(db, campaign_id: str) -> list[Outcome]:
    """Every post of the campaign: its platform, state and lateness."""
    return [Outcome(*row) for row in db.execute("SELECT id, platform, state, late_ms FROM posts WHERE campaign_id = ?",
                                                [campaign_id])]


def count_due_by(db, campaign_id: str, *, states: Sequence[str], until: datetime, platform: str | None = None) -> int:
    """The campaign's posts in ``states`` due by ``until`` (optionally on one platform)."""
    marks = ",".join("?" * len(states))
    where = "" if platform is None else " AND platform = ?"
    return db.execute(f"SELECT COUNT(*) FROM posts WHERE campaign_id = ? AND state IN ({marks}) AND due_at <= ?"
                      f"{where}", [campaign_id, *states, utc_iso(until), *([] if platform is None else [platform])]
                      ).fetchone()[0]


def texts_on(db, campaign_id: str, platform: str, *, excluding: Sequence[str]) -> list[dict]:
    """The campaign's posts on ``platform`` not in the ``excluding`` states, as sent: {"platform", "text",
    "link", "thread"}."""
    marks = ",".join("?" * len(excluding))
    return [{"platform": platform, "text": text, "link": link, "thread": json.loads(thread or "[]")}
            for text, link, thread in db.execute(
                f"SELECT text, link, thread FROM posts WHERE campaign_id = ? AND platform = ? "
                f"AND state NOT IN ({marks})", [campaign_id, platform, *excluding])]
