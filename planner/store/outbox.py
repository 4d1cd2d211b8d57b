"""The outbox state machine in SQL: claim with a lease, record outcomes with guarded updates.

Every write that moves a post out of 'publishing' or 'unknown' names the lease owner and the
state it expects, so a process that lost its lease (it was slow, or presumed dead) cannot
overwrite what another decided. Two dispatchers on one file never publish a post twice because
claiming is one UPDATE ... RETURNING inside BEGIN IMMEDIATE.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable, Sequence

import sqlite_utils

from planner.domain.events import Event, EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.store import audit
from planner.store.db import parse_utc, transaction, utc_iso

CLAIMABLE = ("queued", "failed_retryable")
AUDITED_OUTCOMES = ("published", "failed", "needs_review")  # retries and claims are in post_events only


@dataclass(frozen=True)
class ClaimedPost:
    id: int
    campaign_id: str
    content_id: str
    channel: str
    platform: str
    idempotency_key: str
    due_at: datetime
    text: str
    link: str | None
    media: tuple[str, ...]
    thread: tuple[str, ...]
    attempt: int
    parts_done: tuple[str, ...] = ()  # platform ids of the thread's parts already live

    @classmethod
    def from_row(cls, row: dict) -> "ClaimedPost":
        return cls(id=row["id"], campaign_id=row["campaign_id"], content_id=row["content_id"],
                   channel=row["channel"], platform=row["platform"], idempotency_key=row["idempotency_key"],
                   due_at=parse_utc(row["due_at"]), text=row["text"], link=row["link"],
                   media=tuple(json.loads(row["media"])), thread=tuple(json.loads(row["thread"])),
                   attempt=row["attempt"], parts_done=tuple(json.loads(row.get("thread_ids") or "[]")))


# Set with the state when a post leaves 'held'.
CLEAR_HOLD = "hold_kind = NULL, hold_detail = NULL, hold_reason = NULL"


def hold_columns(hold: Hold) -> dict[str, str]:
    """The columns of a held post that say why. hold_reason keeps the English sentence, for people reading
    the database; queries use the kind and detail."""
    return {"hold_kind": hold.kind.value, "hold_detail": hold.detail, "hold_reason": hold.event.sentence}


def record_event(conn, post_id: int, from_state: str | None, to_state: str, at: str, actor: str,
                 what: Event) -> None:
    """One line of the post's history: its code and parameters, and the English sentence for people and logs."""
    conn.execute("INSERT INTO post_events (post_id, at, from_state, to_state, actor, detail, code, params) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                 [post_id, at, from_state, to_state, actor, what.sentence, what.code.value, what.params_json()])


def _in(values: Sequence[str]) -> str:
    return ",".join("?" * len(values))


def claim_due(db: sqlite_utils.Database, *, owner: str, now: datetime, lease: timedelta, limit: int,
              exclude_channels: Iterable[str] = (), only_ids: Sequence[int] | None = None,
              exclude_campaigns: Iterable[str] = (), per_channel: int | None = None,
              room: dict[str, int] | None = None, approved_only: bool = False) -> list[ClaimedPost]:
    """Move up to ``limit`` due posts to 'publishing' under our lease, oldest first.

    ``per_channel``: at most this many per account, or its ``room`` when given for that account.
    ``approved_only`` (the office requires approval): only posts that carry an approval stamp; the
    sender checks the stamp against the content before the request leaves (store.posts).
    """
    excluded = list(exclude_channels)
    now_s = utc_iso(now)
    clauses, params = _claimable(now_s, approved_only)
    clauses.insert(0, f"state IN ({_in(CLAIMABLE)})")
    params[:0] = CLAIMABLE
    if excluded:
        clauses.append(f"channel NOT IN ({_in(excluded)})")
        params.extend(excluded)
    if only_ids is not None:
        clauses.append(f"id IN ({_in(only_ids)})")
        params.extend(only_ids)
    campaigns = list(exclude_campaigns)
    if campaigns:
        clauses.append(f"campaign_id NOT IN ({_in(campaigns)})")
        params.extend(campaigns)
    with transaction(db) as conn:
        # BEGIN IMMEDIATE holds the write lock: nobody can claim between this read and the update.
        # The read only tells each post's previous state, for its history.
        if per_channel is None:
            before = dict(conn.execute(
                f"SELECT id, state FROM posts WHERE {' AND '.join(clauses)} ORDER BY due_at, id LIMIT ?",
                [*params, limit]).fetchall())
        else:
            # Oldest first, skipping an account's posts once it has its share (its room, else per_channel).
            before, taken = {}, {}
            for post_id, state, channel in conn.execute(
                    f"SELECT id, state, channel FROM posts WHERE {' AND '.join(clauses)} ORDER BY due_at, id LIMIT ?",
                    [*params, limit * 8]):
                if taken.get(channel, 0) < (room or {}).get(channel, per_channel):
                    taken[channel] = taken.get(channel, 0) + 1
                    before[post_id] = state
                    if len(before) == limit:
                        break
        if not before:
            return []
        claimed = _rows(conn.execute(
            f"""UPDATE posts SET {_CLAIM_SET}
                WHERE id IN ({_in(list(before))}) AND state IN ({_in(CLAIMABLE)})
                RETURNING *""",
            [owner, utc_iso(now + lease), now_s, *before, *CLAIMABLE]))
        for row in claimed:
            record_event(conn, row["id"], before[row["id"]], "publishing", now_s, owner,
                         event(EventCode.ATTEMPT, n=row["attempt"]))
    claimed.sort(key=lambda r: (r["due_at"], r["id"]))
    return [ClaimedPost.from_row(r) for r in claimed]


_CLAIM_SET = ("state = 'publishing', lease_owner = ?, lease_until = ?, attempt = attempt + 1, updated_at = ?, "
              "send_started_at = NULL")


def _claimable(now_s: str, approved_only: bool) -> tuple[list[str], list]:
    """What a post must be, besides in a claimable state, to be claimed at ``now_s``."""
    # Standby content (a prepared clarification) is never taken on its own: `planner respond` releases it.
    clauses = ["COALESCE(retry_at, due_at) <= ?", "standby = 0"]
    if approved_only:
        clauses.append("approved_hash IS NOT NULL")
    return clauses, [now_s]


def _rows(cursor) -> list[dict]:
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row)) for row in cursor.fetchall()]


