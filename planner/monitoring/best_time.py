"""Best time to post: mean engagement by local weekday x hour, from an account's own history."""

from __future__ import annotations

from typing import Iterable

from planner.domain.kpi import post_value
from planner.monitoring.collect import latest_metrics
from planner.store.db import parse_utc


def engagement_grid(samples: Iterable[tuple[str, int]], zone) -> list[list[float | None]]:
    """[weekday][hour] -> mean engagements of posts published then (None: no post then)."""
    total = [[0.0] * 24 for _ in range(7)]
    count = [[0] * 24 for _ in range(7)]
    for published_at, engagements in samples:
        local = parse_utc(published_at).astimezone(zone)
        total[local.weekday()][local.hour] += engagements
        count[local.weekday()][local.hour] += 1
    return [[total[d][h] / count[d][h] if count[d][h] else None for h in range(24)] for d in range(7)]


def account_grid(db, channel: str, zone) -> list[list[float | None]]:
    """The grid for one account over all its published posts with metrics."""
    latest = latest_metrics(db)
    samples = []
    for post_id, published_at in db.execute(
            "SELECT id, published_at FROM posts WHERE channel = ? AND state = 'published' AND published_at IS NOT NULL",
            [channel]):
        value = post_value("engagements", latest.get(post_id, {})) if post_id in latest else None
        if value is not None:
            samples.append((published_at, value))
    return engagement_grid(samples, zone)
