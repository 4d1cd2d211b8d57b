"""Posts held because their account must be connected again (a token refused for good).

Such posts are never marked failed: the one being sent goes from 'publishing' to 'held' under our lease,
the account's other due posts are held with it (outbox.hold_due), all with the hold kind ``reconnect``
and the account as its detail; `planner account connect ACCOUNT` releases them to the queue
(those past their grace then become missed, as after any hold).
"""

from __future__ import annotations

from datetime import datetime

from planner.domain.events import EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.store.db import transaction, utc_iso
from planner.store.outbox import CLEAR_HOLD, ClaimedPost, _finish, hold_columns, hold_due, record_event


def hold_for_reconnect(db, post: ClaimedPost, owner: str, *, now: datetime, error: str) -> list[int]:
    """The claimed post and every due post of its account: held until the account is connected again."""
    hold = Hold(HoldKind.RECONNECT, post.channel)
    held = []
    if _finish(db, post.id, owner, "publishing", "held", now, hold.event, **hold_columns(hold), last_error=error):
        held.append(post.id)
    held += hold_due(db, now=now, hold=hold, actor=owner, channels=[post.channel])
    return held


def release_reconnected(db, account: str, *, now: datetime, actor: str) -> list[int]:
    """The account is connected again: its held posts go back to the queue (exact kind, exact account)."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        rows = conn.execute(
            f"""UPDATE posts SET state = 'queued', {CLEAR_HOLD}, retry_at = NULL, updated_at = ?
                WHERE state = 'held' AND hold_kind = ? AND hold_detail = ? RETURNING id""",
            [now_s, HoldKind.RECONNECT.value, account]).fetchall()
        for (post_id,) in rows:
            record_event(conn, post_id, "held", "queued", now_s, actor, event(EventCode.RECONNECTED, account=account))
    return [r[0] for r in rows]


def held_for_reconnect(db, account: str) -> int:
    return db.execute("SELECT COUNT(*) FROM posts WHERE state = 'held' AND hold_kind = ? AND hold_detail = ?",
                      [HoldKind.RECONNECT.value, account]).fetchone()[0]