def claim_one_in(conn, post_id: int, *, seen_state: str, owner: str, now: datetime, lease: timedelta,
                 approved_only: bool) -> ClaimedPost | None:
    """Claim one post inside the caller's transaction, if it is still in ``seen_state`` (a claimable state
    the caller read) and claimable now: a compare-and-set on its state, so the history's from-state is
    exact and a post that moved meanwhile is left alone (None)."""
    if seen_state not in CLAIMABLE:
        return None
    now_s = utc_iso(now)
    clauses, params = _claimable(now_s, approved_only)
    claimed = _rows(conn.execute(
        f"UPDATE posts SET {_CLAIM_SET} WHERE id = ? AND state = ? AND {' AND '.join(clauses)} RETURNING *",
        [owner, utc_iso(now + lease), now_s, post_id, seen_state, *params]))
    if not claimed:
        return None
    record_event(conn, post_id, seen_state, "publishing", now_s, owner, event(EventCode.ATTEMPT, n=claimed[0]["attempt"]))
    return ClaimedPost.from_row(claimed[0])


def _finish(db, post_id: int, owner: str, from_state: str, to_state: str, now: datetime, what: Event,
            **columns) -> bool:
    """Guarded transition: only if the post is still ``from_state`` under our lease."""
    sets = ", ".join(f"{name} = ?" for name in columns)
    now_s = utc_iso(now)
    with transaction(db, scope=f"post:{post_id}") as conn:  # one guarded row (and the audit chain's own lock)
        cursor = conn.execute(
            f"""UPDATE posts SET state = ?, lease_owner = NULL, lease_until = NULL, updated_at = ?
                                 {', ' + sets if sets else ''}
                WHERE id = ? AND state = ? AND lease_owner = ?""",
            [to_state, now_s, *columns.values(), post_id, from_state, owner])
        if cursor.rowcount != 1:
            return False
        record_event(conn, post_id, from_state, to_state, now_s, owner, what)
        if to_state in AUDITED_OUTCOMES:
            audit.record(conn, at=now_s, actor=owner, action=f"post.{to_state}", subject=f"post:{post_id}",
                         detail={"detail": what.sentence,
                                 **{k: v for k, v in columns.items() if k in ("url", "last_error")}})
    return True


