"""Evaluate a campaign's KPIs from the stored snapshots, mentions and post outcomes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from planner.domain.kpi import Assessment, assess, post_value
from planner.monitoring.collect import latest_metrics
from planner.store.db import parse_utc

ON_TIME_MS = 60_000  # published within a minute of its time counts as on time


@dataclass(frozen=True)
class KpiResult:
    metric: str
    platform: str
    deadline: date
    assessment: Assessment
    posts_counted: int       # posts that contributed a figure
    posts_without_data: int  # published posts whose platform gives no such figure


def platform_totals(db, campaign_id: str, latest: dict[int, dict[str, int]]) -> dict[str, dict]:
    """Per platform (and 'all'): the posts' latest figures, counts of published/on-time/failed posts."""
    posts = db.execute("SELECT id, platform, state, late_ms FROM posts WHERE campaign_id = ?",
                       [campaign_id]).fetchall()
    totals: dict[str, dict] = {}
    for post_id, platform, state, late_ms in posts:
        for key in (platform, "all"):
            bucket = totals.get(key)
            if bucket is None:
                bucket = totals[key] = {"published": 0, "on_time": 0, "due": 0, "posts": [], "latest": []}
            if state in ("published", "missed", "failed", "needs_review"):
                bucket["due"] += 1
            if state == "published":
                bucket["published"] += 1
                bucket["on_time"] += int((late_ms or 0) <= ON_TIME_MS)
                bucket["posts"].append(post_id)
                bucket["latest"].append(latest.get(post_id))
    return totals


def metric_total(bucket: dict, metric: str) -> tuple[float, int, int]:
    """(total, posts with a figure, published posts without one) for one bucket."""
    if metric == "posts_published":
        return float(bucket["published"]), bucket["published"], 0
    if metric == "on_time_rate":
        return (bucket["on_time"] / bucket["due"] * 100 if bucket["due"] else 0.0), bucket["due"], 0
    if metric == "engagement_rate":
        engaged = reach = 0
        counted = 0
        for values in bucket["latest"]:
            if not values:
                continue
            e, r = post_value("engagements", values), post_value("reach", values)
            if e is not None and r:
                engaged, reach, counted = engaged + e, reach + r, counted + 1
        return (engaged / reach * 100 if reach else 0.0), counted, len(bucket["latest"]) - counted
    total, counted = 0, 0
    for values in bucket["latest"]:
        value = post_value(metric, values) if values else None
        if value is not None:
            total += value
            counted += 1
    return float(total), counted, len(bucket["latest"]) - counted


def evaluate(db, campaign_id: str, *, now: datetime, latest: dict[int, dict[str, int]] | None = None
             ) -> list[KpiResult]:
    """``latest``: the posts' latest figures if the caller has them already (see latest_metrics)."""
    row = db.execute("SELECT spec, start_at FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    if row is None:
        return []
    spec = json.loads(row[0])
    zone = ZoneInfo(spec["timezone"])
    start = parse_utc(row[1])
    totals = platform_totals(db, campaign_id, latest if latest is not None else latest_metrics(db, campaign_id))
    mentions = db.execute("SELECT COUNT(*) FROM mentions WHERE campaign_id = ?", [campaign_id]).fetchone()[0]
    results = []
    for kpi in spec["goal"]["kpis"]:
        deadline_day = date.fromisoformat(kpi["deadline"] or spec["end"])
        deadline = datetime.combine(deadline_day, time.max, zone)
        bucket = totals.get(kpi["platform"], {"published": 0, "on_time": 0, "due": 0, "posts": [], "latest": []})
        if kpi["metric"] == "mentions":
            actual, counted, without = float(mentions), mentions, 0
        else:
            actual, counted, without = metric_total(bucket, kpi["metric"])
        assessment = assess(kpi["metric"], actual, kpi["target"], start, deadline, now)
        if kpi["metric"] == "posts_published":
            assessment = _scheduled_projection(db, campaign_id, kpi["platform"], assessment, deadline, now)
        results.append(KpiResult(kpi["metric"], kpi["platform"], deadline_day, assessment, counted, without))
    return results


# Posts that may still go out by themselves: counted towards the posts_published projection.
_STILL_TO_COME = ("draft", "pending_approval", "queued", "publishing", "failed_retryable", "unknown", "held")


def _scheduled_projection(db, campaign_id: str, platform: str, assessment: Assessment, deadline: datetime,
                          now: datetime) -> Assessment:
    """Posts are scheduled, not a pace: the projection of posts_published is what is published plus what is
    still scheduled before the deadline (21 published in the first minute is not "413 by the deadline")."""
    from dataclasses import replace

    from planner.store.db import utc_iso

    if assessment.status in ("achieved", "missed"):
        return replace(assessment, projected=assessment.actual)
    marks = ",".join("?" * len(_STILL_TO_COME))
    where = "" if platform == "all" else " AND platform = ?"
    coming = db.execute(f"SELECT COUNT(*) FROM posts WHERE campaign_id = ? AND state IN ({marks}) AND due_at <= ?"
                        f"{where}", [campaign_id, *_STILL_TO_COME, utc_iso(deadline),
                                     *([] if platform == "all" else [platform])]).fetchone()[0]
    projected = assessment.actual + coming
    status = "on_track" if projected >= assessment.target else "at_risk"
    if assessment.status == "not_started" and not coming:
        status = "not_started"
    return replace(assessment, projected=projected, status=status)
