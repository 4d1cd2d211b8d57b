"""Approving and rejecting posts (`planner approve|reject`): by post ids, or everything a campaign has
waiting. The four-eyes rule itself lives in planner.store.approval."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Sequence

from planner.errors import PlannerError
from planner.store import approval, campaign_lookup


@dataclass(frozen=True)
class Decided:
    done: list[int] = field(default_factory=list)
    refused: list[tuple[int, str]] = field(default_factory=list)  # (post id, message key)
    nothing_waiting: bool = False  # the campaign had no post waiting for approval


def _targets(db, post_ids: Sequence[int] | None, campaign: str | None) -> list[int]:
    """The posts named, or every post of the campaign waiting for approval (exactly one of the two)."""
    if bool(post_ids) == bool(campaign):
        raise PlannerError("approval.usage")
    if post_ids:
        return list(post_ids)
    campaign_lookup.require(db, campaign)
    return approval.pending_ids(db, campaign)


def approve(db, *, post_ids: Sequence[int] | None = None, campaign: str | None = None, actor: str, role: str,
            now: datetime, override: bool = False) -> Decided:
    ids = _targets(db, post_ids, campaign)
    if not ids:
        return Decided(nothing_waiting=True)
    decision = approval.approve(db, ids, actor=actor, role=role, now=now, override=override)
    return Decided(decision.done, decision.refused)


def reject(db, *, post_ids: Sequence[int] | None = None, campaign: str | None = None, actor: str, role: str,
           reason: str, now: datetime) -> Decided:
    """Rejected posts become drafts with the reason (which must say something)."""
    reason = reason.strip()
    if not reason:
        raise PlannerError("approval.need_reason")
    ids = _targets(db, post_ids, campaign)
    if not ids:
        return Decided(nothing_waiting=True)
    decision = approval.reject(db, ids, actor=actor, role=role, reason=reason, now=now)
    return Decided(decision.done, decision.refused)
