"""Read campaigns/*.toml into a Campaign, reporting every problem with file, dotted path and fix.

Nothing here touches the database. Paths in problems are 1-based for lists, the way staff
count (``content[3]`` is the third ``[[content]]`` block), and name the exact key.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from planner import clock
from planner.config import PLATFORMS, Config, parse_duration
from planner.domain.campaign import (
    KPI_METRICS,
    Blackout,
    REPORT_PERIODS,
    WEEKDAYS,
    Audience,
    Campaign,
    ContentItem,
    Goal,
    Kpi,
    Monitoring,
    Repeat,
    Variant,
    fill_placeholders,
    has_placeholders,
    render_media,
    render_text,
)
from planner.domain.links import tag_content_link
from planner.domain.schedule import MAX_OCCURRENCES, TooManyOccurrences, local_occurrences, to_utc
from planner.domain.timefmt import utc_iso
from planner.i18n.dates import DAYS, MONTHS, format_date

# Dates outside these years are typos; far ones would also overflow when converted to UTC.
YEARS = (2000, 2999)
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    file: str
    path: str
    code: str
    params: dict = field(default_factory=dict)

    def what(self) -> str:
        return self._render("what")

    def fix(self) -> str:
        return self._render("fix")

    def _render(self, part: str) -> str:
        from planner.i18n import t

        params = {k: ", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v for k, v in self.params.items()}
        # A value quoted back (a hashtag, a link, a file name) never brings its control characters along.
        params = {k: visible_controls(v) if isinstance(v, str) else v for k, v in params.items()}
        if "expected" in params:
            params["expected"] = t(f"expected.{params['expected']}")
        return t(f"problem.{self.code}.{part}", **params)


@dataclass
class Loaded:
    file: Path
    campaign: Campaign | None
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return self.campaign is not None and not self.problems


def control_char(text: str) -> tuple[int, str] | None:
    """The first control character in ``text`` as (1-based position, "U+001B"), or None.

    The one rule for user text, shared with the CSV import: C0 and C1 control characters and DEL are
    refused (ESC starts terminal escape sequences such as OSC-8 links, which `preview`/`show` would
    otherwise print raw and platforms would publish); tab, line feed and the CR of a CRLF line break
    (rtoml keeps those in multi-line strings) are text.
    """
    match = _CONTROL.search(text)
    return (match.start() + 1, f"U+{ord(match.group()):04X}") if match else None


# C0 but tab, LF and CR; DEL and C1; a CR not followed by LF. A regular expression: every text of a
# campaign goes through it, and a loop in Python would slow down validating a 10,000-item file.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\r(?!\n)")


def visible_controls(text: str) -> str:
    """``text`` with each control character (by ``control_char``'s rule) written as <U+001B>."""
    while (found := control_char(text)) is not None:
        position, name = found
        text = f"{text[:position - 1]}<{name}>{text[position:]}"
    return text


class _Reader:
    """Collects problems while walking the TOML tables."""

    def __init__(self, file: Path):
        self.file = file
        self.problems: list[Problem] = []
        self._controls_reported: set[str] = set()
        self.media_checks: dict[str, Any] = {}  # media path as written -> MediaCheck (one look per file)

    def add(self, path: str, code: str, **params: Any) -> None:
        self.problems.append(Problem(str(self.file), path, code, params))

    def no_controls(self, path: str, value: str) -> None:
        """Every text read from the file goes through here: control characters are refused."""
        found = control_char(value)
        if found and path not in self._controls_reported:
            self._controls_reported.add(path)
            self.add(path, "control_char", char=found[1], position=found[0])

    def table(self, value: Any, path: str, allowed: Iterable[str], required: Iterable[str] = ()) -> dict:
        if not isinstance(value, dict):
            self.add(path, "type", expected="table")
            return {}
        allowed = list(allowed)
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
                self.add(_join(path, key), "unknown_key", key=key, hint=close[0] if close else "",
                         allowed=", ".join(allowed))
        for key in required:
            if key not in value:
                self.add(_join(path, key), "missing", key=key)
        return value

    def text(self, table: dict, key: str, path: str, *, required: bool = False, default: str = "") -> str:
        value = table.get(key, None)
        if value is None:
            return default
        if not isinstance(value, str):
            self.add(_join(path, key), "type", expected="text")
            return default
        if required and not value.strip():
            self.add(_join(path, key), "empty", key=key)
        self.no_controls(_join(path, key), value)
        return value

    def texts(self, table: dict, key: str, path: str) -> tuple[str, ...]:
        value = table.get(key, [])
        if isinstance(value, str):
            self.no_controls(_join(path, key), value)
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.add(_join(path, key), "type", expected="list_of_text")
            return ()
        for j, text in enumerate(value, 1):
            self.no_controls(f"{_join(path, key)}[{j}]", text)
        return tuple(value)

    def slug(self, table: dict, key: str, path: str) -> str:
        value = self.text(table, key, path, required=True)
        if value and not SLUG.match(value):
            self.add(_join(path, key), "bad_slug", value=value)
        return value

    def duration(self, table: dict, key: str, path: str, default: timedelta | None) -> timedelta | None:
        if key not in table:
            return default
        try:
            value = parse_duration(table[key])
            if value <= timedelta(0):
                raise ValueError
            return value
        except (ValueError, TypeError):
            self.add(_join(path, key), "bad_duration", value=table[key])
            return default

    def day(self, table: dict, key: str, path: str, *, required: bool = False) -> date | None:
        value = table.get(key)
        if value is None:
            if required:
                self.add(_join(path, key), "missing", key=key)
            return None
        if isinstance(value, datetime):
            value = value.date()
        if isinstance(value, str):
            try:
                value = date.fromisoformat(value)
            except ValueError:
                pass
        if isinstance(value, date) and YEARS[0] <= value.year <= YEARS[1]:
            return value
        self.add(_join(path, key), "bad_date", value=value)
        return None

    def moment(self, table: dict, key: str, path: str) -> datetime | None:
        """A local wall time: TOML local datetime, or text 'YYYY-MM-DD HH:MM'."""
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.strip())
            except ValueError:
                self.add(_join(path, key), "bad_datetime", value=value)
                return None
        if isinstance(value, datetime):
            if value.tzinfo is not None:
                self.add(_join(path, key), "datetime_with_offset", value=value.isoformat())
                return None
            if YEARS[0] <= value.year <= YEARS[1]:
                return value
        self.add(_join(path, key), "bad_datetime", value=value)
        return None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


