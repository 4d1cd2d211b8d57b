"""Pausing all publishing (`planner pause`) and resuming it (`planner resume`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from planner.domain.events import EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.errors import PlannerError
from planner.store import outbox

PAUSED = "paused"          # the setting that holds the pause's reason while paused


@dataclass(frozen=True)
class Paused:
    reason: str
    held: list[int]        # posts already due, now held until resume


@dataclass(frozen=True)
class Resumed:
    was_paused: bool
    released: list[int]    # held posts back in the queue
    rescheduled: bool


def paused_reason(db) -> str | None:
    """The pause's reason (with who paused) while publishing is paused, else None."""
    return outbox.get_setting(db, PAUSED)


def pause(db, reason: str, *, actor: str, now: datetime) -> Paused:
    """Nothing is published until resume; posts that are due are held with the reason."""
    reason = reason.strip()
    if not reason:
        raise PlannerError("pause.need_reason")
    outbox.set_setting(db, PAUSED, f"{reason} ({actor})", now=now, audit_as=(actor, "publishing.pause"))
    held = outbox.hold_due(db, now=now, hold=Hold(HoldKind.PAUSE, reason), actor=actor)
    return Paused(reason, held)


def resume(db, *, actor: str, now: datetime, reschedule: bool = False) -> Resumed:
    """Publishing goes on. Held posts keep their times (so the grace rule applies) unless ``reschedule``
    moves them to now."""
    was = paused_reason(db)
    outbox.set_setting(db, PAUSED, None, now=now, audit_as=(actor, "publishing.resume"))
    released = outbox.release_held(db, now=now, actor=actor, kind=HoldKind.PAUSE,
                                   reschedule_to=now if reschedule else None,
                                   what=event(EventCode.RESUMED_RESCHEDULED if reschedule else EventCode.RESUMED))
    return Resumed(was_paused=was is not None, released=released, rescheduled=reschedule)
