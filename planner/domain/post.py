"""The post lifecycle: its states, the moves a person or the scheduler may make, and what an approval covers.

One table (TRANSITIONS) says which action may move a post from which state to which. The store
refuses any change the table does not allow, so no sequence of commands can walk around it.

The one rule that the table alone cannot express is approval. When the office requires approval,
a post may enter 'queued' only while it carries an approval stamp that matches its content:
the hash of its text, link, thread and media bytes at the moment an approver approved it. Any edit
clears the stamp; a media file changed on disk no longer matches it. ``release_state`` is the
single place that decides whether a post released by hand (requeue, retry, end of a hold) goes
to the queue or back to an approver.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from enum import Enum
from typing import Iterable, Sequence

from planner.domain.events import Event, EventCode


class PostState(str, Enum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    QUEUED = "queued"
    PUBLISHING = "publishing"
    PUBLISHED = "published"
    FAILED_RETRYABLE = "failed_retryable"
    FAILED = "failed"
    UNKNOWN = "unknown"
    NEEDS_REVIEW = "needs_review"
    HELD = "held"
    MISSED = "missed"
    CANCELED = "canceled"

    def __str__(self) -> str:
        return self.value


class Action(str, Enum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    RETRY = "retry"          # a failed post, once more
    REQUEUE = "requeue"      # a missed, reviewed or canceled post, deliberately, due now
    VOID = "void"            # an approval no longer matches the content: back to an approver
    # A standby clarification released to answer a spike alert (`planner respond`): its standby flag is
    # cleared and it becomes due now, in the state it had. An approved one goes out; one waiting for
    # approval keeps waiting for an approver. Standby is a flag, not a state (docs/decisions.md).
    RELEASE_STANDBY = "release_standby"
    RELEASE = "release"      # a hold with an end (a blackout window) is over: back to the queue, due at its end

    def __str__(self) -> str:
        return self.value


S = PostState

# (action, from state) -> the state it leads to. RETRY and REQUEUE lead to 'queued' only through
# ``release_state``: without a valid approval (when required) they lead to 'pending_approval'.
TRANSITIONS: dict[tuple[Action, PostState], PostState] = {
    (Action.APPROVE, S.PENDING_APPROVAL): S.QUEUED,
    (Action.REJECT, S.PENDING_APPROVAL): S.DRAFT,
    **{(Action.CANCEL, state): S.CANCELED for state in (
        S.DRAFT, S.PENDING_APPROVAL, S.QUEUED, S.HELD, S.FAILED_RETRYABLE, S.FAILED, S.MISSED, S.NEEDS_REVIEW)},
    **{(Action.RETRY, state): S.QUEUED for state in (S.FAILED, S.FAILED_RETRYABLE)},
    **{(Action.REQUEUE, state): S.QUEUED for state in (S.MISSED, S.NEEDS_REVIEW, S.CANCELED)},
    **{(Action.VOID, state): S.PENDING_APPROVAL for state in (S.QUEUED, S.FAILED_RETRYABLE, S.HELD, S.PUBLISHING)},
    **{(Action.RELEASE_STANDBY, state): state for state in (S.QUEUED, S.PENDING_APPROVAL)},
    # Straight to the queue: a post is held only from a claimable state, and an approval that stops
    # matching while it is held is voided from 'held' (VOID above).
    (Action.RELEASE, S.HELD): S.QUEUED,
}

# States the scheduler takes posts from, and those it leaves to people.
CLAIMABLE = (S.QUEUED, S.FAILED_RETRYABLE)
IN_FLIGHT = (S.PUBLISHING, S.UNKNOWN, S.NEEDS_REVIEW)
BEFORE_APPROVAL = (S.DRAFT, S.PENDING_APPROVAL)


class HoldKind(str, Enum):
    """Why a post is 'held' (posts.hold_kind); what it waits for is in posts.hold_detail."""
    PAUSE = "pause"            # publishing is paused; detail: the pause's reason. `planner resume` ends it
    BLACKOUT = "blackout"      # a blackout window; detail: its reason. Its end (posts.retry_at) ends it
    RECONNECT = "reconnect"    # the account refused its token; detail: the account. `account connect` ends it

    def __str__(self) -> str:
        return self.value


_HOLD_EVENTS = {HoldKind.PAUSE: (EventCode.PAUSED, "reason"), HoldKind.BLACKOUT: (EventCode.BLACKOUT, "reason"),
                HoldKind.RECONNECT: (EventCode.RECONNECT_NEEDED, "account")}


@dataclass(frozen=True)
class Hold:
    kind: HoldKind
    detail: str

    @property
    def event(self) -> Event:
        """The history event of a post held for this reason (also how the hold is shown)."""
        code, param = _HOLD_EVENTS[self.kind]
        return Event(code, {param: self.detail})


def allowed_from(action: Action) -> tuple[PostState, ...]:
    return tuple(state for (act, state) in TRANSITIONS if act == action)


def target(action: Action, state: str | PostState) -> PostState | None:
    """The state ``action`` leads to from ``state``, or None when the lifecycle does not allow it."""
    try:
        return TRANSITIONS.get((action, PostState(state)))
    except ValueError:
        return None


def release_state(*, approval_required: bool, stamp_valid: bool) -> PostState:
    """Where a post released by hand goes: the queue, or back to an approver."""
    return S.QUEUED if not approval_required or stamp_valid else S.PENDING_APPROVAL


def approval_stamp(*, platform: str, channel: str, text: str, link: str | None, thread: Sequence[str],
                   media_digests: Iterable[str]) -> str:
    """What an approval covers: the exact text, link, thread and media bytes for one channel."""
    payload = json.dumps(["approval-v1", platform, channel, text, link or "", list(thread), list(media_digests)],
                         ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()
