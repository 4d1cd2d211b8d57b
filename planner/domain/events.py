"""What happened to a post, as a code with parameters (post history, ``post_events``).

History is stored as a code and its parameters, and shown in the reader's language from the
catalogue (``event.<code>``, planner/i18n/events.py). The English sentence of each event is
stored beside it for logs, the audit log and anyone reading the database; nothing reads it back.

Parameter conventions: ``due`` is a UTC time (ISO text), shown in the reader's zone; ``detail``
and ``error`` are texts from a platform (or already worded), shown through platform_errors.say.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import Enum


class EventCode(str, Enum):
    APPLIED = "applied"
    ATTEMPT = "attempt"                          # n
    PUBLISHED = "published"
    RECONCILED_FOUND = "reconciled_found"
    RECONCILED_ABSENT = "reconciled_absent"
    RECONCILED_THREAD = "reconciled_thread"      # live, total
    RELEASED = "released"
    LEASE_EXPIRED = "lease_expired"
    LEASE_EXPIRED_UNSENT = "lease_expired_unsent"
    OWNER_GONE_UNSENT = "owner_gone_unsent"
    OWNER_GONE_SENT = "owner_gone_sent"
    MISSED = "missed"                            # due
    PUBLISH_NOW = "publish_now"                  # due (the time it had)
    REMOVED = "removed"
    RESTORED = "restored"
    EDITED = "edited"                            # fields
    APPROVED = "approved"
    APPROVED_OVERRIDE = "approved_override"
    REJECTED = "rejected"                        # reason
    CANCELED = "canceled"
    RETRY = "retry"
    APPROVAL_VOID = "approval_void"
    APPROVAL_MISSING = "approval_missing"
    REQUEUED = "requeued"                        # due (the time it had)
    RESUMED = "resumed"
    RESUMED_RESCHEDULED = "resumed_rescheduled"
    BLACKOUT_OVER = "blackout_over"              # due (the new time)
    PAUSED = "paused"                            # reason
    BLACKOUT = "blackout"                        # reason
    CANNOT_TELL = "cannot_tell"                  # detail
    RECONNECT_NEEDED = "reconnect_needed"        # account
    RECONNECTED = "reconnected"                  # account
    STANDBY_RELEASED = "standby_released"        # alert, playbook
    ERROR = "error"                              # error: a platform's summary or a worded problem, shown as said

    def __str__(self) -> str:
        return self.value


# The English sentence stored with each event (post_events.detail, the audit log, logs).
SENTENCES: dict[EventCode, str] = {
    EventCode.APPLIED: "applied",
    EventCode.ATTEMPT: "attempt {n}",
    EventCode.PUBLISHED: "published",
    EventCode.RECONCILED_FOUND: "reconciled: found on the platform",
    EventCode.RECONCILED_ABSENT: "reconciled: not on the platform, queued again",
    EventCode.RECONCILED_THREAD: ("reconciled: {live} of {total} thread parts are on the platform, "
                                  "queued again to post the rest"),
    EventCode.RELEASED: "released at shutdown, never sent",
    EventCode.LEASE_EXPIRED: "lease expired",
    EventCode.LEASE_EXPIRED_UNSENT: "lease expired, never sent: queued again",
    EventCode.OWNER_GONE_UNSENT: "claimed by a process that is gone, never sent: queued again",
    EventCode.OWNER_GONE_SENT: "claimed by a process that is gone, may have been sent",
    EventCode.MISSED: "not published within its grace period (due {due})",
    EventCode.PUBLISH_NOW: "publish now requested (was due {due})",
    EventCode.REMOVED: "removed from the campaign file",
    EventCode.RESTORED: "restored",
    EventCode.EDITED: "edited: {fields}",
    EventCode.APPROVED: "approved",
    EventCode.APPROVED_OVERRIDE: "approved (admin override of the four-eyes rule)",
    EventCode.REJECTED: "rejected: {reason}",
    EventCode.CANCELED: "canceled by hand",
    EventCode.RETRY: "retry requested",
    EventCode.APPROVAL_VOID: "approval void: content changed since it was approved",
    EventCode.APPROVAL_MISSING: "approval required: no valid approval",
    EventCode.REQUEUED: "requeued by hand (was due {due})",
    EventCode.RESUMED: "resumed",
    EventCode.RESUMED_RESCHEDULED: "resumed and rescheduled to now",
    EventCode.BLACKOUT_OVER: "blackout over: rescheduled to {due}",
    EventCode.PAUSED: "pause: {reason}",
    EventCode.BLACKOUT: "blackout: {reason}",
    EventCode.CANNOT_TELL: "cannot tell whether it was published: {detail}",
    EventCode.RECONNECT_NEEDED: "reconnect needed: {account}",
    EventCode.RECONNECTED: "account reconnected: {account}",
    EventCode.STANDBY_RELEASED: "standby released: answer to alert {alert} (playbook {playbook})",
    EventCode.ERROR: "{error}",
}

TIME_PARAMS = frozenset({"due"})            # UTC times, shown in the reader's zone
PLATFORM_TEXT_PARAMS = frozenset({"detail", "error"})  # shown through platform_errors.say


@dataclass(frozen=True)
class Event:
    code: EventCode
    params: dict = field(default_factory=dict)

    @property
    def sentence(self) -> str:
        """The English sentence (for logs and the audit log; never parsed back)."""
        return SENTENCES[self.code].format(**self.params)

    def params_json(self) -> str | None:
        return json.dumps(self.params, ensure_ascii=False, sort_keys=True) if self.params else None

    @classmethod
    def stored(cls, code: str | None, params: str | None) -> "Event | None":
        """The event as read from the store (None for a row without a code)."""
        if not code:
            return None
        return cls(EventCode(code), json.loads(params) if params else {})


def event(code: EventCode, **params) -> Event:
    return Event(code, params)
