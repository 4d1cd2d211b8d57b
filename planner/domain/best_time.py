"""Best time to post: mean engagement by local weekday x hour."""

from __future__ import annotations

from typing import Iterable

from planner.domain.timefmt import parse_utc


def engagement_grid(samples: Iterable[tuple[str, int]], zone) -> list[list[float | None]]:
    """[weekday][hour] -> mean engagements of posts published then (None: no post then). ``samples``:
    (published_at as UTC text, engagements)."""
    total = [[0.0] * 24 for _ in range(7)]
    count = [[0] * 24 for _ in range(7)]
    for published_at, engagements in samples:
        local = parse_utc(published_at).astimezone(zone)
        total[local.weekday()][local.hour] += engagements
        count[local.weekday()][local.hour] += 1
    return [[total[d][h] / count[d][h] if count[d][h] else None for h in range(24)] for d in range(7)]