CAMPAIGN_KEYS = ("id", "name", "owner", "timezone", "start", "end", "channels", "grace", "utm")
GOAL_KEYS = ("objective", "kpi")
KPI_KEYS = ("metric", "target", "platform", "deadline")
AUDIENCE_KEYS = ("id", "description", "platforms")
CONTENT_KEYS = ("id", "issue", "audiences", "text", "link", "hashtags", "media", "thread", "at", "slot",
                "channels", "variants", "repeat", "standby")
VARIANT_KEYS = ("text", "thread", "media")
REPEAT_KEYS = ("every", "weekdays", "until", "times")
MONITORING_KEYS = ("collect_every", "track_for", "keywords", "spike_threshold", "report_period")
TOP_KEYS = ("campaign", "goal", "audience", "content", "monitoring", "blackout", "response")
BLACKOUT_KEYS = ("start", "end", "reason")


def load_campaign(file: Path, config: Config | None, *, now: datetime | None = None,
                  published: Iterable[str] = (), applied_times: dict[str, set[str]] | None = None,
                  text: str | None = None, known_for: Callable[[str], tuple] | None = None) -> Loaded:
    """Parse and check one campaign file.

    From the database, when known: ``published`` content ids, and ``applied_times`` (content id ->
    UTC times of its posts already in the outbox). A time in the past is only a problem for
    content that is new or whose time was changed: re-applying a running campaign must work.
    ``known_for(campaign_id) -> (published, applied_times)`` looks them up once the id is read,
    so the file is parsed only once.
    ``text``: check this text as if it were the file's (an edit not yet written); media paths
    stay relative to ``file``'s folder.
    """
    reader = _Reader(file)
    try:
        raw = parse_toml(file.read_text("utf-8") if text is None else text)
    except FileNotFoundError:
        reader.add("", "file_not_found")
        return Loaded(file, None, reader.problems)
    except (OSError, UnicodeDecodeError) as exc:
        reader.add("", "file_unreadable", error=type(exc).__name__)
        return Loaded(file, None, reader.problems)
    except tomllib.TOMLDecodeError as exc:
        line, col = _toml_position(exc)
        impossible = _impossible_date(file, text, line)
        if impossible:  # written correctly, but no such day or time (2027-02-30, 25:00)
            reader.add("", "impossible_date", line=line, value=impossible)
        else:
            reader.add("", "toml_syntax", line=line, col=col, error=str(exc).split(" (at line")[0])
        return Loaded(file, None, reader.problems)
    campaign_id = raw.get("campaign", {}).get("id") if isinstance(raw.get("campaign"), dict) else None
    if known_for is not None and isinstance(campaign_id, str):
        published, applied_times = known_for(campaign_id)
    known = {content_id: {"*"} for content_id in published}
    for content_id, times in (applied_times or {}).items():
        known.setdefault(content_id, set()).update(times)
    campaign = _build(reader, raw, file, config, now or clock.now(), known)
    return Loaded(file, campaign if not reader.problems else None, reader.problems)


