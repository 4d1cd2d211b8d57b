"""Answers to spike alerts (`planner respond`, the staff chat's button): the ``responses`` and ``response_posts``
tables, and the reads of ``alerts`` and ``mentions`` that deciding and measuring an answer needs.

A response is one row per answered alert; ``response_posts`` ties each standby post to the one response that
released it (its key is the post), so a post is released once. Releasing itself is a post change
(``store.posts.release_standby``, allowed by the lifecycle table).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from planner.domain.events import Event
from planner.store import audit, posts
from planner.store.db import parse_utc, transaction, utc_iso


@dataclass
class Opened:
    """What opening a response did. ``already``: the alert had been answered before (nothing released now;
    ``released`` lists what that earlier answer released)."""
    response_id: int
    alert_id: int
    content_id: str
    released: list[int] = field(default_factory=list)    # standby posts now due
    queued: list[int] = field(default_factory=list)      # ... of which approved: they go at once
    waiting: list[int] = field(default_factory=list)     # ... of which wait for an approver
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (post id, state): not releasable
    already: bool = False


# --- alerts and mentions ----------------------------------------------------------------------------
def alert(db, alert_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
    return rows[0] if rows else None


def latest_alert_id(db, campaign_id: str, keyword: str) -> int | None:
    row = db.execute("SELECT MAX(id) FROM alerts WHERE campaign_id = ? AND keyword = ?",
                     [campaign_id, keyword]).fetchone()
    return row[0] if row else None


def alert_mentions(db, alert: dict, *, window: timedelta, limit: int) -> list[dict]:
    """The newest mentions of the alert's keyword in the ``window`` up to the alert (its time included)."""
    start = utc_iso(parse_utc(alert["at"]) - window)
    return list(db.query("SELECT platform, author, text, url, created_at FROM mentions WHERE campaign_id = ? AND "
                         "keyword = ? AND created_at >= ? AND created_at <= ? ORDER BY created_at DESC LIMIT ?",
                         [alert["campaign_id"], alert["keyword"], start, alert["at"], limit]))


def mention_count(db, campaign_id: str, keyword: str, start: datetime, end: datetime) -> int:
    """Mentions of ``keyword`` created in [start, end)."""
    return db.execute("SELECT COUNT(*) FROM mentions WHERE campaign_id = ? AND keyword = ? AND created_at >= ? "
                      "AND created_at < ?", [campaign_id, keyword, utc_iso(start), utc_iso(end)]).fetchone()[0]


