"""Listening: search the campaign's keywords where platforms allow it, store mentions once,
and raise an alert when a keyword's volume jumps well above its rolling baseline.

"Jangan menunggu informasi ramai beredar": a hoax is answered best before it spreads, so a
spike is shown in the terminal and log, and optionally sent to a staff Telegram chat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable

from planner.accounts.resolve import resolve_account
from planner.config import Config
from planner.errors import PlannerError
from planner.i18n import t
from planner.i18n.dates import format_number
from planner.platforms.base import NotSupported, PlatformError
from planner.domain.campaign import AppliedCampaign
from planner.domain.timefmt import parse_utc
from planner.store import campaigns
from planner.store import mentions as mentions_store
from planner.store import outbox

log = logging.getLogger("planner.listen")

SEARCHABLE = ("x", "mastodon", "bluesky")
WINDOW = timedelta(hours=1)        # a spike is measured over the last hour ...
BASELINE = timedelta(hours=24)     # ... against the hourly average of the day before it
MIN_SPIKE = 5                      # fewer mentions than this is never a spike
# X bills each post read (planner.platforms.x_cost): the posts read today (UTC) by listening, and whether the
# stop at [costs.x] daily_read_budget has been said today. JSON {"day": "2026-12-02", "reads": 0, "told": false}.
X_READS_SETTING = "listen.x_reads"


@dataclass
class Spike:
    campaign_id: str
    keyword: str
    count: int
    baseline: float
    top: list[dict] = field(default_factory=list)


@dataclass
class ListenResult:
    new_mentions: int = 0
    searched: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    spikes: list[Spike] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # said once a day, e.g. X's daily read budget is spent


def _campaigns(db, campaign: str | None) -> list[AppliedCampaign]:
    if campaign is None:
        return campaigns.list_all(db)
    found = campaigns.get(db, campaign)
    return [found] if found else []


def listen(config: Config, db, *, now: datetime, campaign: str | None = None,
           adapter_factory: Callable | None = None, pause: Callable[[], object] | None = None) -> ListenResult:
    """Search, store, detect spikes. ``pause`` (in `planner run`: wait while posts are being published) is
    called before each search and each write."""
    from planner.platforms import make_adapter

    pause = pause or (lambda: None)
    make = adapter_factory or (lambda channel: make_adapter(resolve_account(config, channel)))
    result = ListenResult()
    for applied in _campaigns(db, campaign):
        campaign_id, keywords = applied.id, list(applied.monitoring.keywords)
        if not keywords:
            continue
        last = mentions_store.newest_time(db, campaign_id)
        since = last - timedelta(minutes=5) if last else now - BASELINE - WINDOW
        searched_platforms: set[str] = set()
        for channel in applied.channels:
            account = config.accounts.get(channel)
            if account is None or account.platform not in SEARCHABLE or account.platform in searched_platforms:
                continue
            searched_platforms.add(account.platform)
            if account.platform == "x" and not _x_budget_left(config, db, now, channel, result):
                continue
            pause()
            try:
                mentions = make(channel).search_mentions(keywords, since)
            except NotSupported:
                continue
            except (PlatformError, PlannerError) as exc:
                message = exc.render() if isinstance(exc, PlannerError) else exc.message
                result.errors.append(f"{channel}: {message}")
                continue
            result.searched.append(channel)
            if account.platform == "x":
                _count_x_reads(db, now, len(mentions))
            pause()
            result.new_mentions += mentions_store.record(db, campaign_id, mentions, now=now)
        threshold = float(applied.monitoring.spike_threshold)
        for keyword in keywords:
            spike = detect_spike(db, campaign_id, keyword, now=now, threshold=threshold)
            if spike:
                result.spikes.append(spike)
                pause()
                _record_alert(db, spike, now)
    return result


def _x_reads(db, now: datetime) -> dict:
    """Today's (UTC) entry of X_READS_SETTING; a new day starts at zero."""
    day = now.astimezone(timezone.utc).date().isoformat()
    try:
        data = outbox.get_json_setting(db, X_READS_SETTING, {})
    except ValueError:
        data = {}
    if not isinstance(data, dict) or data.get("day") != day:
        data = {"day": day, "reads": 0, "told": False}
    return data