def mark_published(db, post: ClaimedPost, owner: str, *, platform_post_id: str, url: str | None,
                   published_at: datetime, from_state: str = "publishing",
                   what: Event = event(EventCode.PUBLISHED)) -> bool:
    late_ms = max(0, int((published_at - post.due_at).total_seconds() * 1000))
    return _finish(db, post.id, owner, from_state, "published", published_at, what,
                   platform_post_id=platform_post_id, url=url, published_at=utc_iso(published_at),
                   late_ms=late_ms, last_error=None, error_kind=None, retry_at=None)


def mark_send_started(db, post_id: int, owner: str, *, now: datetime, lease_until: datetime) -> bool:
    """Committed right before the request to the platform leaves, under our lease (which it renews).

    False: the post is no longer ours (the lease ran out and someone moved it on), so it must not be sent.
    Until this mark is set, a post whose owner died or lost its lease was certainly never sent and goes
    back to the queue directly; once it is set, only reconciliation may decide (store.outbox._interrupted).

    The mark must survive a power cut as a 'published' does, yet it is one more write per post. So it
    commits without syncing while it holds the write lock (synchronous NORMAL) and the WAL is synced
    afterwards, outside the lock, before we return: as durable as synchronous FULL, but other writers
    do not queue behind its fsync (the 2,000-post benchmark lost ~12 % to that).
    """
    conn = db.conn
    conn.execute("PRAGMA synchronous = NORMAL")
    try:
        with transaction(db, scope=f"post:{post_id}"):  # one guarded row: no need to queue behind other posts
            cursor = conn.execute("UPDATE posts SET send_started_at = ?, lease_until = ? "
                                  "WHERE id = ? AND state = 'publishing' AND lease_owner = ?",
                                  [utc_iso(now), utc_iso(lease_until), post_id, owner])
    finally:
        conn.execute("PRAGMA synchronous = FULL")
    if cursor.rowcount != 1:
        return False
    _sync_wal(conn)
    return True


def _sync_wal(conn) -> None:
    """fsync the database's WAL file (holding no lock). SQLite locks the database and -shm files, never the
    -wal, so opening and closing our own descriptor on it releases none of this process's locks."""
    path = next((row[2] for row in conn.execute("PRAGMA database_list") if row[1] == "main"), "")
    try:
        fd = os.open(path + "-wal", os.O_RDONLY)
    except FileNotFoundError:  # checkpointed and removed: the commit is in the database file, synced by then
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def record_thread_parts(db, post_id: int, owner: str, *, state: str, parts: Sequence[str],
                        lease_until: datetime) -> bool:
    """Save which parts of a thread are live, under our lease, before the next part is sent.

    Progress renews the lease: a long thread is not taken for a hung send.
    """
    with transaction(db) as conn:
        cursor = conn.execute("UPDATE posts SET thread_ids = ?, lease_until = ? "
                              "WHERE id = ? AND state = ? AND lease_owner = ?",
                              [json.dumps(list(parts)), utc_iso(lease_until), post_id, state, owner])
    return cursor.rowcount == 1


def mark_retry(db, post: ClaimedPost, owner: str, *, now: datetime, retry_at: datetime, error: str,
               from_state: str = "publishing") -> bool:
    return _finish(db, post.id, owner, from_state, "failed_retryable", now, event(EventCode.ERROR, error=error),
                   retry_at=utc_iso(retry_at), last_error=error, error_kind="retryable")


def mark_failed(db, post: ClaimedPost, owner: str, *, now: datetime, error: str) -> bool:
    return _finish(db, post.id, owner, "publishing", "failed", now, event(EventCode.ERROR, error=error),
                   last_error=error, error_kind="permanent")


def mark_unknown(db, post: ClaimedPost, owner: str, *, now: datetime, error: str) -> bool:
    return _finish(db, post.id, owner, "publishing", "unknown", now, event(EventCode.ERROR, error=error),
                   last_error=error, error_kind="unknown")


def release(db, post_ids: Sequence[int], owner: str, *, now: datetime) -> int:
    """Give back claimed posts that were never sent (shutdown): they are queued again as they were.

    A post whose send mark is set is never given back this way, whatever the caller believes.
    """
    if not post_ids:
        return 0
    now_s = utc_iso(now)
    with transaction(db) as conn:
        rows = conn.execute(
            f"""UPDATE posts SET state = 'queued', lease_owner = NULL, lease_until = NULL, attempt = attempt - 1,
                                 updated_at = ?
                WHERE id IN ({_in(post_ids)}) AND state = 'publishing' AND lease_owner = ?
                  AND send_started_at IS NULL RETURNING id""",
            [now_s, *post_ids, owner]).fetchall()
        for (post_id,) in rows:
            record_event(conn, post_id, "publishing", "queued", now_s, owner, event(EventCode.RELEASED))
    return len(rows)


