"""Four-eyes approval of posts: an approver who is not the author releases them for publishing.

Rules, enforced here (not in the CLI) so no command can go around them:
- only approvers and admins approve or reject; staff cannot;
- nobody approves content they wrote (the author is whoever last applied a change to it);
- an admin may override the four-eyes rule only with an explicit flag, and that is recorded;
- an approval covers the exact content: its stamp (text, link, thread, media bytes) is recorded,
  editing the post clears it (store/campaigns.py) and a media file changed on disk no longer
  matches it (store/posts.void_unapproved, run before each send): back to an approver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from planner.domain.events import EventCode, event
from planner.store import audit
from planner.store.db import transaction, utc_iso
from planner.store.outbox import record_event
from planner.store.posts import stamp_of

APPROVER_ROLES = ("approver", "admin")


@dataclass
class Decision:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (post id, message key)


def pending_ids(db, campaign: str | None = None) -> list[int]:
    sql = "SELECT id FROM posts WHERE state = 'pending_approval'"
    params: list = []
    if campaign:
        sql += " AND campaign_id = ?"
        params.append(campaign)
    return [r[0] for r in db.execute(sql + " ORDER BY due_at, id", params)]


def _pending(conn, post_ids: Sequence[int], decision: Decision):
    """(post id, row) of the posts waiting for approval; the others are refused with the reason."""
    columns = None
    for post_id in post_ids:
        cursor = conn.execute("SELECT * FROM posts WHERE id = ?", [post_id])
        columns = columns or [d[0] for d in cursor.description]
        found = cursor.fetchone()
        row = dict(zip(columns, found)) if found else None
        if row is None:
            decision.refused.append((post_id, "approval.not_found"))
        elif row["state"] != "pending_approval":
            decision.refused.append((post_id, "approval.not_pending"))
        else:
            yield post_id, row


def approve(db, post_ids: Sequence[int], *, actor: str, role: str, now: datetime, override: bool = False) -> Decision:
    decision = Decision()
    if role not in APPROVER_ROLES:
        decision.refused = [(post_id, "approval.not_approver") for post_id in post_ids]
        return decision
    if override and role != "admin":
        decision.refused = [(post_id, "approval.override_admin_only") for post_id in post_ids]
        return decision
    now_s = utc_iso(now)
    with transaction(db) as conn:
        for post_id, row in _pending(conn, post_ids, decision):
            author = row["author"]
            if author == actor and not override:
                decision.refused.append((post_id, "approval.own_content"))
                continue
            stamp = stamp_of(row)  # the media bytes as they are now, as the approver saw them in review
            conn.execute("UPDATE posts SET state = 'queued', approved_by = ?, approved_at = ?, approved_hash = ?, "
                         "updated_at = ? WHERE id = ? AND state = 'pending_approval'",
                         [actor, now_s, stamp, now_s, post_id])
            record_event(conn, post_id, "pending_approval", "queued", now_s, actor,
                         event(EventCode.APPROVED_OVERRIDE if author == actor else EventCode.APPROVED))
            audit.record(conn, at=now_s, actor=actor, action="post.approve", subject=f"post:{post_id}",
                         detail={"author": author, "override": author == actor, "stamp": stamp})
            decision.done.append(post_id)
    return decision


def reject(db, post_ids: Sequence[int], *, actor: str, role: str, reason: str, now: datetime) -> Decision:
    """Rejected posts become drafts with the reason; re-applying an edited file sends them back for approval."""
    decision = Decision()
    if role not in APPROVER_ROLES:
        decision.refused = [(post_id, "approval.not_approver") for post_id in post_ids]
        return decision
    now_s = utc_iso(now)
    with transaction(db) as conn:
        for post_id, row in _pending(conn, post_ids, decision):
            author = row["author"]
            conn.execute("UPDATE posts SET state = 'draft', last_error = ?, approved_by = NULL, approved_at = NULL, "
                         "approved_hash = NULL, updated_at = ? WHERE id = ? AND state = 'pending_approval'",
                         [f"rejected by {actor}: {reason}", now_s, post_id])
            record_event(conn, post_id, "pending_approval", "draft", now_s, actor,
                         event(EventCode.REJECTED, reason=reason))
            audit.record(conn, at=now_s, actor=actor, action="post.reject", subject=f"post:{post_id}",
                         detail={"author": author, "reason": reason})
            decision.done.append(post_id)
    return decision