def parse_toml(text: str) -> dict:
    """TOML through rtoml (Rust, ~6x faster on a 10,000-item campaign) when installed; a file it
    refuses is parsed again by tomllib, whose error names the line and column."""
    try:
        import rtoml
    except ImportError:
        return tomllib.loads(text)
    try:
        return rtoml.loads(text)
    except Exception:
        return tomllib.loads(text)


_DATE_WRITTEN = re.compile(r"\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:[Zz]|[+-]\d{2}:\d{2})?")


def _impossible_date(file: Path, text: str | None, line: int) -> str | None:
    """A date on the failing ``line`` written the TOML way that names no real day or time, if any."""
    try:
        source = file.read_text("utf-8") if text is None else text
        row = source.splitlines()[line - 1] if line > 0 else ""
    except (OSError, UnicodeDecodeError, IndexError):
        return None
    for match in _DATE_WRITTEN.finditer(row.split("#", 1)[0]):
        written = match.group(0)
        try:
            datetime.fromisoformat(written.replace("t", "T").replace("z", "Z"))
        except ValueError:
            return written
    return None


def _toml_position(exc: tomllib.TOMLDecodeError) -> tuple[int, int]:
    match = re.search(r"at line (\d+), column (\d+)", str(exc))
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


def _build(r: _Reader, raw: dict, file: Path, config: Config | None, now: datetime,
           known: dict[str, set[str]]) -> Campaign | None:
    from planner.config import load_zone

    r.table(raw, "", TOP_KEYS, required=("campaign", "goal", "content"))
    head = r.table(raw.get("campaign", {}), "campaign", CAMPAIGN_KEYS,
                   required=("id", "name", "timezone", "start", "end", "channels") if "campaign" in raw else ())
    campaign_id = r.slug(head, "id", "campaign")
    name = r.text(head, "name", "campaign", required=True)
    owner = r.text(head, "owner", "campaign")
    zone = None
    zone_name = head.get("timezone", config.timezone.key if config else "Asia/Jakarta")
    try:
        zone = load_zone(zone_name) if isinstance(zone_name, str) else None
        if zone is None:
            r.add("campaign.timezone", "type", expected="text")
    except ValueError:
        r.add("campaign.timezone", "bad_timezone", value=zone_name)
    start = r.day(head, "start", "campaign")
    end = r.day(head, "end", "campaign")
    if start and end and end < start:
        r.add("campaign.end", "end_before_start", start=start.isoformat(), end=end.isoformat())
    grace = r.duration(head, "grace", "campaign", None)
    utm = head.get("utm", True)
    if not isinstance(utm, bool):
        r.add("campaign.utm", "type", expected="boolean")
        utm = True

    channels = r.texts(head, "channels", "campaign")
    accounts = config.accounts if config else None
    if "channels" in head and not channels:
        r.add("campaign.channels", "empty", key="channels")
    if accounts is None:
        r.add("campaign.channels", "no_config")
    else:
        for i, channel in enumerate(channels):
            if channel not in accounts:
                close = difflib.get_close_matches(channel, list(accounts), n=1, cutoff=0.6)
                r.add(f"campaign.channels[{i + 1}]", "unknown_account", value=channel,
                      hint=close[0] if close else "", known=", ".join(accounts) or "-")
    if len(set(channels)) != len(channels):
        r.add("campaign.channels", "duplicate_channel")

    goal = _goal(r, raw.get("goal", {}), start, end, required="goal" in raw)
    audiences = _audiences(r, raw.get("audience", []))
    monitoring = _monitoring(r, raw.get("monitoring", {}))
    utm_template = config.raw.get("utm") if config is not None and utm else None
    items = _contents(r, raw.get("content", []), file, config, channels, audiences, zone, start, end, now,
                      known, utm_for=lambda text, link, platform, content: tag_content_link(
                          text, link, utm_template, platform=platform, campaign=campaign_id or "", content=content))
    blackouts = _blackouts(r, raw.get("blackout", []), zone, campaign_id)
    from planner.response.playbooks import read_playbooks

    responses = read_playbooks(r, raw.get("response", []), items, channels)
    if r.problems or zone is None or start is None or end is None:
        return None
    return Campaign(id=campaign_id, name=name, owner=owner, timezone=zone, start=start, end=end,
                    channels=channels, goal=goal, audiences=audiences, content=items,
                    monitoring=monitoring, grace=grace, utm=utm, blackouts=blackouts, responses=responses)


