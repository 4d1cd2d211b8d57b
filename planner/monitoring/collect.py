"""Metrics collection: ask each platform for its published posts' numbers, store snapshots.

History is never overwritten: each collection appends (post, time, metric, value) rows, so
growth curves and "engagement after 24 h" can be computed later. A platform that gives no
metrics (Telegram) is recorded as not available, never as zeros.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from planner.config import Config, resolve_account
from planner.errors import PlannerError
from planner.i18n import t
from planner.i18n.platform_errors import say
from planner.platforms.base import NotSupported, PlatformError
from planner.store.db import parse_utc, transaction, utc_iso

log = logging.getLogger("planner.metrics")


@dataclass
class CollectResult:
    posts: int = 0
    snapshots: int = 0
    not_available: int = 0
    errors: list[str] = field(default_factory=list)
    campaigns: set[str] = field(default_factory=set)


def _campaign_monitoring(db) -> dict[str, tuple[timedelta, timedelta]]:
    """campaign id -> (collect_every, track_for)."""
    found = {}
    for campaign_id, spec in db.execute("SELECT id, spec FROM campaigns"):
        monitoring = json.loads(spec).get("monitoring", {})
        found[campaign_id] = (timedelta(seconds=monitoring.get("collect_every", 6 * 3600)),
                              timedelta(seconds=monitoring.get("track_for", 7 * 86400)))
    return found


def posts_to_collect(db, *, now: datetime, campaign: str | None = None, force: bool = False) -> list[dict]:
    """Published posts inside their tracking window whose last collection is older than the period."""
    windows = _campaign_monitoring(db)
    params: list = []
    where = "p.state = 'published' AND p.platform_post_id IS NOT NULL"
    if campaign:
        where += " AND p.campaign_id = ?"
        params.append(campaign)
    rows = db.execute(
        f"""SELECT p.id, p.campaign_id, p.channel, p.platform, p.platform_post_id, p.published_at,
                   s.last_collected_at, s.available
            FROM posts p LEFT JOIN metric_status s ON s.post_id = p.id WHERE {where}""", params).fetchall()
    due = []
    for post_id, campaign_id, channel, platform, ref, published_at, last, available in rows:
        every, track_for = windows.get(campaign_id, (timedelta(hours=6), timedelta(days=7)))
        if available == 0:
            continue
        if not force and parse_utc(published_at) + track_for < now:
            continue
        if not force and last is not None and parse_utc(last) + every > now:
            continue
        due.append({"id": post_id, "campaign_id": campaign_id, "channel": channel, "platform": platform, "ref": ref})
    return due


def collect_metrics(config: Config, db, *, now: datetime, campaign: str | None = None, force: bool = False,
                    adapter_factory: Callable | None = None, progress: Callable[[int], None] | None = None,
                    workers: int | None = None, pause: Callable[[], object] | None = None) -> CollectResult:
    """Fetch metrics for every post due for collection, in batches the platforms accept.

    Batches run on a thread pool (a platform answers a batch in tens of milliseconds; one at a time,
    10,000 posts would take minutes); each thread has its own adapters, and only this thread
    writes to the database, one small transaction per batch. ``pause`` (in `planner run`: wait while
    posts are being published) is called before each request and each write.
    """
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from planner.platforms import make_adapter
    from planner.platforms.pool import AdapterPool

    adapter_for = AdapterPool(adapter_factory or (lambda channel: make_adapter(resolve_account(config, channel)))).get

    # Per account, at most a few batches at once: one account's reads never take the whole pool.
    per_account = max(1, 4 * config.pacing.max_in_flight)
    gates: dict[str, threading.BoundedSemaphore] = defaultdict(lambda: threading.BoundedSemaphore(per_account))

    def fetch(channel: str, batch: list[dict], gate: threading.BoundedSemaphore):
        with gate:
            if pause:
                pause()
            try:
                return batch, adapter_for(channel).fetch_metrics([p["ref"] for p in batch]), None
            except (PlannerError, PlatformError) as exc:
                return batch, None, exc

    result = CollectResult()
    by_channel: dict[str, list[dict]] = defaultdict(list)
    for post in posts_to_collect(db, now=now, campaign=campaign, force=force):
        by_channel[post["channel"]].append(post)
    jobs = []
    for channel, posts in by_channel.items():
        try:
            size = max(1, getattr(adapter_for(channel), "metrics_batch_size", 20))
        except (PlannerError, PlatformError) as exc:
            result.errors.append(f"{channel}: {exc.render() if isinstance(exc, PlannerError) else exc.message}")
            continue
        jobs += [(channel, posts[i:i + size]) for i in range(0, len(posts), size)]
    failed_channels: set[str] = set()
    with ThreadPoolExecutor(max_workers=workers or max(4, 2 * config.workers), thread_name_prefix="metrics") as pool:
        futures = [pool.submit(fetch, channel, batch, gates[channel]) for channel, batch in jobs]
        for (channel, _), future in zip(jobs, futures):
            batch, snapshots, error = future.result()
            if pause:
                pause()
            if isinstance(error, NotSupported):
                _record(db, batch, [], now, available=False, note=error.message)
                result.not_available += len(batch)
            elif error is not None:
                if channel not in failed_channels:  # one message per account, not per batch
                    failed_channels.add(channel)
                    message = error.render() if isinstance(error, PlannerError) else error.message
                    result.errors.append(f"{channel}: {message}")
                    log.warning(t("log.metrics_failed", channel=channel, error=say(message)))
            else:
                result.snapshots += _record(db, batch, snapshots, now, available=True)
                result.posts += len(batch)
                result.campaigns.update(p["campaign_id"] for p in batch)
            if progress:
                progress(len(batch))
    for campaign_id in sorted(result.campaigns):
        if pause:
            pause()
        record_totals(db, campaign_id, now)
    return result


def _record(db, batch: list[dict], snapshots, now: datetime, *, available: bool, note: str | None = None) -> int:
    ids = {p["ref"]: p["id"] for p in batch}
    now_s = utc_iso(now)
    rows = [(ids[s.platform_post_id], now_s, s.metric, int(s.value)) for s in snapshots if s.platform_post_id in ids]
    with transaction(db) as conn:
        conn.executemany("INSERT INTO metric_snapshots (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO metric_latest (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (post_id, metric) DO UPDATE SET value = excluded.value, collected_at = excluded.collected_at "
            "WHERE excluded.collected_at >= metric_latest.collected_at", rows)
        conn.executemany(
            "INSERT INTO metric_status (post_id, last_collected_at, available, note) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (post_id) DO UPDATE SET last_collected_at = excluded.last_collected_at, "
            "available = excluded.available, note = excluded.note",
            [(p["id"], now_s, int(available), note) for p in batch])
    return len(rows)


# The campaign totals follow planner.domain.kpi.post_value: a post's engagements are its own
# "engagements" figure if the platform gives one, else likes + reposts + replies + quotes + saves;
# its reach is reach, else views, else impressions. (tests/integration/test_monitoring.py checks
# this SQL against post_value.)
_TOTALS_SQL = """
    SELECT COALESCE(SUM(eng), 0), COALESCE(SUM(reach), 0) FROM (
        SELECT COALESCE(MAX(CASE WHEN l.metric = 'engagements' THEN l.value END),
                        SUM(CASE WHEN l.metric IN ('likes', 'reposts', 'replies', 'quotes', 'saves')
                                 THEN l.value END)) AS eng,
               COALESCE(MAX(CASE WHEN l.metric = 'reach' THEN l.value END),
                        MAX(CASE WHEN l.metric = 'views' THEN l.value END),
                        MAX(CASE WHEN l.metric = 'impressions' THEN l.value END)) AS reach
        FROM metric_latest l JOIN posts p ON p.id = l.post_id
        WHERE p.campaign_id = ? GROUP BY l.post_id)"""


def record_totals(db, campaign_id: str, at: datetime) -> None:
    """Append the campaign's totals as of this collection (the engagement-over-time series)."""
    with transaction(db) as conn:
        engagements, reach = conn.execute(_TOTALS_SQL, [campaign_id]).fetchone()
        conn.execute("INSERT INTO metric_totals (campaign_id, collected_at, engagements, reach) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (campaign_id, collected_at) DO UPDATE SET engagements = excluded.engagements, "
                     "reach = excluded.reach", [campaign_id, utc_iso(at), engagements, reach])


def latest_metrics(db, campaign: str | None = None, until: str | None = None) -> dict[int, dict[str, int]]:
    """post id -> metric -> latest value (optionally as of ``until``, from the full history)."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if until is None:
        where, params = ("JOIN posts p ON p.id = l.post_id WHERE p.campaign_id = ?", [campaign]) if campaign else ("", [])
        for post_id, metric, value in db.execute(f"SELECT l.post_id, l.metric, l.value FROM metric_latest l {where}",
                                                 params):
            found[post_id][metric] = value
        return found
    clauses, params = ["m.collected_at <= ?"], [until]
    if campaign:
        clauses.append("p.campaign_id = ?")
        params.append(campaign)
    # The newest snapshot per (post, metric) up to ``until``: MAX(collected_at) picks the row's value in SQLite.
    for post_id, metric, value, _ in db.execute(
            f"""SELECT m.post_id, m.metric, m.value, MAX(m.collected_at) FROM metric_snapshots m
                JOIN posts p ON p.id = m.post_id WHERE {' AND '.join(clauses)} GROUP BY m.post_id, m.metric""", params):
        found[post_id][metric] = value
    return found
