"""Changes people make to one post by hand (cancel, retry, requeue), and the approval stamp.

Each change is allowed by the lifecycle table (planner.domain.post) or refused; a post released
to the queue by hand needs a valid approval stamp when the office requires approval, else it goes
back to an approver. Every change is written with its history event and audit row in one
transaction, guarded on the state it was read in.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from planner.domain.events import Event, EventCode, event
from planner.domain.post import CLAIMABLE, Action, HoldKind, PostState, allowed_from, approval_stamp, release_state, target
from planner.errors import PlannerError
from planner.store import audit
from planner.store.db import transaction, utc_iso
from planner.store.outbox import CLEAR_HOLD, record_event


class TransitionRefused(PlannerError):
    """The lifecycle does not allow this change (the message says which states would)."""

    def render(self) -> str:
        from planner.i18n import t

        params = dict(self.params)
        if "state" in params:
            params["state"] = t("state." + params["state"])
        if "allowed" in params:
            from planner.store.queries import state_names

            params["allowed"] = state_names(params["allowed"].split(","))
        return t(self.key, **params)


@dataclass(frozen=True)
class Changed:
    post_id: int
    from_state: PostState
    to_state: PostState


def get(db, post_id: int) -> dict | None:
    rows = list(db.query("SELECT * FROM posts WHERE id = ?", [post_id]))
    return rows[0] if rows else None


# --- the approval stamp ----------------------------------------------------------------------------
def _media_digest(path: str) -> str:
    try:
        with open(path, "rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return "missing:" + Path(path).name


def stamp_of(row: dict) -> str:
    """The approval stamp the post's current content would carry (reads its media files)."""
    return approval_stamp(platform=row["platform"], channel=row["channel"], text=row["text"], link=row["link"],
                          thread=json.loads(row["thread"] or "[]"),
                          media_digests=[_media_digest(p) for p in json.loads(row["media"] or "[]")])


def stamp_valid(row: dict) -> bool:
    return bool(row.get("approved_hash")) and row["approved_hash"] == stamp_of(row)


def approval_holds(db, post_id: int) -> bool:
    row = get(db, post_id)
    return row is not None and stamp_valid(row)


def media_escaped(paths) -> str | None:
    """The first media path that is no longer the regular file validation resolved (a link swapped in since,
    or a folder or device), else None. Paths are stored resolved, so any link on the way shows here."""
    import os
    import stat

    for path in paths:
        try:
            info = os.lstat(path)
        except OSError:
            continue  # missing: the adapter says so, and `planner check` warned before
        if os.path.realpath(path) != os.path.abspath(path) or not stat.S_ISREG(info.st_mode):
            return Path(path).name
    return None


def void_claimed(db, post_id: int, owner: str, *, now: datetime) -> bool:
    """A post we claimed whose approval no longer holds goes back to an approver, unsent (guarded on our
    lease; the attempt is given back)."""
    to_state = target(Action.VOID, PostState.PUBLISHING)
    now_s = utc_iso(now)
    with transaction(db) as conn:
        cursor = conn.execute(
            "UPDATE posts SET state = ?, lease_owner = NULL, lease_until = NULL, attempt = attempt - 1, "
            "approved_by = NULL, approved_at = NULL, approved_hash = NULL, updated_at = ? "
            "WHERE id = ? AND state = 'publishing' AND lease_owner = ?", [to_state.value, now_s, post_id, owner])
        if cursor.rowcount != 1:
            return False
        record_event(conn, post_id, "publishing", to_state.value, now_s, owner, event(EventCode.APPROVAL_VOID))
        audit.record(conn, at=now_s, actor=owner, action="post.approval_void", subject=f"post:{post_id}",
                     detail={"from": "publishing", "had_approval": True})
    return True


# --- changes by hand -------------------------------------------------------------------------------
def _refuse(post_id: int, state: str, action: Action):
    raise TransitionRefused("post.wrong_state", id=post_id, state=state,
                            allowed=",".join(s.value for s in allowed_from(action)))