def _blackouts(r: _Reader, raw: Any, zone, campaign_id: str) -> tuple[Blackout, ...]:
    """The campaign's quiet windows: its posts due inside are held, then moved to the window's end."""
    if not isinstance(raw, list):
        r.add("blackout", "type", expected="array_of_tables")
        return ()
    found = []
    for i, entry in enumerate(raw, 1):
        path = f"blackout[{i}]"
        table = r.table(entry, path, BLACKOUT_KEYS, required=("start", "end", "reason"))
        begin, finish = r.moment(table, "start", path), r.moment(table, "end", path)
        reason = r.text(table, "reason", path, required=True)
        if begin and finish and finish <= begin:
            r.add(f"{path}.end", "end_before_start", start=_show(begin), end=_show(finish))
        elif begin and finish and zone is not None:
            found.append(Blackout(start=to_utc(begin, zone), end=to_utc(finish, zone), reason=reason,
                                  campaign=campaign_id))
    return tuple(found)


def _goal(r: _Reader, raw: Any, start: date | None, end: date | None, required: bool = True) -> Goal:
    table = r.table(raw, "goal", GOAL_KEYS, required=("objective",) if required else ())
    objective = r.text(table, "objective", "goal", required=True)
    kpis = []
    raw_kpis = table.get("kpi", [])
    if not isinstance(raw_kpis, list):
        r.add("goal.kpi", "type", expected="array_of_tables")
        raw_kpis = []
    for i, item in enumerate(raw_kpis, 1):
        path = f"goal.kpi[{i}]"
        kpi = r.table(item, path, KPI_KEYS, required=("metric", "target"))
        metric = r.text(kpi, "metric", path)
        if metric and metric not in KPI_METRICS:
            close = difflib.get_close_matches(metric, KPI_METRICS, n=1, cutoff=0.5)
            r.add(f"{path}.metric", "bad_choice", value=metric, hint=close[0] if close else "",
                  choices=", ".join(KPI_METRICS))
        target = kpi.get("target")
        if "target" in kpi and (isinstance(target, bool) or not isinstance(target, (int, float)) or target <= 0):
            r.add(f"{path}.target", "bad_target", value=target)
            target = None
        if metric in ("engagement_rate", "on_time_rate") and isinstance(target, (int, float)) and target > 100:
            r.add(f"{path}.target", "bad_percent", value=target)
        platform = r.text(kpi, "platform", path, default="all")
        if platform not in ("all", *PLATFORMS):
            r.add(f"{path}.platform", "bad_choice", value=platform, hint="",
                  choices=", ".join(("all", *PLATFORMS)))
        deadline = r.day(kpi, "deadline", path)
        if deadline and start and deadline < start:
            r.add(f"{path}.deadline", "deadline_before_start", value=deadline.isoformat())
        if metric and isinstance(target, (int, float)):
            kpis.append(Kpi(metric=metric, target=float(target), platform=platform, deadline=deadline or end))
    return Goal(objective=objective, kpis=tuple(kpis))


def _audiences(r: _Reader, raw: Any) -> tuple[Audience, ...]:
    if not isinstance(raw, list):
        r.add("audience", "type", expected="array_of_tables")
        return ()
    found: list[Audience] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(raw, 1):
        path = f"audience[{i}]"
        table = r.table(item, path, AUDIENCE_KEYS, required=("id", "description"))
        audience_id = r.slug(table, "id", path)
        if audience_id and audience_id in seen:
            r.add(f"{path}.id", "duplicate_id", value=audience_id, first=f"audience[{seen[audience_id]}]")
        seen.setdefault(audience_id, i)
        platforms = r.texts(table, "platforms", path)
        for j, platform in enumerate(platforms, 1):
            if platform not in PLATFORMS:
                r.add(f"{path}.platforms[{j}]", "bad_choice", value=platform, hint="", choices=", ".join(PLATFORMS))
        found.append(Audience(audience_id, r.text(table, "description", path, required=True), platforms))
    return tuple(found)


