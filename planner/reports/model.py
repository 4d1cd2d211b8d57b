"""The report model: everything a monitoring and evaluation report says, as plain data.

One model, several renderers (terminal text, HTML, CSV, XLSX, JSON). Times are UTC ISO text in
the model; renderers show them in the campaign's zone.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime

from planner.domain.best_time import engagement_grid
from planner.domain.kpi import ENGAGEMENT_PARTS, ON_TIME_MS, post_value
from planner.domain.timefmt import parse_utc, utc_iso
from planner.reports.kpi import evaluate
from planner.store import campaigns, mentions, metrics, reporting

PLATFORM_METRICS = ("reach", "views", "engagements", "clicks", *ENGAGEMENT_PARTS)


@dataclass
class Report:
    campaign: dict
    generated_at: str
    period_from: str | None
    period_to: str | None
    kpis: list[dict] = field(default_factory=list)
    platforms: list[dict] = field(default_factory=list)
    audiences: list[dict] = field(default_factory=list)
    issues: list[dict] = field(default_factory=list)
    top_posts: list[dict] = field(default_factory=list)
    posts: list[dict] = field(default_factory=list)
    engagement_over_time: list[dict] = field(default_factory=list)
    best_times: list[list[float | None]] = field(default_factory=list)  # [weekday][hour] mean engagements
    mentions_over_time: dict[str, list[dict]] = field(default_factory=dict)
    spikes: list[dict] = field(default_factory=list)
    top_mentions: list[dict] = field(default_factory=list)
    reliability: dict = field(default_factory=dict)
    metrics_not_available: list[str] = field(default_factory=list)
    fast_responses: dict = field(default_factory=dict)  # "respons cepat" (planner.response.report)
    x_cost: dict = field(default_factory=dict)  # estimated X cost (planner.platforms.x_cost); {} without X posts

    def to_dict(self) -> dict:
        # Shallow: the fields hold plain dicts and lists already (asdict would deep-copy 100,000 posts).
        return {f.name: getattr(self, f.name) for f in fields(self)}


def build_report(db, campaign_id: str, *, now: datetime, start: datetime | None = None,
                 end: datetime | None = None, top: int = 10, prices: dict[str, float] | None = None) -> Report | None:
    """``prices``: X's prices (planner.platforms.x_cost.x_prices of the config; None: the published defaults)."""
    campaign = campaigns.get(db, campaign_id)
    if campaign is None:
        return None
    report = Report(
        campaign={"id": campaign.id, "name": campaign.name, "owner": campaign.owner,
                  "objective": campaign.goal.objective, "timezone": campaign.timezone.key,
                  "start": campaign.start.isoformat(), "end": campaign.end.isoformat(),
                  "keywords": list(campaign.monitoring.keywords)},
        generated_at=utc_iso(now),
        period_from=utc_iso(start) if start else None,
        period_to=utc_iso(end) if end else None,
    )
    latest = metrics.latest(db, campaign_id, until=end if end and end < now else None)
    for result in evaluate(db, campaign_id, now=end or now, latest=latest):
        a = result.assessment
        report.kpis.append({"metric": result.metric, "platform": result.platform,
                            "deadline": result.deadline.isoformat(), "target": a.target, "actual": a.actual,
                            "percent": a.percent, "projected": a.projected, "status": a.status,
                            "elapsed": a.elapsed, "posts_counted": result.posts_counted,
                            "posts_without_data": result.posts_without_data})
    content = reporting.content_tags(db, campaign_id)
    platform_rows: dict[str, dict] = {}
    audience_rows: dict[str, dict] = defaultdict(lambda: {"posts": 0, "engagements": None, "reach": None})
    issue_rows: dict[str, dict] = defaultdict(lambda: {"posts": 0, "engagements": None, "reach": None})
    no_metrics = metrics.platforms_without_metrics(db, campaign_id)
    best_samples: list[tuple[str, int]] = []
    reliability = defaultdict(int)
    for record in reporting.posts(db, campaign_id, start=start, end=end):
        post_id, content_id, platform, state = record["id"], record["content_id"], record["platform"], record["state"]
        values = latest.get(post_id, {})
        engagements = post_value("engagements", values) if values else None
        reach = post_value("reach", values) if values else None
        if state == "published":
            reliability["on_time" if (record["late_ms"] or 0) <= ON_TIME_MS else "late"] += 1
        elif state in ("failed", "missed", "needs_review", "canceled"):
            reliability[state] += 1
        else:
            reliability["pending"] += 1
        # A figure stays None until some post of the platform has it: "not given" is not zero.
        entry = platform_rows.get(platform)
        if entry is None:
            entry = platform_rows[platform] = {"platform": platform, "published": 0,
                                               "metrics_available": platform not in no_metrics,
                                               **{m: None for m in PLATFORM_METRICS}}
        record.update(engagements=engagements, reach=reach, metrics=values)
        report.posts.append(record)
        if state != "published":
            continue
        entry["published"] += 1
        for metric in PLATFORM_METRICS:
            if metric == "engagements":
                value = engagements
            elif metric == "reach":
                value = reach
            else:
                value = post_value(metric, values) if values else None
            if value is not None:
                entry[metric] = (entry[metric] or 0) + value
        info = content.get(content_id, {"issue": "", "audiences": []})
        for bucket in [issue_rows[info["issue"] or "-"], *(audience_rows[a] for a in info["audiences"])]:
            bucket["posts"] += 1
            if engagements is not None:
                bucket["engagements"] = (bucket["engagements"] or 0) + engagements
            if reach is not None:
                bucket["reach"] = (bucket["reach"] or 0) + reach
        if engagements is not None and record["published_at"]:
            best_samples.append((record["published_at"], engagements))
    report.platforms = sorted(platform_rows.values(), key=lambda r: r["platform"])
    report.metrics_not_available = [r["platform"] for r in report.platforms if not r["metrics_available"]]
    report.audiences = [{"audience": k, **v} for k, v in sorted(audience_rows.items())]
    report.issues = [{"issue": k, **v} for k, v in sorted(issue_rows.items())]
    ranked = [p for p in report.posts if p["state"] == "published" and p["engagements"] is not None]
    report.top_posts = sorted(ranked, key=lambda p: p["engagements"], reverse=True)[:top]
    report.best_times = engagement_grid(best_samples, campaign.timezone)
    report.reliability = dict(reliability)
    report.engagement_over_time = _engagement_over_time(db, campaign_id, start, end)
    report.mentions_over_time, report.spikes, report.top_mentions = _mentions(db, campaign_id, start, end)
    from planner.response.report import fast_responses

    report.fast_responses = fast_responses(db, campaign_id, start, end)
    report.x_cost = x_cost(db, campaign_id, prices)
    return report