def _change(db, post_id: int, action: Action, *, actor: str, now: datetime, approval_required: bool,
            what: Event, audit_detail: dict, due_now: bool = False) -> Changed:
    row = get(db, post_id)
    if row is None:
        raise TransitionRefused("post.not_found", id=post_id)
    to_state = target(action, row["state"])
    if to_state is None:
        _refuse(post_id, row["state"], action)
    if to_state is PostState.QUEUED:
        to_state = release_state(approval_required=approval_required, stamp_valid=stamp_valid(row))
    now_s = utc_iso(now)
    sets = f"state = ?, retry_at = NULL, lease_owner = NULL, lease_until = NULL, {CLEAR_HOLD}, updated_at = ?"
    params: list = [to_state.value, now_s]
    if due_now:
        # Due now, so the grace rule measures lateness from this deliberate decision.
        sets += ", due_at = ?"
        params.append(now_s)
    with transaction(db) as conn:
        cursor = conn.execute(f"UPDATE posts SET {sets} WHERE id = ? AND state = ?", [*params, post_id, row["state"]])
        if cursor.rowcount != 1:
            raise TransitionRefused("post.changed_meanwhile", id=post_id)
        record_event(conn, post_id, row["state"], to_state.value, now_s, actor, what)
        audit.record(conn, at=now_s, actor=actor, action=f"post.{action.value}", subject=f"post:{post_id}",
                     detail={"from": row["state"], "to": to_state.value, **audit_detail})
    return Changed(post_id, PostState(row["state"]), to_state)


def cancel(db, post_id: int, *, actor: str, now: datetime) -> Changed:
    return _change(db, post_id, Action.CANCEL, actor=actor, now=now, approval_required=False,
                   what=event(EventCode.CANCELED), audit_detail={"detail": event(EventCode.CANCELED).sentence})


def retry(db, post_id: int, *, actor: str, now: datetime, approval_required: bool) -> Changed:
    return _change(db, post_id, Action.RETRY, actor=actor, now=now, approval_required=approval_required,
                   what=event(EventCode.RETRY), audit_detail={"detail": event(EventCode.RETRY).sentence})


def requeue(db, post_id: int, *, actor: str, now: datetime, approval_required: bool) -> Changed:
    """A missed, reviewed (certainly not on the platform) or canceled post goes out now."""
    row = get(db, post_id)
    was_due = row["due_at"] if row else None
    return _change(db, post_id, Action.REQUEUE, actor=actor, now=now, approval_required=approval_required,
                   what=event(EventCode.REQUEUED, due=was_due), audit_detail={"was_due": was_due}, due_now=True)


def release_ended_holds(db, *, kind: HoldKind, now: datetime, actor: str, what) -> list[int]:
    """Posts held for ``kind`` whose hold had an end that has passed go back to the queue, due at that end
    (kept in ``retry_at`` while held). ``what(due_at)`` gives their history event. Returns their ids."""
    now_s = utc_iso(now)
    # A cheap read first: no write lock when nothing is to be released.
    if not db.execute("SELECT 1 FROM posts WHERE state = 'held' AND hold_kind = ? AND retry_at <= ? LIMIT 1",
                      [kind.value, now_s]).fetchone():
        return []
    to_state = target(Action.RELEASE, PostState.HELD)
    with transaction(db) as conn:
        rows = conn.execute(
            f"""UPDATE posts SET state = ?, due_at = retry_at, retry_at = NULL, {CLEAR_HOLD}, updated_at = ?
               WHERE state = 'held' AND hold_kind = ? AND retry_at IS NOT NULL AND retry_at <= ?
               RETURNING id, due_at""", [to_state.value, now_s, kind.value, now_s]).fetchall()
        for post_id, due_at in rows:
            record_event(conn, post_id, PostState.HELD.value, to_state.value, now_s, actor, what(due_at))
    return [row[0] for row in rows]


