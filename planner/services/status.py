"""Figures `planner status` shows beside its lists (screen and --json alike)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from planner.store import dashboard


@dataclass(frozen=True)
class Lateness:
    count: int
    p50_s: float
    p99_s: float
    worst_s: float


def lateness_last_day(db, *, now: datetime) -> Lateness | None:
    """How late the posts published in the 24 hours before ``now`` went out; None when there were none."""
    late = dashboard.lateness_ms(db, since=now - timedelta(hours=24))
    if not late:
        return None
    return Lateness(count=len(late), p50_s=late[len(late) // 2] / 1000,
                    p99_s=late[min(len(late) - 1, int(len(late) * 0.99))] / 1000, worst_s=late[-1] / 1000)
