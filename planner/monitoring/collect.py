"""Metrics collection: ask each platform for its published posts' numbers, store snapshots.

History is never overwritten: each collection appends (post, time, metric, value) rows, so
growth curves and "engagement after 24 h" can be computed later. A platform that gives no
metrics (Telegram) is recorded as not available, never as zeros.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from planner.accounts.resolve import resolve_account
from planner.config import Config
from planner.domain.campaign import Monitoring
from planner.errors import PlannerError
from planner.i18n import t
from planner.i18n.platform_errors import say
from planner.platforms.base import NotSupported, PlatformError
from planner.store import campaigns, metrics

log = logging.getLogger("planner.metrics")


@dataclass
class CollectResult:
    posts: int = 0
    snapshots: int = 0
    not_available: int = 0
    errors: list[str] = field(default_factory=list)
    campaigns: set[str] = field(default_factory=set)


def posts_to_collect(db, *, now: datetime, campaign: str | None = None, force: bool = False) -> list[dict]:
    """Published posts inside their tracking window whose last collection is older than the period."""
    settings = {c.id: c.monitoring for c in campaigns.list_all(db)}
    due = []
    for post in metrics.collectable(db, campaign=campaign):
        monitoring = settings.get(post.campaign_id, Monitoring())
        if post.available is False:
            continue
        if not force and post.published_at + monitoring.track_for < now:
            continue
        if not force and post.last_collected_at is not None and post.last_collected_at + monitoring.collect_every > now:
            continue
        due.append({"id": post.id, "campaign_id": post.campaign_id, "channel": post.channel,
                    "platform": post.platform, "ref": post.ref})
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
        metrics.record_totals(db, campaign_id, now=now)
    return result


def _record(db, batch: list[dict], snapshots, now: datetime, *, available: bool, note: str | None = None) -> int:
    ids = {p["ref"]: p["id"] for p in batch}
    return metrics.record(db, [p["id"] for p in batch],
                          [(ids[s.platform_post_id], s.metric, s.value) for s in snapshots if s.platform_post_id in ids],
                          now=now, available=available, note=note)