# --- answering ---------------------------------------------------------------------------------------
def open(db, alert_id: int, *, campaign_id: str, playbook: str, content_id: str, channels, actor: str,
         now: datetime, event: Event, via: dict | None = None) -> Opened:
    """Answer ``alert_id`` with ``content_id``: release its first occurrence's standby posts on ``channels``
    (all when empty), in one transaction with the response row, each post's history ``event`` and the audit
    row ``response.request``. An alert already answered releases nothing more; an answer that released
    nothing (used or canceled) leaves no response row."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        earlier = conn.execute("SELECT id, content_id FROM responses WHERE alert_id = ?", [alert_id]).fetchone()
        if earlier is not None:
            released = [r[0] for r in conn.execute("SELECT post_id FROM response_posts WHERE response_id = ?",
                                                   [earlier[0]])]
            return Opened(earlier[0], alert_id, earlier[1], released=released, already=True)
        response_id = conn.execute("INSERT INTO responses (alert_id, campaign_id, playbook, content_id, "
                                   "requested_by, requested_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                                   [alert_id, campaign_id, playbook, content_id, actor, now_s]).fetchone()[0]
        opened = Opened(response_id, alert_id, content_id)
        for row in posts.first_occurrences(db, campaign_id, content_id):
            if channels and row["channel"] not in channels:
                continue
            if not posts.standby_releasable(row):
                opened.skipped.append((row["id"], row["state"] if not row["standby"] else "draft"))
                continue
            if not posts.release_standby(conn, row, now=now, actor=actor, what=event):
                continue
            conn.execute("INSERT INTO response_posts (post_id, response_id) VALUES (?, ?)",
                         [row["id"], opened.response_id])
            opened.released.append(row["id"])
            (opened.queued if row["state"] == "queued" else opened.waiting).append(row["id"])
        if not opened.released:  # nothing left to send: no response to count or report
            conn.execute("DELETE FROM responses WHERE id = ?", [opened.response_id])
        audit.record(conn, at=now_s, actor=actor, action="response.request", subject=f"alert:{alert_id}",
                     detail={"playbook": playbook, "content": content_id, "released": opened.released,
                             "waiting_approval": opened.waiting, **({"via": via} if via else {})})
    return opened


# --- measuring and reporting --------------------------------------------------------------------------
def times(db, response_id: int) -> dict:
    """Spike detected -> alert sent -> requested -> approved -> first and last channel published (UTC)."""
    row = db.execute("SELECT r.alert_id, a.at, n.sent_at, r.requested_at FROM responses r "
                     "JOIN alerts a ON a.id = r.alert_id LEFT JOIN alert_notices n ON n.alert_id = r.alert_id "
                     "WHERE r.id = ?", [response_id]).fetchone()
    found = db.execute("SELECT MAX(p.approved_at), MIN(p.published_at), MAX(p.published_at), "
                       "SUM(p.state = 'published'), COUNT(*) FROM response_posts rp JOIN posts p ON p.id = rp.post_id "
                       "WHERE rp.response_id = ?", [response_id]).fetchone()
    return {"alert_id": row[0], "detected_at": row[1], "alert_sent_at": row[2], "requested_at": row[3],
            "approved_at": found[0], "first_published_at": found[1], "last_published_at": found[2],
            "published": found[3] or 0, "posts": found[4]}


def of_campaign(db, campaign_id: str, start: datetime | None = None,
                end: datetime | None = None) -> list[dict] | None:
    """The campaign's responses (id, keyword, playbook, content_id) to alerts in [start, end), oldest alert
    first; None for a database from before responses existed (opened read-only, so not migrated)."""
    if "responses" not in db.table_names():
        return None
    sql = ("SELECT r.id, a.keyword, r.playbook, r.content_id FROM responses r JOIN alerts a ON a.id = r.alert_id "
           "WHERE r.campaign_id = ?")
    params: list = [campaign_id]
    if start:
        sql += " AND a.at >= ?"
        params.append(utc_iso(start))
    if end:
        sql += " AND a.at < ?"
        params.append(utc_iso(end))
    return [{"id": r[0], "keyword": r[1], "playbook": r[2], "content_id": r[3]}
            for r in db.execute(sql + " ORDER BY a.at", params).fetchall()]


def channel_posts(db, response_id: int) -> list[dict]:
    """The answer's posts: post_id, channel, platform, state, published_at (UTC) and url, by channel."""
    rows = db.execute("SELECT p.id, p.channel, p.platform, p.state, p.published_at, p.url FROM response_posts rp "
                      "JOIN posts p ON p.id = rp.post_id WHERE rp.response_id = ? ORDER BY p.channel, p.id",
                      [response_id]).fetchall()
    return [{"post_id": r[0], "channel": r[1], "platform": r[2], "state": r[3], "published_at": r[4], "url": r[5]}
            for r in rows]


def links(db, response_id: int) -> list[tuple[str, str | None]]:
    """(channel, url) of the answer's posts, by post id."""
    return [(channel, url) for channel, url in db.execute(
        "SELECT p.channel, p.url FROM response_posts rp JOIN posts p ON p.id = rp.post_id "
        "WHERE rp.response_id = ? ORDER BY p.id", [response_id])]


def fully_published_unreported(db) -> list[tuple[int, int]]:
    """(response id, alert id) of responses whose every post is published and whose links were not yet
    sent to the staff chat."""
    return [(r[0], r[1]) for r in db.execute(
        "SELECT r.id, r.alert_id FROM responses r WHERE r.links_sent_at IS NULL AND NOT EXISTS ("
        "SELECT 1 FROM response_posts rp JOIN posts p ON p.id = rp.post_id "
        "WHERE rp.response_id = r.id AND p.state != 'published') AND EXISTS ("
        "SELECT 1 FROM response_posts rp WHERE rp.response_id = r.id)").fetchall()]


def mark_links_sent(db, response_id: int, *, now: datetime) -> bool:
    """Claim the report of ``response_id``'s links: True once, False when it was claimed before."""
    with transaction(db) as conn:
        return conn.execute("UPDATE responses SET links_sent_at = ? WHERE id = ? AND links_sent_at IS NULL",
                            [utc_iso(now), response_id]).rowcount == 1