def _monitoring(r: _Reader, raw: Any) -> Monitoring:
    table = r.table(raw, "monitoring", MONITORING_KEYS)
    default = Monitoring()
    threshold = table.get("spike_threshold", default.spike_threshold)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold <= 1:
        r.add("monitoring.spike_threshold", "bad_threshold", value=threshold)
        threshold = default.spike_threshold
    period = r.text(table, "report_period", "monitoring", default=default.report_period)
    if period not in REPORT_PERIODS:
        r.add("monitoring.report_period", "bad_choice", value=period, hint="", choices=", ".join(REPORT_PERIODS))
    return Monitoring(
        collect_every=r.duration(table, "collect_every", "monitoring", default.collect_every),
        track_for=r.duration(table, "track_for", "monitoring", default.track_for),
        keywords=r.texts(table, "keywords", "monitoring"),
        spike_threshold=float(threshold),
        report_period=period,
    )


def _contents(r: _Reader, raw: Any, file: Path, config: Config | None, channels: tuple[str, ...],
              audiences: tuple[Audience, ...], zone, start: date | None, end: date | None, now: datetime,
              known: dict[str, set[str]], utm_for: Callable) -> tuple[ContentItem, ...]:
    if not isinstance(raw, list):
        r.add("content", "type", expected="array_of_tables")
        return ()
    if not raw:
        r.add("content", "empty", key="content")
    audience_ids = [a.id for a in audiences]
    items: list[ContentItem] = []
    placed: list[tuple[ContentItem, str]] = []  # each item with its path, for checks across items
    seen: dict[str, int] = {}
    for i, entry in enumerate(raw, 1):
        path = f"content[{i}]"
        table = r.table(entry, path, CONTENT_KEYS, required=("id", "text"))
        content_id = r.slug(table, "id", path)
        if content_id and content_id in seen:
            r.add(f"{path}.id", "duplicate_id", value=content_id, first=f"content[{seen[content_id]}]")
        seen.setdefault(content_id, i)
        item_audiences = r.texts(table, "audiences", path)
        for j, audience in enumerate(item_audiences, 1):
            if audience not in audience_ids:
                close = difflib.get_close_matches(audience, audience_ids, n=1, cutoff=0.6)
                r.add(f"{path}.audiences[{j}]", "unknown_audience", value=audience,
                      hint=close[0] if close else "", known=", ".join(audience_ids) or "-")
        item_channels = r.texts(table, "channels", path)
        for j, channel in enumerate(item_channels, 1):
            if channel not in channels:
                r.add(f"{path}.channels[{j}]", "channel_not_in_campaign", value=channel,
                      known=", ".join(channels) or "-")
        link = r.text(table, "link", path) or None
        if link and not URL.match(link):
            r.add(f"{path}.link", "bad_url", value=link)
        hashtags = tuple(tag.lstrip("#") for tag in r.texts(table, "hashtags", path))
        for j, tag in enumerate(hashtags, 1):
            if not re.fullmatch(r"\w+", tag):
                r.add(f"{path}.hashtags[{j}]", "bad_hashtag", value=tag)
        at = r.moment(table, "at", path)
        slot = r.text(table, "slot", path) or None
        standby = table.get("standby", False)
        if not isinstance(standby, bool):
            r.add(f"{path}.standby", "type", expected="boolean")
            standby = False
        if standby and ("at" in table or slot is not None or "repeat" in table):
            r.add(f"{path}.standby", "standby_with_time")  # a standby answer goes when a spike calls for it
        elif at is None and slot is None and "at" not in table and not standby:
            r.add(f"{path}.at", "no_time")
        if at is not None and slot is not None:
            r.add(f"{path}.slot", "at_and_slot")
        if slot is not None and at is None:
            _check_slot(r, f"{path}.slot", slot, config, item_channels or channels, "repeat" in table)
        variants = _variants(r, table.get("variants", {}), f"{path}.variants", channels)
        repeat = _repeat(r, table.get("repeat"), f"{path}.repeat")
        item = ContentItem(
            id=content_id, issue=r.text(table, "issue", path), text=r.text(table, "text", path),
            audiences=item_audiences, link=link, hashtags=hashtags, media=r.texts(table, "media", path),
            thread=r.texts(table, "thread", path), at=at, slot=slot, channels=item_channels,
            variants=variants, repeat=repeat, standby=standby,
        )
        items.append(item)
        placed.append((item, path))
        if at is not None and zone is not None and start and end:
            _check_times(r, item, path, zone, start, end, now, known.get(content_id, set()))
        if slot is not None and at is None and any(has_placeholders(text) for text in (item.text, *item.thread)):
            r.add(f"{path}.text", "placeholder_needs_time")
        _check_media(r, item, path, file, config)
        if config is not None:
            _check_channels(r, item, path, file, config, item_channels or channels, utm_for,
                            skip=() if "text" in table else ("text_empty",))
    if config is not None and end is not None:
        _check_repeated_texts(r, placed, channels, config, end)
    return tuple(items)