# Posts that went out or may still go out; a canceled, failed or missed post costs nothing more.
X_COST_STATES_EXCLUDED = ("canceled", "failed", "missed")


def x_cost(db, campaign_id: str, prices: dict[str, float] | None) -> dict:
    """The campaign's estimated X cost, published and planned posts alike (each thread part is a post, a post
    with a URL at the URL price): {"posts", "with_link", "usd", "post", "post_with_link"}, {} without X posts."""
    from planner.platforms.x_cost import DEFAULT_PRICES, estimate

    prices = prices or DEFAULT_PRICES
    found = estimate(reporting.texts_on(db, campaign_id, "x", excluding=X_COST_STATES_EXCLUDED), prices)
    if not found["posts"]:
        return {}
    return {**found, "post": prices["post"], "post_with_link": prices["post_with_link"]}


def _engagement_over_time(db, campaign_id: str, start: datetime | None, end: datetime | None) -> list[dict]:
    """Campaign totals after each collection (recorded by the collector), at most about 60 points."""
    rows = metrics.totals_over_time(db, campaign_id, start=start, end=end)
    if len(rows) > 60:  # keep charts readable: sample evenly, always keeping the last point
        step = len(rows) / 60
        rows = [rows[int(i * step)] for i in range(60)] + [rows[-1]]
    return rows


def _mentions(db, campaign_id: str, start: datetime | None, end: datetime | None):
    over_time: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for keyword, created in mentions.keyword_times(db, campaign_id, start=start, end=end):
        hour = parse_utc(created).replace(minute=0, second=0, microsecond=0)
        over_time[keyword][utc_iso(hour)] += 1
    series = {k: [{"at": t, "count": n} for t, n in sorted(v.items())] for k, v in over_time.items()}
    spikes = mentions.spikes(db, campaign_id, start=start, end=end)
    top = mentions.newest(db, campaign_id, start=start, end=end, limit=10)
    return series, spikes, top
