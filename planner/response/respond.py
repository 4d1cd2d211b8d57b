"""`planner respond`: answer a spike alert with its playbook's standby content, through the normal outbox.

Releasing a standby post clears its standby flag and makes it due now; its state does not change. An
approved one (queued) is then published by the scheduler like any post: exactly once, paced, audited. One
waiting for approval stays there until an approver (CLI or staff chat) approves it. Each standby post can
be released by one response only (response_posts' key), so a second tap or command publishes nothing more.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from planner.errors import PlannerError
from planner.response.playbooks import Playbook, matches, playbooks_of
from planner.store import audit
from planner.store.db import transaction, utc_iso
from planner.domain.events import EventCode, event
from planner.store.outbox import record_event

WINDOW = timedelta(hours=1)   # the mentions an alert quotes: its last hour (as planner.monitoring.listen)


class RespondError(PlannerError):
    pass


@dataclass
class Match:
    alert: dict
    playbook: Playbook
    top: list[dict]

    @property
    def content_id(self) -> str:
        return self.playbook.content[0]


@dataclass
class Outcome:
    response_id: int
    alert_id: int
    content_id: str
    released: list[int] = field(default_factory=list)    # standby posts now due
    queued: list[int] = field(default_factory=list)      # ... of which approved: they go at once
    waiting: list[int] = field(default_factory=list)     # ... of which wait for an approver
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (post id, state): not releasable
    already: bool = False                                  # the alert had been answered before


def top_mentions(db, alert: dict, limit: int = 3) -> list[dict]:
    start = utc_iso(datetime.fromisoformat(alert["at"].replace("Z", "+00:00")) - WINDOW)
    return list(db.query("SELECT platform, author, text, url, created_at FROM mentions WHERE campaign_id = ? AND "
                         "keyword = ? AND created_at >= ? AND created_at <= ? ORDER BY created_at DESC LIMIT ?",
                         [alert["campaign_id"], alert["keyword"], start, alert["at"], limit]))


def get_alert(db, alert_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM alerts WHERE id = ?", [alert_id]))
    return rows[0] if rows else None


def match_alert(db, alert_id: int) -> Match | None:
    """The first playbook of the alert's campaign that the spike calls for, or None."""
    alert = get_alert(db, alert_id)
    if alert is None:
        return None
    spec = db.execute("SELECT spec FROM campaigns WHERE id = ?", [alert["campaign_id"]]).fetchone()
    if spec is None:
        return None
    top = top_mentions(db, alert)
    for playbook in playbooks_of(spec[0]):
        if matches(playbook, keyword=alert["keyword"], count=alert["window_count"], baseline=alert["baseline"],
                   mentions=[m["text"] for m in top]):
            return Match(alert, playbook, top)
    return None


def latest_alert_id(db, campaign_id: str, keyword: str) -> int | None:
    row = db.execute("SELECT MAX(id) FROM alerts WHERE campaign_id = ? AND keyword = ?",
                     [campaign_id, keyword]).fetchone()
    return row[0] if row else None


def standby_posts(db, campaign_id: str, content_id: str, channels) -> list[dict]:
    rows = list(db.query("SELECT * FROM posts WHERE campaign_id = ? AND content_id = ? AND occurrence = 0 "
                         "ORDER BY id", [campaign_id, content_id]))
    return [row for row in rows if not channels or row["channel"] in channels]


def respond(db, alert_id: int, *, actor: str, now: datetime, content_id: str | None = None,
            via: dict | None = None) -> Outcome:
    """Release the matched standby content of ``alert_id`` on the playbook's channels (see the module)."""
    match = match_alert(db, alert_id)
    if match is None:
        if get_alert(db, alert_id) is None:
            raise RespondError("respond.no_alert", alert=alert_id)
        raise RespondError("respond.no_playbook", alert=alert_id)
    playbook = match.playbook
    content_id = content_id or match.content_id
    if content_id not in playbook.content:
        raise RespondError("respond.content_not_in_playbook", content=content_id, playbook=playbook.id,
                           known=", ".join(playbook.content))
    campaign_id = match.alert["campaign_id"]
    now_s = utc_iso(now)
    with transaction(db) as conn:
        earlier = conn.execute("SELECT id, content_id FROM responses WHERE alert_id = ?", [alert_id]).fetchone()
        if earlier is not None:
            posts = [r[0] for r in conn.execute("SELECT post_id FROM response_posts WHERE response_id = ?",
                                                [earlier[0]])]
            return Outcome(earlier[0], alert_id, earlier[1], released=posts, already=True)
        cursor = conn.execute("INSERT INTO responses (alert_id, campaign_id, playbook, content_id, requested_by, "
                              "requested_at) VALUES (?, ?, ?, ?, ?, ?)",
                              [alert_id, campaign_id, playbook.id, content_id, actor, now_s])
        outcome = Outcome(cursor.lastrowid, alert_id, content_id)
        for row in standby_posts(db, campaign_id, content_id, playbook.channels):
            if not row["standby"] or row["state"] not in ("queued", "pending_approval"):
                outcome.skipped.append((row["id"], row["state"] if not row["standby"] else "draft"))
                continue
            changed = conn.execute("UPDATE posts SET standby = 0, due_at = ?, updated_at = ? "
                                   "WHERE id = ? AND standby = 1 AND state = ?",
                                   [now_s, now_s, row["id"], row["state"]]).rowcount
            if changed != 1:
                continue
            conn.execute("INSERT INTO response_posts (post_id, response_id) VALUES (?, ?)",
                         [row["id"], outcome.response_id])
            record_event(conn, row["id"], row["state"], row["state"], now_s, actor,
                         event(EventCode.STANDBY_RELEASED, alert=alert_id, playbook=playbook.id))
            outcome.released.append(row["id"])
            (outcome.queued if row["state"] == "queued" else outcome.waiting).append(row["id"])
        if not outcome.released:  # nothing left to send (used or canceled): no response to count or report
            conn.execute("DELETE FROM responses WHERE id = ?", [outcome.response_id])
        audit.record(conn, at=now_s, actor=actor, action="response.request", subject=f"alert:{alert_id}",
                     detail={"playbook": playbook.id, "content": content_id, "released": outcome.released,
                             "waiting_approval": outcome.waiting, **({"via": via} if via else {})})
    return outcome


def response_times(db, response_id: int) -> dict:
    """Spike detected -> alert sent -> requested -> approved -> first and last channel published (UTC)."""
    row = db.execute("SELECT r.alert_id, a.at, n.sent_at, r.requested_at FROM responses r "
                     "JOIN alerts a ON a.id = r.alert_id LEFT JOIN alert_notices n ON n.alert_id = r.alert_id "
                     "WHERE r.id = ?", [response_id]).fetchone()
    posts = db.execute("SELECT MAX(p.approved_at), MIN(p.published_at), MAX(p.published_at), "
                       "SUM(p.state = 'published'), COUNT(*) FROM response_posts rp JOIN posts p ON p.id = rp.post_id "
                       "WHERE rp.response_id = ?", [response_id]).fetchone()
    return {"alert_id": row[0], "detected_at": row[1], "alert_sent_at": row[2], "requested_at": row[3],
            "approved_at": posts[0], "first_published_at": posts[1], "last_published_at": posts[2],
            "published": posts[3] or 0, "posts": posts[4]}


def describe(outcome: Outcome) -> str:
    return json.dumps({"response": outcome.response_id, "released": outcome.released, "waiting": outcome.waiting})
