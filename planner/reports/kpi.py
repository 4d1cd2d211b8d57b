"""Evaluate a campaign's KPIs from the stored snapshots, mentions and post outcomes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time

from planner.domain.kpi import ON_TIME_MS, Assessment, assess, post_value
from planner.store import campaigns, mentions, metrics, reporting


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
    totals: dict[str, dict] = {}
    for post_id, platform, state, late_ms in reporting.outcomes(db, campaign_id):
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
    """``latest``: the posts' latest figures if the caller has them already (planner.store.metrics.latest)."""
    campaign = campaigns.get(db, campaign_id)
    if campaign is None:
        return []
    start, _ = campaign.window()
    totals = platform_totals(db, campaign_id, latest if latest is not None else metrics.latest(db, campaign_id))
    mention_count = mentions.count(db, campaign_id)
    results = []
    for kpi in campaign.goal.kpis:
        deadline_day = campaign.deadline(kpi)
        deadline = datetime.combine(deadline_day, time.max, campaign.timezone)
        bucket = totals.get(kpi.platform, {"published": 0, "on_time": 0, "due": 0, "posts": [], "latest": []})
        if kpi.metric == "mentions":
            actual, counted, without = float(mention_count), mention_count, 0
        else:
            actual, counted, without = metric_total(bucket, kpi.metric)
        assessment = assess(kpi.metric, actual, kpi.target, start, deadline, now)
        if kpi.metric == "posts_published":
            assessment = _scheduled_projection(db, campaign_id, kpi.platform, assessment, deadline, now)
        results.append(KpiResult(kpi.metric, kpi.platform, deadline_day, assessment, counted, without))
    return results


# Posts that may still go out by themselves: counted towards the posts_published projection.
_STILL_TO_COME = ("draft", "pending_approval", "queued", "publishing", "failed_retryable", "unknown", "held")


def _scheduled_projection(db, campaign_id: str, platform: str, assessment: Assessment, deadline: datetime,
                          now: datetime) -> Assessment:
    """Posts are scheduled, not a pace: the projection of posts_published is what is published plus what is
    still scheduled before the deadline (21 published in the first minute is not "413 by the deadline")."""
    if assessment.status in ("achieved", "missed"):
        return replace(assessment, projected=assessment.actual)
    coming = reporting.count_due_by(db, campaign_id, states=_STILL_TO_COME, until=deadline,
                                    platform=None if platform == "all" else platform)
    projected = assessment.actual + coming
    status = "on_track" if projected >= assessment.target else "at_risk"
    if assessment.status == "not_started" and not coming:
        status = "not_started"
    return replace(assessment, projected=projected, status=status)