# Platforms that refuse a text identical to an earlier post of the account (X: "duplicate content",
# Facebook: "(#506) Duplicate status message", for text posts; a photo's caption may repeat).
REFUSE_REPEATS = ("x", "facebook")


def _check_repeated_texts(r: _Reader, placed: list, channels: tuple[str, ...], config: Config, end: date) -> None:
    """The same text twice to one X or Facebook account (a repeat, or two items) would be refused."""
    seen: dict[tuple[str, str], list[str]] = {}  # (channel, text) -> paths of the items sending it
    for item, path in placed:
        if item.at is None:
            continue
        try:
            occurrences = local_occurrences(item.at, item.repeat, end)
        except TooManyOccurrences:
            continue  # reported by _check_times
        for channel in dict.fromkeys(item.channels or channels):  # a channel listed twice is reported apart
            account = config.accounts.get(channel)
            if account is None or account.platform not in REFUSE_REPEATS:
                continue
            if account.platform == "facebook" and render_media(item, channel, account.platform):
                continue
            text = render_text(item, channel, account.platform)
            for n, local in enumerate(occurrences, 1):
                seen.setdefault((channel, occurrence_text(text, local, n, config.language).strip()),
                                []).append(path)
    reported: set[tuple[str, str]] = set()
    for (channel, _text), paths in seen.items():
        if len(paths) < 2:
            continue
        for path in dict.fromkeys(paths):
            if (path, channel) not in reported:
                reported.add((path, channel))
                r.add(f"{path}.text", "repeated_text", channel=channel, count=len(paths),
                      platform=config.accounts[channel].platform)


def occurrence_text(text: str, local: datetime | None, number: int, lang: str) -> str:
    """The text of one occurrence: {tanggal}, {hari} and {ke} filled in (in ``lang``)."""
    if local is None or not has_placeholders(text):
        return text
    return fill_placeholders(text, date_text=format_date(local, lang), day_name=DAYS[lang][local.weekday()],
                             number=number)


def _longest_occurrence_text(text: str, lang: str) -> str:
    """For length limits: the placeholders filled with the longest words they can become."""
    if not has_placeholders(text):
        return text
    month = max(MONTHS[lang], key=len)
    return fill_placeholders(text, date_text=f"30 {month} 2099", day_name=max(DAYS[lang], key=len),
                             number=MAX_OCCURRENCES)


def _variants(r: _Reader, raw: Any, path: str, channels: tuple[str, ...]) -> dict[str, Variant]:
    table = r.table(raw, path, (*PLATFORMS, *channels))
    variants = {}
    for key, value in table.items():
        if key not in PLATFORMS and key not in channels:
            continue
        vpath = f"{path}.{key}"
        entry = r.table(value, vpath, VARIANT_KEYS)
        variants[key] = Variant(
            text=r.text(entry, "text", vpath) or None,
            thread=r.texts(entry, "thread", vpath) if "thread" in entry else None,
            media=r.texts(entry, "media", vpath) if "media" in entry else None,
        )
    return variants


def _repeat(r: _Reader, raw: Any, path: str) -> Repeat | None:
    if raw is None:
        return None
    table = r.table(raw, path, REPEAT_KEYS)
    every_days = None
    if "every" in table:
        every = r.duration(table, "every", path, None)
        if every is not None and (every.seconds or every.microseconds):
            r.add(f"{path}.every", "every_whole_days", value=table["every"])
        elif every is not None:
            every_days = every.days
    names = r.texts(table, "weekdays", path)
    weekdays = tuple(_weekday(d) for d in names if _weekday(d) is not None)
    if len(weekdays) != len(names):
        r.add(f"{path}.weekdays", "bad_choice", value=table.get("weekdays"), hint="", choices=", ".join(WEEKDAYS))
    # Exactly one of the two; a present but invalid one is already reported above.
    if ("every" in table) == ("weekdays" in table) or table.get("weekdays") == []:
        r.add(path, "repeat_every_or_weekdays")
    times = table.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        r.add(f"{path}.times", "bad_target", value=times)
        times = None
    return Repeat(every_days=every_days, weekdays=weekdays, until=r.day(table, "until", path), times=times)


def _weekday(name: str) -> int | None:
    """'fri', 'Fri' or 'friday' -> 4."""
    name = name.strip().lower()
    full = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return WEEKDAYS.index(name) if name in WEEKDAYS else full.index(name) if name in full else None