@dataclass
class Interrupted:
    """Posts taken from an owner that died or lost its lease."""
    requeued: list[int]       # never sent (no send mark, no thread part live): back in the queue
    unknown: list[int]        # the request may have left: reconciliation asks the platform
    freed: list[int]          # 'unknown' posts whose reconciliation lease was the dead owner's

    def __bool__(self) -> bool:
        return bool(self.requeued or self.unknown or self.freed)


def _interrupted(conn, where: str, params: Sequence, *, now_s: str, actor: str, never_sent: Event, sent: Event,
                 last_error: str) -> Interrupted:
    """Move the 'publishing' posts matching ``where`` on: back to 'queued' when their request certainly never
    left (no send mark, no thread part saved), else to 'unknown' for reconciliation (inside one transaction).

    Safe against the owner waking up: its send mark is a guarded write on the same row, so either the mark
    came first (and the post goes to 'unknown') or this did (and the owner's mark fails, so it never sends).
    """
    requeued = conn.execute(
        f"""UPDATE posts SET state = 'queued', lease_owner = NULL, lease_until = NULL, updated_at = ?,
                             attempt = MAX(attempt - 1, 0)
            WHERE state = 'publishing' AND send_started_at IS NULL AND thread_ids IS NULL AND {where}
            RETURNING id""", [now_s, *params]).fetchall()
    for (post_id,) in requeued:
        record_event(conn, post_id, "publishing", "queued", now_s, actor, never_sent)
    unknown = conn.execute(
        f"""UPDATE posts SET state = 'unknown', lease_owner = NULL, lease_until = NULL, updated_at = ?,
                             error_kind = 'unknown', last_error = ?
            WHERE state = 'publishing' AND {where} RETURNING id""", [now_s, last_error, *params]).fetchall()
    for (post_id,) in unknown:
        record_event(conn, post_id, "publishing", "unknown", now_s, actor, sent)
    return Interrupted([r[0] for r in requeued], [r[0] for r in unknown], [])


def expire_leases(db, *, now: datetime, actor: str) -> Interrupted:
    """'publishing' posts whose lease ran out (their process died or hung): never sent -> 'queued' again,
    maybe sent -> 'unknown'."""
    now_s = utc_iso(now)
    if not db.execute("SELECT 1 FROM posts WHERE state = 'publishing' AND lease_until < ? LIMIT 1", [now_s]).fetchone():
        return Interrupted([], [], [])
    with transaction(db) as conn:
        return _interrupted(conn, "lease_until < ?", [now_s], now_s=now_s, actor=actor,
                            never_sent=event(EventCode.LEASE_EXPIRED_UNSENT), sent=event(EventCode.LEASE_EXPIRED),
                            last_error="interrupted while publishing (lease expired)")


def lease_owners(db) -> list[str]:
    """Who holds leases now (on posts being sent or reconciled)."""
    return [r[0] for r in db.execute("SELECT DISTINCT lease_owner FROM posts WHERE state IN ('publishing', 'unknown') "
                                     "AND lease_owner IS NOT NULL")]


def release_dead_owner(db, owner: str, *, now: datetime, actor: str) -> Interrupted:
    """The leases of an owner whose process is known to be gone, at once instead of at their expiry:
    its 'publishing' posts move on as in expire_leases, its reconciliations are free to be taken again."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        moved = _interrupted(conn, "lease_owner = ?", [owner], now_s=now_s, actor=actor,
                             never_sent=event(EventCode.OWNER_GONE_UNSENT), sent=event(EventCode.OWNER_GONE_SENT),
                             last_error="interrupted while publishing (its process is gone)")
        moved.freed = [r[0] for r in conn.execute(
            "UPDATE posts SET lease_owner = NULL, lease_until = NULL WHERE state = 'unknown' AND lease_owner = ? "
            "RETURNING id", [owner])]
    return moved


def claim_unknown(db, *, owner: str, now: datetime, lease: timedelta, settle: timedelta,
                  limit: int = 50) -> list[ClaimedPost]:
    """Take 'unknown' posts for reconciliation (state stays 'unknown'; the lease marks who works on it)."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        rows = _rows(conn.execute(
            """UPDATE posts SET lease_owner = ?, lease_until = ?
               WHERE id IN (SELECT id FROM posts WHERE state = 'unknown' AND updated_at <= ?
                            AND (lease_until IS NULL OR lease_until < ?) ORDER BY due_at LIMIT ?)
               RETURNING *""",
            [owner, utc_iso(now + lease), utc_iso(now - settle), now_s, limit]))
    return [ClaimedPost.from_row(row) for row in rows]


