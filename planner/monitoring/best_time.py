"""Best time to post for one account, from its own history (planner.domain.best_time)."""

from __future__ import annotations

from planner.domain.best_time import engagement_grid
from planner.domain.kpi import post_value
from planner.store import metrics


def account_grid(db, channel: str, zone) -> list[list[float | None]]:
    """The grid for one account over all its published posts with metrics."""
    latest = metrics.latest(db)
    samples = []
    for post_id, published_at in metrics.published_times(db, channel).items():
        value = post_value("engagements", latest.get(post_id, {})) if post_id in latest else None
        if value is not None:
            samples.append((published_at, value))
    return engagement_grid(samples, zone)
