"""Post history details in the user's language.

Details are stored as short English sentences (they also go to logs and the audit log). They are
translated when shown: each known sentence maps to a message key; times in them (UTC) are shown in
the user's zone. A platform's own error text is shown as the platform wrote it.
"""

from __future__ import annotations

import re

from planner.i18n import t
from planner.i18n.platform_errors import say

_PATTERNS = [(re.compile(pattern), key) for pattern, key in (
    (r"^applied$", "event.applied"),
    (r"^attempt (?P<n>\d+)$", "event.attempt"),
    (r"^published$", "event.published"),
    (r"^reconciled: found on the platform$", "event.reconciled_found"),
    (r"^reconciled: not on the platform, queued again$", "event.reconciled_absent"),
    (r"^reconciled: (?P<live>\d+) of (?P<total>\d+) thread parts are on the platform, queued again to post the "
     r"rest$", "event.reconciled_thread"),
    (r"^released at shutdown, never sent$", "event.released"),
    (r"^lease expired$", "event.lease_expired"),
    (r"^lease expired, never sent: queued again$", "event.lease_expired_unsent"),
    (r"^claimed by a process that is gone, never sent: queued again$", "event.owner_gone_unsent"),
    (r"^claimed by a process that is gone, may have been sent$", "event.owner_gone_sent"),
    (r"^not published within its grace period \(due (?P<due>[^)]+)\)$", "event.missed"),
    (r"^publish now requested \(was due (?P<due>[^)]+)\)$", "event.publish_now"),
    (r"^removed from the campaign file$", "event.removed"),
    (r"^restored$", "event.restored"),
    (r"^edited: (?P<fields>.+)$", "event.edited"),
    (r"^approved$", "event.approved"),
    (r"^approved \(admin override of the four-eyes rule\)$", "event.approved_override"),
    (r"^rejected: (?P<reason>.+)$", "event.rejected"),
    (r"^canceled by hand$", "event.canceled"),
    (r"^retry requested$", "event.retry"),
    (r"^approval void: content changed since it was approved$", "event.approval_void"),
    (r"^approval required: no valid approval$", "event.approval_missing"),
    (r"^requeued by hand \(was due (?P<due>[^)]+)\)$", "event.requeued"),
    (r"^resumed$", "event.resumed"),
    (r"^resumed and rescheduled to now$", "event.resumed_rescheduled"),
    (r"^blackout over: rescheduled to (?P<due>.+)$", "event.blackout_over"),
    (r"^pause: (?P<reason>.+)$", "event.paused"),
    (r"^blackout: (?P<reason>.+)$", "event.blackout"),
    (r"^cannot tell whether it was published: (?P<detail>.+)$", "event.cannot_tell"),
    (r"^reconnect needed: (?P<account>.+)$", "event.reconnect_needed"),
    (r"^account reconnected: (?P<account>.+)$", "event.reconnected"),
)]


def describe(detail: str | None, zone) -> str:
    """The stored detail as the user should read it."""
    if not detail:
        return ""
    from planner.i18n.dates import format_moment
    from planner.store.db import parse_utc

    for pattern, key in _PATTERNS:
        match = pattern.match(detail)
        if match:
            params = match.groupdict()
            if "due" in params:
                try:
                    params["due"] = format_moment(parse_utc(params["due"]), zone)
                except ValueError:
                    pass
            if "detail" in params:
                params["detail"] = say(params["detail"])
            return t(key, **params)
    return say(detail)  # a platform's error summary, in the user's words