def _check_times(r: _Reader, item: ContentItem, path: str, zone, start: date, end: date, now: datetime,
                 known_times: set[str]) -> None:
    try:
        occurrences = local_occurrences(item.at, item.repeat, end)
    except TooManyOccurrences as exc:
        r.add(f"{path}.repeat", "repeat_too_many", cap=exc.args[0])
        return
    for local in (item.at, *occurrences):  # a repeat starting after the end has no occurrence at all
        if not (start <= local.date() <= end):
            r.add(f"{path}.at", "time_outside_window", time=_show(local), start=start.isoformat(),
                  end=end.isoformat())
            return
    if not occurrences:
        if item.repeat.every_days or item.repeat.weekdays:  # else the repeat itself is reported
            r.add(f"{path}.repeat", "repeat_never",
                  time=_show(item.at), end=end.isoformat())
        return
    first = to_utc(occurrences[0], zone)
    if first < now and "*" not in known_times and utc_iso(first) not in known_times:
        r.add(f"{path}.at", "time_in_past", time=_show(occurrences[0]))


def _show(local: datetime) -> str:
    return local.strftime("%Y-%m-%d %H:%M")


def _check_channels(r: _Reader, item: ContentItem, path: str, file: Path, config: Config,
                    channels: tuple[str, ...], utm_for: Callable, skip: tuple[str, ...] = ()) -> None:
    """Text and media rules for every channel the item goes to, on the text as published (links
    tagged by ``utm_for(text, link, platform, content_id)``); each problem reported once."""
    from planner.domain.campaign import render_thread
    from planner.domain.text_rules import MediaInfo, check_content, needs_dimensions, needs_frames
    from planner.store.text_limits import remembered_in

    reported: set[tuple[str, str]] = set()
    if "text_limits" not in r.__dict__:  # read once per file: what `account check` learnt from the platforms
        from planner.store.backend import database_of

        r.__dict__["text_limits"] = remembered_in(database_of(config) if config else None)
    for channel in channels:
        account = config.accounts.get(channel)
        if account is None:
            continue
        platform = account.platform
        variant_key = channel if channel in item.variants else platform
        variant = item.variants.get(variant_key)
        media_paths = render_media(item, channel, platform)
        # Paths in the file are spelled out only for a problem (this runs for every item and channel).
        media_base = f"{path}.variants.{variant_key}" if variant and variant.media is not None else path
        infos = []
        for name in media_paths:
            # Each file was checked by _check_media (confined, regular, content as named); one that is not
            # is still counted (size unknown), so that the other rules are checked too.
            check = _media_check(r, file, config, name)
            width, height, frames = (_image_shape(r, name, check, needs_frames(platform, name))
                                     if needs_dimensions(platform, name) else (None, None, None))
            infos.append(MediaInfo(name=name, size_bytes=check.size or 0, format=check.kind if check.ok else None,
                                   duration=check.duration, width=width, height=height, frames=frames))
        text, link = utm_for(_longest_occurrence_text(render_text(item, channel, platform), config.language),
                             item.link, platform, item.id)
        own_limit = r.__dict__["text_limits"].get(channel)
        found = [(problem, None) for problem in check_content(platform, text, infos, link, text_limit=own_limit)]
        thread = render_thread(item, channel, platform)
        for j, part in enumerate(thread, 1):
            part = _longest_occurrence_text(part, config.language)
            found += [(problem, j) for problem in check_content(platform, part, [], text_limit=own_limit)
                      if problem.path == "text"]
        for problem, thread_part in found:
            if problem.code in skip:
                continue
            if thread_part is not None:
                base = f"{path}.variants.{variant_key}" if variant and variant.thread is not None else path
                field_path = f"{base}.thread[{thread_part}]"
            elif problem.path == "text":
                field_path = f"{path}.variants.{variant_key}.text" if variant and variant.text else f"{path}.text"
            else:
                field_path = _media_path(media_base, problem.path)
            key = (field_path, problem.code + str(sorted(problem.params.items())))
            if key in reported:
                continue
            reported.add(key)
            r.add(field_path, problem.code, channel=channel, **problem.params)
        if platform == "instagram" and media_paths and not account.options.get("media_base_url"):
            key = (f"accounts.{channel}", "ig_media_base_url")
            if key not in reported:
                reported.add(key)
                r.add(f"{path}.channels", "ig_media_base_url", account=channel)


