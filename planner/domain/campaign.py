"""A campaign is the five parts of the humas social-media strategy:

1. goal (tujuan) with measurable KPIs, 2. target audiences (khalayak sasaran),
3. platforms/channels, 4. content from current issues, 5. monitoring and evaluation.

Plain values only; reading files and checking them is campaign_files.py's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

KPI_METRICS = (
    "reach", "views", "impressions", "engagements", "engagement_rate", "likes", "reposts",
    "replies", "clicks", "posts_published", "on_time_rate", "mentions",
)
REPORT_PERIODS = ("daily", "weekly", "monthly")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Blackout:
    """A window when nothing is published (a day of mourning, a quiet period). Times in UTC."""

    start: datetime
    end: datetime
    reason: str
    channels: tuple[str, ...] = ()   # empty: every channel
    campaign: str | None = None      # set for a campaign's own window: only its posts are held


@dataclass(frozen=True)
class Kpi:
    metric: str
    target: float
    platform: str = "all"
    deadline: date | None = None


@dataclass(frozen=True)
class Goal:
    objective: str
    kpis: tuple[Kpi, ...] = ()


@dataclass(frozen=True)
class Audience:
    id: str
    description: str
    platforms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Repeat:
    every_days: int | None = None          # every N days ...
    weekdays: tuple[int, ...] = ()         # ... or on these weekdays (0 = Monday) every week
    until: date | None = None              # last day (inclusive), local
    times: int | None = None               # or this many occurrences in all


@dataclass(frozen=True)
class Variant:
    text: str | None = None
    thread: tuple[str, ...] | None = None
    media: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ContentItem:
    id: str
    issue: str
    text: str
    audiences: tuple[str, ...] = ()
    link: str | None = None
    hashtags: tuple[str, ...] = ()
    media: tuple[str, ...] = ()            # paths as written (relative to the campaign file)
    thread: tuple[str, ...] = ()
    at: datetime | None = None             # local wall time (naive) in the campaign's zone
    slot: str | None = None
    channels: tuple[str, ...] = ()         # empty: all the campaign's channels
    variants: dict[str, Variant] = field(default_factory=dict)  # by platform or channel name
    repeat: Repeat | None = None
    standby: bool = False                  # a prepared answer: no time, published only by `planner respond`


@dataclass(frozen=True)
class Monitoring:
    collect_every: timedelta = timedelta(hours=6)
    track_for: timedelta = timedelta(days=7)
    keywords: tuple[str, ...] = ()
    spike_threshold: float = 3.0           # mentions per hour above this multiple of the baseline
    report_period: str = "weekly"


@dataclass(frozen=True)
class Playbook:
    """A ``[[response]]`` table: which spike calls for which standby answer (planner.response.playbooks)."""

    id: str
    keywords: tuple[str, ...] = ()      # the monitoring keyword that spiked is one of these ...
    phrases: tuple[str, ...] = ()       # ... or a top mention contains one of these (case-insensitive)
    min_ratio: float | None = None      # only when the last hour is at least this multiple of the baseline
    content: tuple[str, ...] = ()       # standby content ids, the first is the default answer
    channels: tuple[str, ...] = ()      # empty: every channel of the first standby item


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    owner: str
    timezone: ZoneInfo
    start: date
    end: date
    channels: tuple[str, ...]
    goal: Goal
    audiences: tuple[Audience, ...]
    content: tuple[ContentItem, ...]
    monitoring: Monitoring
    grace: timedelta | None = None         # overrides the config's grace for late posts
    utm: bool = True                       # tag links with the config's [utm] parameters (if any)
    blackouts: tuple[Blackout, ...] = ()   # the campaign's own quiet windows
    responses: tuple[Playbook, ...] = ()   # the response playbooks

    def window(self) -> tuple[datetime, datetime]:
        """First and last moment of the campaign, aware, in its zone (end day inclusive)."""
        return _window(self.start, self.end, self.timezone)


@dataclass(frozen=True)
class AppliedCampaign:
    """A campaign as last applied, read back from the store (planner.store.campaigns.get).

    Its parts without the content items (they live in the content table). A part missing from a campaign
    applied by an older version
    takes the default of its type above (Monitoring(), no blackouts...), so defaults live in one place.
    """

    id: str
    name: str
    owner: str
    timezone: ZoneInfo
    start: date
    end: date
    channels: tuple[str, ...] = ()
    goal: Goal = Goal(objective="")
    audiences: tuple[Audience, ...] = ()
    monitoring: Monitoring = Monitoring()
    blackouts: tuple[Blackout, ...] = ()   # each names this campaign (Blackout.campaign)
    playbooks: tuple[Playbook, ...] = ()   # its [[response]] tables (Campaign.responses), in file order

    def window(self) -> tuple[datetime, datetime]:
        """First and last moment of the campaign, aware, in its zone (end day inclusive)."""
        return _window(self.start, self.end, self.timezone)

    def deadline(self, kpi: Kpi) -> date:
        """A KPI's last day: its own deadline, else the campaign's end."""
        return kpi.deadline or self.end


def _window(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return datetime.combine(start, datetime.min.time(), zone), datetime.combine(end, datetime.max.time(), zone)


def render_text(item: ContentItem, channel: str, platform: str) -> str:
    """The text as posted on one channel: the variant if any, then hashtags not already present."""
    variant = item.variants.get(channel) or item.variants.get(platform)
    text = variant.text if variant and variant.text else item.text
    missing = [tag for tag in item.hashtags if f"#{tag}".casefold() not in text.casefold()]
    if missing:
        text = text.rstrip() + "\n\n" + " ".join(f"#{tag}" for tag in missing)
    return text


# Per-occurrence words in a text: the date and day of each occurrence, and its number. X and Facebook
# refuse a text identical to an earlier post, so a repeated post needs one of them to differ.
PLACEHOLDER = re.compile(r"\{(tanggal|hari|ke)\}")


def has_placeholders(text: str) -> bool:
    return "{" in text and PLACEHOLDER.search(text) is not None  # the cheap test first: most texts have none


def fill_placeholders(text: str, *, date_text: str, day_name: str, number: int) -> str:
    """{tanggal} -> '5 Februari 2027', {hari} -> 'Jumat', {ke} -> '3' (the occurrence, from 1)."""
    values = {"tanggal": date_text, "hari": day_name, "ke": str(number)}
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def render_thread(item: ContentItem, channel: str, platform: str) -> tuple[str, ...]:
    variant = item.variants.get(channel) or item.variants.get(platform)
    return variant.thread if variant and variant.thread is not None else item.thread


def render_media(item: ContentItem, channel: str, platform: str) -> tuple[str, ...]:
    variant = item.variants.get(channel) or item.variants.get(platform)
    return variant.media if variant and variant.media is not None else item.media
