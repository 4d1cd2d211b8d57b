"""Changes to one post by hand: cancel, retry, requeue (the lifecycle in planner.store.posts decides)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner.domain.post import PostState
from planner.store import posts


@dataclass(frozen=True)
class HandChange:
    post_id: int
    from_state: PostState
    to_state: PostState

    @property
    def back_to_approval(self) -> bool:
        """Released, but its approval no longer covers its content: an approver decides first."""
        return self.to_state == PostState.PENDING_APPROVAL


def _result(db, changed: posts.Changed) -> HandChange:
    from planner.workers.jobs import after_change

    after_change(db, post_ids=[changed.post_id])  # PostgreSQL workers: the post's job follows its state
    return HandChange(changed.post_id, changed.from_state, changed.to_state)


def cancel(db, post_id: int, *, actor: str, now: datetime) -> HandChange:
    """The post will not go out. Raises TransitionRefused when its state does not allow it."""
    return _result(db, posts.cancel(db, post_id, actor=actor, now=now))


def retry(db, post_id: int, *, actor: str, now: datetime, approval_required: bool) -> HandChange:
    """A failed post is tried again (back to an approver when its approval no longer holds)."""
    return _result(db, posts.retry(db, post_id, actor=actor, now=now, approval_required=approval_required))


def requeue(db, post_id: int, *, actor: str, now: datetime, approval_required: bool) -> HandChange:
    """A missed, reviewed (certainly not on the platform) or canceled post goes out now."""
    return _result(db, posts.requeue(db, post_id, actor=actor, now=now, approval_required=approval_required))