def requeue_unknown(db, post: ClaimedPost, owner: str, *, now: datetime, what: Event) -> bool:
    return _finish(db, post.id, owner, "unknown", "queued", now, what, retry_at=None)


def needs_review(db, post: ClaimedPost, owner: str, *, now: datetime, what: Event) -> bool:
    return _finish(db, post.id, owner, "unknown", "needs_review", now, what, last_error=what.sentence,
                   error_kind="unknown")


def mark_missed(db, *, now: datetime, default_grace: timedelta, actor: str) -> list[int]:
    """Posts due longer ago than their campaign's grace are never published silently: 'missed'.

    Held posts are exempt while held (a pause or blackout decides their fate when it ends), and so is
    a thread whose first parts are live: finishing it late is better than leaving it cut short.
    """
    now_s = utc_iso(now)
    # Read first (no write lock when nothing is late): anything older than the shortest grace?
    shortest = db.execute("SELECT MIN(grace_seconds) FROM campaigns").fetchone()[0]
    shortest = min(int(default_grace.total_seconds()), shortest if shortest is not None else 10**9)
    if not any(db.execute("SELECT 1 FROM posts WHERE state = ? AND due_at < ? LIMIT 1",
                          [state, utc_iso(now - timedelta(seconds=shortest))]).fetchone() for state in CLAIMABLE):
        return []
    with transaction(db) as conn:
        rows = conn.execute(
            f"""UPDATE posts SET state = 'missed', updated_at = ?
                WHERE state IN ({_in(CLAIMABLE)}) AND due_at < ? AND thread_ids IS NULL AND id IN (
                    SELECT p.id FROM posts p JOIN campaigns c ON c.id = p.campaign_id
                    WHERE p.state IN ({_in(CLAIMABLE)}) AND p.due_at < ?
                      AND julianday(p.due_at) + COALESCE(c.grace_seconds, ?) / 86400.0 < julianday(?))
                RETURNING id, state, due_at""",
            [now_s, *CLAIMABLE, now_s, *CLAIMABLE, now_s, int(default_grace.total_seconds()), now_s]).fetchall()
        for post_id, _state, due_at in rows:
            record_event(conn, post_id, None, "missed", now_s, actor, event(EventCode.MISSED, due=due_at))
            audit.record(conn, at=now_s, actor=actor, action="post.missed", subject=f"post:{post_id}",
                         detail={"due_at": due_at})
    return [r[0] for r in rows]


def next_due(db) -> datetime | None:
    # One MIN per state: each is answered from the posts_next_attempt index without a scan.
    rows = [db.execute("SELECT MIN(COALESCE(retry_at, due_at)) FROM posts WHERE state = ?", [state]).fetchone()[0]
            for state in CLAIMABLE]
    found = [r for r in rows if r]
    return parse_utc(min(found)) if found else None


def any_due(db, now: datetime) -> bool:
    """A cheap read before taking the write lock: is anything claimable due?"""
    now_s = utc_iso(now)
    return any(db.execute("SELECT 1 FROM posts WHERE state = ? AND COALESCE(retry_at, due_at) <= ? LIMIT 1",
                          [state, now_s]).fetchone() for state in CLAIMABLE)


def any_due_between(db, start: datetime, end: datetime) -> bool:
    """Is a claimable post due in [start, end]? (Index probes, like any_due.)"""
    bounds = [utc_iso(start), utc_iso(end)]
    return any(db.execute("SELECT 1 FROM posts WHERE state = ? AND COALESCE(retry_at, due_at) BETWEEN ? AND ? LIMIT 1",
                          [state, *bounds]).fetchone() for state in CLAIMABLE)


def count_due(db, now: datetime) -> int:
    return db.execute(
        f"SELECT COUNT(*) FROM posts WHERE state IN ({_in(CLAIMABLE)}) AND COALESCE(retry_at, due_at) <= ?",
        [*CLAIMABLE, utc_iso(now)]).fetchone()[0]