def _count_x_reads(db, now: datetime, reads: int) -> None:
    data = _x_reads(db, now)
    data["reads"] = int(data.get("reads") or 0) + reads
    outbox.set_json_setting(db, X_READS_SETTING, data, now=now)


def _x_budget_left(config: Config, db, now: datetime, channel: str, result: ListenResult) -> bool:
    """Whether X may be asked for mentions now: today's reads times post_read are below [costs.x]
    daily_read_budget (0: never). When not, says so once a day (log and ``result.notices``)."""
    from planner.platforms.x_cost import PriceError, x_prices

    try:
        prices = x_prices(config)
    except PriceError as exc:
        result.errors.append(f"{channel}: {t('x_cost.bad_price', key=exc.args[0], value=exc.args[1])}")
        return False
    budget = prices["daily_read_budget"]
    data = _x_reads(db, now)
    reads = int(data.get("reads") or 0)
    spent = reads * prices["post_read"]
    if budget > 0 and spent < budget:
        return True
    if not data.get("told"):
        if budget > 0:
            notice = t("x_cost.listen_budget_reached", reads=format_number(reads),
                       spent=format_number(spent, decimals=2), budget=format_number(budget, decimals=2))
        else:
            notice = t("x_cost.listen_budget_zero")
        log.warning(notice)
        result.notices.append(notice)
        data["told"] = True
        outbox.set_json_setting(db, X_READS_SETTING, data, now=now)
    return False


def hourly_counts(db, campaign_id: str, keyword: str, *, start: datetime, end: datetime) -> list[int]:
    """Mentions per hour from ``start`` to ``end`` (oldest first)."""
    hours = max(1, int((end - start) / timedelta(hours=1)))
    counts = [0] * hours
    for created in mentions_store.times(db, campaign_id, keyword, start=start, end=end):
        index = int((created - start) / timedelta(hours=1))
        if 0 <= index < hours:
            counts[index] += 1
    return counts


def detect_spike(db, campaign_id: str, keyword: str, *, now: datetime, threshold: float) -> Spike | None:
    window_start = now - WINDOW
    count = mentions_store.count_since(db, campaign_id, keyword, since=window_start, now=now)
    baseline_counts = hourly_counts(db, campaign_id, keyword, start=window_start - BASELINE, end=window_start)
    baseline = sum(baseline_counts) / len(baseline_counts)
    if not is_spike(count, baseline, threshold):
        return None
    if mentions_store.spike_raised_since(db, campaign_id, keyword, since=window_start):
        return None
    top = mentions_store.newest_of_keyword(db, campaign_id, keyword, since=window_start, limit=3)
    return Spike(campaign_id, keyword, count, baseline, top)


def is_spike(count: int, baseline: float, threshold: float) -> bool:
    """Well above the rolling baseline: at least ``threshold`` times it (a floor of one an hour)."""
    return count >= MIN_SPIKE and count >= threshold * max(baseline, 1.0)


def _record_alert(db, spike: Spike, now: datetime) -> None:
    detail = f"{spike.count} mentions in the last hour, baseline {spike.baseline:.1f}/hour"
    mentions_store.record_spike(db, spike.campaign_id, spike.keyword, now=now, count=spike.count,
                                baseline=spike.baseline, detail=detail)
    log.warning(t("log.spike", campaign=spike.campaign_id, keyword=spike.keyword, count=spike.count,
                  baseline=format_number(spike.baseline, decimals=1)))


def spike_message(spike: Spike, zone) -> str:
    """The alert in the user's language: the spike, then the top mentions quoted (times in ``zone``)."""
    from planner.i18n import t
    from planner.i18n.dates import format_moment

    lines = [t("listen.spike", keyword=spike.keyword, campaign=spike.campaign_id, count=spike.count,
               baseline=f"{spike.baseline:.1f}")]
    for mention in spike.top:
        when = format_moment(parse_utc(mention["created_at"]), zone)
        quote = " ".join(mention["text"][:200].split())  # one line per mention
        lines.append(f"“{quote}” — {mention['author']} ({mention['platform']}, {when})")
    return "\n".join(lines)