def void_unapproved(db, *, now: datetime, actor: str, post_ids: list[int] | None = None) -> list[int]:
    """With approval required: posts on their way out whose stamp is missing or no longer matches
    their content (a media file replaced, approval switched on later) go back to an approver."""
    states = [s.value for s in (*CLAIMABLE, PostState.HELD)]
    sql = (f"SELECT * FROM posts WHERE state IN ({','.join('?' * len(states))})")
    params: list = list(states)
    if post_ids is not None:
        sql += f" AND id IN ({','.join('?' * len(post_ids))})"
        params += list(post_ids)
    else:
        sql += " AND approved_hash IS NULL"
    stale = [row for row in db.query(sql, params) if not stamp_valid(row)]
    voided = []
    if not stale:
        return voided
    now_s = utc_iso(now)
    with transaction(db) as conn:
        for row in stale:
            cursor = conn.execute(
                "UPDATE posts SET state = 'pending_approval', approved_by = NULL, approved_at = NULL, "
                f"approved_hash = NULL, {CLEAR_HOLD}, retry_at = NULL, updated_at = ? WHERE id = ? AND state = ?",
                [now_s, row["id"], row["state"]])
            if cursor.rowcount != 1:
                continue
            why = event(EventCode.APPROVAL_VOID if row["approved_hash"] else EventCode.APPROVAL_MISSING)
            record_event(conn, row["id"], row["state"], "pending_approval", now_s, actor, why)
            audit.record(conn, at=now_s, actor=actor, action="post.approval_void", subject=f"post:{row['id']}",
                         detail={"from": row["state"], "had_approval": bool(row["approved_hash"])})
            voided.append(row["id"])
    return voided


# --- standby clarifications (planner.response) -----------------------------------------------------
def standby_releasable(row: dict) -> bool:
    """A standby post the lifecycle lets `planner respond` release (see Action.RELEASE_STANDBY)."""
    return bool(row["standby"]) and target(Action.RELEASE_STANDBY, row["state"]) is not None


def release_standby(conn, row: dict, *, now: datetime, actor: str, what: Event) -> bool:
    """Inside the caller's transaction: clear ``row``'s standby flag and make it due now, in the state the
    lifecycle table gives (its own); guarded on the flag and the state it was read in. False if refused
    or changed meanwhile."""
    if not standby_releasable(row):
        return False
    to_state = target(Action.RELEASE_STANDBY, row["state"])
    now_s = utc_iso(now)
    cursor = conn.execute("UPDATE posts SET state = ?, standby = 0, due_at = ?, updated_at = ? "
                          "WHERE id = ? AND standby = 1 AND state = ?",
                          [to_state.value, now_s, now_s, row["id"], row["state"]])
    if cursor.rowcount != 1:
        return False
    record_event(conn, row["id"], row["state"], to_state.value, now_s, actor, what)
    return True


def first_occurrences(db, campaign_id: str, content_id: str) -> list[dict]:
    """The posts of one content item's first occurrence, one per channel, by id."""
    return list(db.query("SELECT * FROM posts WHERE campaign_id = ? AND content_id = ? AND occurrence = 0 "
                         "ORDER BY id", [campaign_id, content_id]))


def get_many(db, post_ids: list[int]) -> list[dict]:
    """The posts with these ids, by id (unknown ids are left out)."""
    if not post_ids:
        return []
    return list(db.query(f"SELECT * FROM posts WHERE id IN ({','.join('?' * len(post_ids))}) ORDER BY id",
                         list(post_ids)))


def due_before(db, before: datetime, *, states) -> list[dict]:
    """Posts in ``states`` due (or, retrying, to be tried again) before ``before``, by due time: what they
    send (channel, platform, media), when, and why held."""
    states = [str(s) for s in states]
    return [dict(r) for r in db.query(
        f"""SELECT id, channel, platform, state, due_at, media, hold_kind, hold_detail FROM posts
            WHERE state IN ({','.join('?' * len(states))}) AND COALESCE(retry_at, due_at) < ?
            ORDER BY due_at, id""", [*states, utc_iso(before)])]