def _media_check(r: _Reader, file: Path, config: Config | None, name: str):
    """The check of one media path, made once per file read (a poster is often in every item)."""
    from planner.domain.media import check_media

    check = r.media_checks.get(name)
    if check is None:
        check = r.media_checks[name] = check_media(name, file, config)
    return check


def _image_shape(r: _Reader, name: str, check, frames: bool) -> tuple[int | None, int | None, int | None]:
    """(width, height, frames) of an image (planner.domain.media.image_shape; frames only when ``frames``),
    read once per file; Nones when the file could not be checked or read."""
    from planner.domain.media import image_shape

    cache = r.__dict__.setdefault("media_shapes", {})
    key = (name, frames)
    if key not in cache:
        cache[key] = (None, None, None)
        if check.ok and check.path is not None:
            try:
                cache[key] = image_shape(check.path, frames=frames)
            except OSError:
                pass
    return cache[key]


def _check_media(r: _Reader, item: ContentItem, path: str, file: Path, config: Config | None) -> None:
    """Every media path of an item (its own and its variants'): inside the campaign's folder or the
    workspace, a regular file that is not config.toml or the database, whose bytes are what its name says."""
    lists = [(path, item.media)] + [(f"{path}.variants.{key}", variant.media)
                                    for key, variant in item.variants.items() if variant.media is not None]
    for base, names in lists:
        for j, name in enumerate(names, 1):
            check = _media_check(r, file, config, name)
            if not check.ok:
                r.add(f"{base}.media[{j}]", check.code, **check.params)


def _media_path(media_base: str, rule_path: str) -> str:
    """The text rules number media from 0 ('media[0]'); files count from 1 ('media[1]')."""
    match = re.fullmatch(r"media\[(\d+)\]", rule_path)
    if match:
        return f"{media_base}.media[{int(match.group(1)) + 1}]"
    return f"{media_base}.media"


def _check_slot(r: _Reader, path: str, slot: str, config: Config | None, channels, has_repeat: bool) -> None:
    """`slot = "next"`: every channel the item goes to needs posting slots in config.toml."""
    if slot != "next":
        r.add(path, "bad_choice", value=slot, hint="", choices="next")
        return
    if has_repeat:
        r.add(path, "slot_and_repeat")
    if config is None:
        return
    for channel in channels:
        account = config.accounts.get(channel)
        if account is not None and not account.options.get("slots"):
            r.add(path, "slot_not_configured", account=channel)


# A standby post's due time until `planner respond` makes it due now: far enough that no time-based query
# (due, missed, the next wake-up) ever sees it; the standby flag is what keeps the scheduler away.
STANDBY_DUE = datetime(9000, 1, 1, tzinfo=timezone.utc)


def desired_posts(campaign: Campaign, file: Path, config: Config) -> list[dict]:
    """Every outbox row the campaign asks for: one per (content, channel, occurrence).

    Rows of `slot = "next"` content carry ``due_at = None``: the store gives them the account's
    next free slot when applying (it knows which slots are taken).
    """
    from planner.domain.campaign import render_thread
    from planner.platforms.base import content_fingerprint

    utm = config.raw.get("utm") if campaign.utm else None
    fingerprints: dict[str, str] = {}  # channels usually share a text: hash it once

    def fingerprint_of(text: str) -> str:
        if text not in fingerprints:
            fingerprints[text] = content_fingerprint(text)
        return fingerprints[text]

    rows = []
    for item in campaign.content:
        if item.at is None and item.slot is None and not item.standby:
            continue
        occurrences = local_occurrences(item.at, item.repeat, campaign.end) if item.at else [None]
        for channel in item.channels or campaign.channels:
            platform = config.accounts[channel].platform
            text, link = tag_content_link(render_text(item, channel, platform), item.link, utm,
                                          platform=platform, campaign=campaign.id, content=item.id)
            media = [str((file.parent / m).resolve()) for m in render_media(item, channel, platform)]
            thread = list(render_thread(item, channel, platform))
            fingerprint = fingerprint_of(text)
            for n, local in enumerate(occurrences):
                posted = occurrence_text(text, local, n + 1, config.language)
                rows.append({
                    "campaign_id": campaign.id,
                    "content_id": item.id,
                    "channel": channel,
                    "platform": platform,
                    "occurrence": n,
                    "due_at": STANDBY_DUE if item.standby else to_utc(local, campaign.timezone) if local else None,
                    "text": posted,
                    "link": link,
                    "media": media,
                    "thread": [occurrence_text(part, local, n + 1, config.language) for part in thread],
                    "fingerprint": fingerprint if posted == text else fingerprint_of(posted),
                    "standby": item.standby,
                })
    return rows
