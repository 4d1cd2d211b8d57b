"""KPI arithmetic: how far a target is reached, and whether the pace will reach it in time.

Pure functions (property-tested). Cumulative metrics (reach, likes, posts...) are projected
linearly from the campaign's start to the deadline; rates (engagement rate, on-time rate) are
not projected: they are judged as they stand.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

RATE_METRICS = ("engagement_rate", "on_time_rate")
ON_TIME_MS = 60_000  # published within a minute of its time counts as on time
STATUSES = ("achieved", "on_track", "at_risk", "missed", "not_started")


@dataclass(frozen=True)
class Assessment:
    actual: float
    target: float
    percent: float          # actual / target * 100
    projected: float | None  # at the deadline, at the current pace (cumulative metrics only)
    status: str             # one of STATUSES
    elapsed: float          # share of the campaign time gone, 0..1


def assess(metric: str, actual: float, target: float, start: datetime, deadline: datetime,
           now: datetime) -> Assessment:
    if target <= 0:
        raise ValueError("target must be positive")
    percent = actual / target * 100
    span = (deadline - start).total_seconds()
    elapsed = 1.0 if span <= 0 else min(1.0, max(0.0, (now - start).total_seconds() / span))
    if metric in RATE_METRICS:
        projected = None
        if actual >= target:
            status = "achieved"
        elif now >= deadline:
            status = "missed"
        elif elapsed == 0:
            status = "not_started"
        else:
            status = "at_risk"
        return Assessment(actual, target, percent, projected, status, elapsed)
    projected = actual / elapsed if elapsed > 0 else None
    if actual >= target:
        status = "achieved"
    elif now >= deadline:
        status = "missed"
    elif elapsed == 0:
        status = "not_started"
    elif projected is not None and projected >= target:
        status = "on_track"
    else:
        status = "at_risk"
    return Assessment(actual, target, percent, projected, status, elapsed)


ENGAGEMENT_PARTS = ("likes", "reposts", "replies", "quotes", "saves")


# Metrics that platforms name differently: the first name a post has wins.
FALLBACKS = {"reach": ("reach", "views", "impressions"), "views": ("views", "impressions"),
             "impressions": ("impressions", "views")}


def post_value(metric: str, values: dict[str, int]) -> int | None:
    """One post's figure for a KPI metric from its latest snapshot; None when the platform gives none."""
    names = FALLBACKS.get(metric)
    if names is not None:
        for name in names:
            if name in values:
                return values[name]
        return None
    if metric != "engagements":
        return values.get(metric)
    if "engagements" in values:
        return values["engagements"]
    parts = [values[p] for p in ENGAGEMENT_PARTS if p in values]
    return sum(parts) if parts else None