# --- settings: pause flag, heartbeat ------------------------------------------------------------
def get_setting(db, key: str) -> str | None:
    row = db.execute("SELECT value FROM settings WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def set_setting(db, key: str, value: str | None, *, now: datetime, audit_as: tuple[str, str] | None = None) -> None:
    """Set or clear a setting; ``audit_as`` (actor, action) also records it in the audit log."""
    with transaction(db) as conn:
        if audit_as is not None:
            audit.record(conn, at=utc_iso(now), actor=audit_as[0], action=audit_as[1], subject=f"setting:{key}",
                         detail={"value": value})
        if value is None:
            conn.execute("DELETE FROM settings WHERE key = ?", [key])
        else:
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                         [key, value, utc_iso(now)])


def get_json_setting(db, key: str, default=None):
    """A setting stored as JSON, decoded; ``default`` when it is not set."""
    raw = get_setting(db, key)
    return json.loads(raw) if raw else default


def set_json_setting(db, key: str, value, *, now: datetime, sort_keys: bool = False) -> None:
    """Store ``value`` as JSON under ``key``; None clears the setting."""
    set_setting(db, key, None if value is None else json.dumps(value, sort_keys=sort_keys), now=now)


def hold_due(db, *, now: datetime, hold: Hold, actor: str, channels: Sequence[str] | None = None,
             until: datetime | None = None, campaign: str | None = None) -> list[int]:
    """Pause, blackout, account to reconnect: due posts become 'held' (never dropped) with the reason."""
    now_s = utc_iso(now)
    clauses = [f"state IN ({_in(CLAIMABLE)})", "COALESCE(retry_at, due_at) <= ?"]
    params: list = [*CLAIMABLE, now_s]
    if channels is not None:
        clauses.append(f"channel IN ({_in(channels)})")
        params.extend(channels)
    if campaign is not None:
        clauses.append("campaign_id = ?")
        params.append(campaign)
    why = hold_columns(hold)
    with transaction(db) as conn:
        before = dict(conn.execute(f"SELECT id, state FROM posts WHERE {' AND '.join(clauses)}", params).fetchall())
        rows = conn.execute(
            f"""UPDATE posts SET state = 'held', {', '.join(f'{name} = ?' for name in why)}, retry_at = ?,
                                 updated_at = ?
                WHERE {' AND '.join(clauses)} RETURNING id""",
            [*why.values(), utc_iso(until) if until else None, now_s, *params]).fetchall()
        for (post_id,) in rows:
            record_event(conn, post_id, before.get(post_id), "held", now_s, actor, hold.event)
    return [r[0] for r in rows]


def release_held(db, *, now: datetime, actor: str, kind: HoldKind, reschedule_to: datetime | None = None,
                 what: Event) -> list[int]:
    """Posts held for ``kind`` go back to the queue; with ``reschedule_to`` their time moves there."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        if reschedule_to is None:
            rows = conn.execute(
                f"""UPDATE posts SET state = 'queued', {CLEAR_HOLD}, retry_at = NULL, updated_at = ?
                    WHERE state = 'held' AND hold_kind = ? RETURNING id""",
                [now_s, kind.value]).fetchall()
        else:
            rows = conn.execute(
                f"""UPDATE posts SET state = 'queued', {CLEAR_HOLD}, retry_at = NULL, due_at = ?, updated_at = ?
                    WHERE state = 'held' AND hold_kind = ? RETURNING id""",
                [utc_iso(reschedule_to), now_s, kind.value]).fetchall()
        for (post_id,) in rows:
            record_event(conn, post_id, "held", "queued", now_s, actor, what)
    return [r[0] for r in rows]


def bring_forward(db, post_id: int, *, now: datetime, actor: str) -> None:
    """`planner publish ID --now`: the post becomes due now (its old time is kept in the history)."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        row = conn.execute("SELECT due_at, state FROM posts WHERE id = ?", [post_id]).fetchone()
        conn.execute("UPDATE posts SET due_at = ?, retry_at = NULL, updated_at = ? WHERE id = ? AND state IN ('queued', "
                     "'failed_retryable')", [now_s, now_s, post_id])
        record_event(conn, post_id, row[1], row[1], now_s, actor, event(EventCode.PUBLISH_NOW, due=row[0]))
        audit.record(conn, at=now_s, actor=actor, action="post.publish_now", subject=f"post:{post_id}",
                     detail={"was_due": row[0]})
