"""The report model: everything a monitoring and evaluation report says, as plain data.

One model, several renderers (terminal text, HTML, CSV, XLSX, JSON). Times are UTC ISO text in
the model; renderers show them in the campaign's zone.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import datetime
from zoneinfo import ZoneInfo

from planner.domain.kpi import ENGAGEMENT_PARTS, post_value
from planner.monitoring.best_time import engagement_grid
from planner.monitoring.collect import latest_metrics
from planner.monitoring.kpi import ON_TIME_MS, evaluate
from planner.store.db import parse_utc, utc_iso

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
    row = db.execute("SELECT spec, start_at, end_at FROM campaigns WHERE id = ?", [campaign_id]).fetchone()
    if row is None:
        return None
    spec = json.loads(row[0])
    zone = ZoneInfo(spec["timezone"])
    report = Report(
        campaign={"id": spec["id"], "name": spec["name"], "owner": spec["owner"],
                  "objective": spec["goal"]["objective"], "timezone": spec["timezone"],
                  "start": spec["start"], "end": spec["end"], "keywords": spec["monitoring"]["keywords"]},
        generated_at=utc_iso(now),
        period_from=utc_iso(start) if start else None,
        period_to=utc_iso(end) if end else None,
    )
    latest = latest_metrics(db, campaign_id, utc_iso(end) if end and end < now else None)
    for result in evaluate(db, campaign_id, now=end or now, latest=latest):
        a = result.assessment
        report.kpis.append({"metric": result.metric, "platform": result.platform,
                            "deadline": result.deadline.isoformat(), "target": a.target, "actual": a.actual,
                            "percent": a.percent, "projected": a.projected, "status": a.status,
                            "elapsed": a.elapsed, "posts_counted": result.posts_counted,
                            "posts_without_data": result.posts_without_data})
    content = {r["id"]: {"issue": r["issue"], "audiences": json.loads(r["audiences"])}
               for r in db.query("SELECT id, issue, audiences FROM content WHERE campaign_id = ?", [campaign_id])}
    clauses, params = _period("due_at", start, end)
    posts = db.execute(f"SELECT id, content_id, channel, platform, state, due_at, published_at, late_ms, url, "
                       f"text, last_error FROM posts WHERE campaign_id = ?{clauses} ORDER BY due_at, id",
                       [campaign_id, *params]).fetchall()
    platform_rows: dict[str, dict] = {}
    audience_rows: dict[str, dict] = defaultdict(lambda: {"posts": 0, "engagements": None, "reach": None})
    issue_rows: dict[str, dict] = defaultdict(lambda: {"posts": 0, "engagements": None, "reach": None})
    no_metrics = platforms_without_metrics(db, campaign_id)
    best_samples: list[tuple[str, int]] = []
    reliability = defaultdict(int)
    for post_id, content_id, channel, platform, state, due_at, published_at, late_ms, url, text, error in posts:
        values = latest.get(post_id, {})
        engagements = post_value("engagements", values) if values else None
        reach = post_value("reach", values) if values else None
        if state == "published":
            reliability["on_time" if (late_ms or 0) <= ON_TIME_MS else "late"] += 1
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
        record = {"id": post_id, "content_id": content_id, "channel": channel, "platform": platform,
                  "state": state, "due_at": due_at, "published_at": published_at, "late_ms": late_ms, "url": url,
                  "text": text, "error": error, "engagements": engagements, "reach": reach, "metrics": values}
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
        if engagements is not None and published_at:
            best_samples.append((published_at, engagements))
    report.platforms = sorted(platform_rows.values(), key=lambda r: r["platform"])
    report.metrics_not_available = [r["platform"] for r in report.platforms if not r["metrics_available"]]
    report.audiences = [{"audience": k, **v} for k, v in sorted(audience_rows.items())]
    report.issues = [{"issue": k, **v} for k, v in sorted(issue_rows.items())]
    ranked = [p for p in report.posts if p["state"] == "published" and p["engagements"] is not None]
    report.top_posts = sorted(ranked, key=lambda p: p["engagements"], reverse=True)[:top]
    report.best_times = engagement_grid(best_samples, zone)
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
    marks = ",".join("?" * len(X_COST_STATES_EXCLUDED))
    rows = [{"platform": "x", "text": text, "link": link, "thread": json.loads(thread or "[]")}
            for text, link, thread in db.execute(
                f"SELECT text, link, thread FROM posts WHERE campaign_id = ? AND platform = 'x' "
                f"AND state NOT IN ({marks})", [campaign_id, *X_COST_STATES_EXCLUDED])]
    found = estimate(rows, prices)
    if not found["posts"]:
        return {}
    return {**found, "post": prices["post"], "post_with_link": prices["post_with_link"]}


def platforms_without_metrics(db, campaign_id: str) -> set[str]:
    """Platforms whose posts the collector found to have no metrics at all (e.g. Telegram)."""
    rows = db.execute("""SELECT p.platform, MAX(s.available) FROM metric_status s JOIN posts p ON p.id = s.post_id
                         WHERE p.campaign_id = ? GROUP BY p.platform""", [campaign_id]).fetchall()
    return {platform for platform, available in rows if not available}


def _engagement_over_time(db, campaign_id: str, start: datetime | None, end: datetime | None) -> list[dict]:
    """Campaign totals after each collection (recorded by the collector), at most about 60 points."""
    clauses, params = _period("collected_at", start, end)
    rows = db.execute(f"SELECT collected_at, engagements, reach FROM metric_totals WHERE campaign_id = ?{clauses} "
                      f"ORDER BY collected_at", [campaign_id, *params]).fetchall()
    if len(rows) > 60:  # keep charts readable: sample evenly, always keeping the last point
        step = len(rows) / 60
        rows = [rows[int(i * step)] for i in range(60)] + [rows[-1]]
    return [{"at": at, "engagements": engagements, "reach": reach} for at, engagements, reach in rows]


def _period(column: str, start: datetime | None, end: datetime | None) -> tuple[str, list]:
    """SQL (" AND column >= ? AND column < ?") and parameters for the report's period."""
    clauses, params = "", []
    if start:
        clauses += f" AND {column} >= ?"
        params.append(utc_iso(start))
    if end:
        clauses += f" AND {column} < ?"
        params.append(utc_iso(end))
    return clauses, params


def _mentions(db, campaign_id: str, start: datetime | None, end: datetime | None):
    clauses, period = _period("created_at", start, end)
    params = [campaign_id, *period]
    over_time: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for keyword, created in db.execute(f"SELECT keyword, created_at FROM mentions WHERE campaign_id = ?{clauses}",
                                       params):
        hour = parse_utc(created).replace(minute=0, second=0, microsecond=0)
        over_time[keyword][utc_iso(hour)] += 1
    series = {k: [{"at": t, "count": n} for t, n in sorted(v.items())] for k, v in over_time.items()}
    spike_clauses, _ = _period("at", start, end)
    spikes = [dict(r) for r in db.query(
        f"SELECT keyword, at, window_count, baseline, detail FROM alerts WHERE campaign_id = ?{spike_clauses} "
        f"ORDER BY at", params)]
    top = [dict(r) for r in db.query(
        f"SELECT platform, keyword, author, text, url, created_at FROM mentions WHERE campaign_id = ?{clauses} "
        f"ORDER BY created_at DESC LIMIT 10", params)]
    return series, spikes, top
