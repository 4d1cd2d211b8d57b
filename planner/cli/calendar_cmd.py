"""`planner calendar`: the posts of a week or a month in local time, or an iCalendar (.ics) file of them.

Read from the outbox (the truth), every state except canceled. Times are shown in the config's zone, or in the
campaign's zone with --campaign. The .ics file has one VEVENT per post, in UTC, with a UID that stays the same
across exports, so importing a newer export updates the events instead of doubling them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from planner.cli.common import console, esc, fail, load_config, open_database
from planner.i18n import get_language, t

if TYPE_CHECKING:  # imported where used: `planner --help` starts without them
    from zoneinfo import ZoneInfo

# One sign per state, so a glance tells what happened; the legend under the calendar names them.
MARKS = {
    "draft": ("✎", "dim"),
    "pending_approval": ("⌛", "yellow"),
    "queued": ("•", "cyan"),
    "held": ("⏸", "yellow"),
    "publishing": ("↗", "cyan"),
    "unknown": ("?", "magenta"),
    "needs_review": ("‼", "bold magenta"),
    "failed_retryable": ("↻", "yellow"),
    "failed": ("⚠", "bold red"),
    "missed": ("✗", "bold red"),
    "published": ("✓", "green"),
}
EVENT_LENGTH = timedelta(minutes=15)
PRODID = "-//humas-planner//Kalender Unggahan//ID"
TRANSPARENT = "TRANSPARENT"  # a post does not make staff busy in their calendar


def first_words(text: str, words: int = 6, chars: int = 48) -> str:
    parts = text.split()
    shown = " ".join(parts[:words])
    if len(shown) > chars:
        shown = shown[:chars - 1].rstrip()
        return shown + "…"
    return shown + ("…" if len(parts) > words else "")


def _clock(moment: datetime) -> str:
    return moment.strftime("%H.%M" if get_language() == "id" else "%H:%M")


def _mark(state: str) -> str:
    sign, style = MARKS.get(state, ("·", ""))
    return f"[{style}]{sign}[/]" if style else sign


def _zone_for(db, config, campaign: str | None) -> ZoneInfo:
    from planner.store.campaign_lookup import CampaignNotFound, timezone_name

    if not campaign:
        return config.timezone
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(timezone_name(db, campaign))
    except CampaignNotFound as exc:
        fail(exc.render())


def _period(day: date, month: bool) -> tuple[date, date]:
    """First day and the day after the last: the Monday-to-Sunday week, or the calendar month."""
    if month:
        import calendar as _calendar

        first = day.replace(day=1)
        last = _calendar.monthrange(day.year, day.month)[1]
        return first, first + timedelta(days=last)
    monday = day - timedelta(days=day.weekday())
    return monday, monday + timedelta(days=7)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), zone)


def _by_day(rows: list[dict], zone: ZoneInfo) -> dict[date, list[tuple[datetime, list[dict]]]]:
    """Local day -> [(local time, the posts of one content item at that time, one per channel)]."""
    from planner.store.db import parse_utc

    days: dict[date, dict[tuple, tuple[datetime, list[dict]]]] = {}
    for row in rows:
        local = parse_utc(row["due_at"]).astimezone(zone)
        group = days.setdefault(local.date(), {}).setdefault(
            (local, row["campaign_id"], row["content_id"]), (local, []))
        group[1].append(row)
    return {day: list(groups.values()) for day, groups in days.items()}


# The state that needs a person most decides the mark of a group of posts in the month view.
ATTENTION = ("missed", "failed", "needs_review", "unknown", "failed_retryable", "held", "publishing",
             "pending_approval", "draft", "queued", "published")


def _group_mark(posts: list[dict]) -> str:
    return _mark(min((p["state"] for p in posts), key=lambda s: ATTENTION.index(s) if s in ATTENTION else 99))


# --- terminal views -------------------------------------------------------------------------------------

def _week_view(rows: list[dict], first: date, zone: ZoneInfo, today: date) -> None:
    from rich.cells import cell_len
    from rich.table import Table

    from planner.i18n.dates import DAYS, MONTHS

    lang = get_language()
    days = _by_day(rows, zone)
    last = first + timedelta(days=6)
    zone_name = _local_midnight(first, zone).tzname()
    out = console()
    out.print(f"[bold]{esc(t('calendar.week_title', start=_day_month(first), end=_day_month(last, year=True), zone=zone_name))}[/]")
    # Seven columns only when an account name (with its mark) fits a column whole; otherwise (a normal
    # 80-column terminal) the week is listed day by day, so that "•kpu_bluesky" is never broken.
    longest = max((cell_len(row["channel"]) + 1 for row in rows), default=8)
    if out.width < 100 or out.width < 7 * (longest + 3) + 1:
        _week_agenda(days, first, today)
        return
    table = Table(show_lines=False, expand=True, padding=(0, 1))
    for i in range(7):
        day = first + timedelta(days=i)
        header = f"{DAYS[lang][day.weekday()]}\n{day.day} {MONTHS[lang][day.month - 1]}"
        table.add_column(f"[bold yellow]{header}[/]" if day == today else header, overflow="fold", ratio=1)
    cells = []
    for i in range(7):
        lines = []
        for local, posts in days.get(first + timedelta(days=i), []):
            # Mark and channel touch, so that a wrapping cell never separates them.
            channels = " ".join(f"{_mark(p['state'])}{esc(p['channel'])}" for p in posts)
            lines.append(f"[bold]{_clock(local)}[/] {esc(first_words(posts[0]['text']))}\n  {channels}")
        cells.append("\n".join(lines) if lines else "[dim]–[/]")
    table.add_row(*cells)
    out.print(table)


def _week_agenda(days, first: date, today: date) -> None:
    """The week as a list: each day, then each time with its text and, below, the accounts (wrapped
    between accounts, never inside a name)."""
    from planner.i18n.dates import DAYS

    lang = get_language()
    out = console()
    for i in range(7):
        day = first + timedelta(days=i)
        title = f"{DAYS[lang][day.weekday()]}, {_day_month(day)}"
        out.print(f"[bold yellow]{esc(title)}[/]" if day == today else f"[bold]{esc(title)}[/]")
        groups = days.get(day, [])
        if not groups:
            out.print("  [dim]–[/]")
        for local, posts in groups:
            out.print(f"  [bold]{_clock(local)}[/] {esc(first_words(posts[0]['text'], 10, max(20, out.width - 10)))}",
                      soft_wrap=False, overflow="fold")
            channels = " ".join(f"{_mark(p['state'])}{esc(p['channel'])}" for p in posts)
            out.print(f"        {channels}", soft_wrap=False)


def _month_view(rows: list[dict], first: date, zone: ZoneInfo, today: date, shown: int = 3) -> None:
    import calendar as _calendar

    from rich.table import Table

    from planner.i18n.dates import DAYS, MONTHS

    lang = get_language()
    days = _by_day(rows, zone)
    zone_name = _local_midnight(first, zone).tzname()
    out = console()
    out.print(f"[bold]{esc(t('calendar.month_title', month=MONTHS[lang][first.month - 1], year=first.year, zone=zone_name))}[/]")
    table = Table(show_lines=True, expand=True, padding=(0, 1))
    for name in DAYS[lang]:
        table.add_column(name, no_wrap=True, overflow="ellipsis", ratio=1)
    for week in _calendar.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month):
        cells = []
        for day in week:
            if day.month != first.month:
                cells.append(f"[dim]{day.day}[/]")
                continue
            groups = days.get(day, [])
            count = sum(len(posts) for _, posts in groups)
            number = f"[bold yellow]{day.day}[/]" if day == today else f"[bold]{day.day}[/]"
            head = f"{number} [dim]({t('calendar.posts_count', count=count)})[/]" if count else number
            lines = [head]
            for local, posts in groups[:shown]:
                many = f"[dim]×{len(posts)}[/] " if len(posts) > 1 else ""
                lines.append(f"{_clock(local)} {_group_mark(posts)} {many}{esc(first_words(posts[0]['text'], 4, 30))}")
            if len(groups) > shown:
                lines.append(f"[dim]{t('calendar.more', count=len(groups) - shown)}[/]")
            cells.append("\n".join(lines))
        table.add_row(*cells)
    out.print(table)


def _day_month(day: date, year: bool = False) -> str:
    from planner.i18n.dates import MONTHS

    text = f"{day.day} {MONTHS[get_language()][day.month - 1]}"
    return f"{text} {day.year}" if year else text


def _legend(rows: list[dict]) -> None:
    present = [state for state in MARKS if any(row["state"] == state for row in rows)]
    if present:
        console().print("  ".join(f"{_mark(state)} {t('state.' + state)}" for state in present))
    console().print(t("calendar.count", count=len(rows)))


# --- iCalendar --------------------------------------------------------------------------------------------

def build_ics(rows: list[dict], *, name: str) -> bytes:
    """One VEVENT per post. Deterministic: the same posts give the same bytes (DTSTAMP is the post's last change).

    Times are in UTC (no VTIMEZONE needed); icalendar writes CRLF and folds long lines at 75 octets.
    """
    from icalendar import Calendar, Event

    from planner.store.db import parse_utc

    cal = Calendar()
    for key, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"), ("method", "PUBLISH"),
                       ("x-wr-calname", name)):
        cal.add(key, value)
    for row in rows:
        due = parse_utc(row["due_at"]).astimezone(timezone.utc)
        changed = parse_utc(row["updated_at"]).astimezone(timezone.utc) if row["updated_at"] else due
        event = Event()
        event.add("uid", f"{row['idempotency_key']}@humas-planner")
        event.add("dtstamp", changed)
        event.add("last-modified", changed)
        event.add("dtstart", due)
        event.add("dtend", due + EVENT_LENGTH)
        event.add("summary", f"[{row['channel']}] {first_words(row['text'], 8, 60)}")
        event.add("description", _description(row))
        event.add("categories", [row["campaign_id"]])
        event.add("transp", TRANSPARENT)
        if row["url"]:
            event.add("url", row["url"])
        cal.add_component(event)
    return cal.to_ical()


def _description(row: dict) -> str:
    lines = [row["text"], ""]
    if row["link"]:
        lines.append(f"{t('calendar.ics_link')}: {row['link']}")
    lines.append(f"{t('calendar.ics_state')}: {t('state.' + row['state'])}")
    lines.append(f"{t('calendar.ics_channel')}: {row['channel']} ({row['platform']})")
    lines.append(f"{t('calendar.ics_content')}: {row['campaign_id']}/{row['content_id']}")
    if row["url"]:
        lines.append(f"{t('calendar.ics_published')}: {row['url']}")
    return "\n".join(lines)


# --- the command ----------------------------------------------------------------------------------------

def register(app: typer.Typer) -> None:
    @app.command("calendar", help=t("help.calendar"))
    def calendar_cmd(
        week: bool = typer.Option(False, "--week", help=t("help.calendar_week")),
        month: bool = typer.Option(False, "--month", help=t("help.calendar_month")),
        campaign: str = typer.Option(None, "--campaign", help=t("help.opt_campaign")),
        day: str = typer.Option(None, "--date", help=t("help.calendar_date"), show_default=False),
        ics: Path = typer.Option(None, "--ics", help=t("help.calendar_ics"), show_default=False),
    ) -> None:
        from planner.store.queries import calendar_rows

        if week and month:
            fail(t("calendar.week_and_month"))
        config = load_config()
        db = open_database(config)
        zone = _zone_for(db, config, campaign)
        today = datetime.now(zone).date()
        if day is None:
            chosen = today
        else:
            try:
                chosen = date.fromisoformat(day.strip())
            except ValueError:
                fail(t("calendar.bad_date", value=day))
        first, after = _period(chosen, month)

        if ics is not None:
            if week or month:
                rows = calendar_rows(db, campaign=campaign, start=_local_midnight(first, zone),
                                     end=_local_midnight(after, zone))
            else:
                rows = calendar_rows(db, campaign=campaign)
            if not rows:
                console().print(t("calendar.ics_empty"))
                return
            name = f"humas-planner: {campaign}" if campaign else "humas-planner"
            from planner.files import FileWriteError, safe_write

            try:
                # Whole or not at all; a folder, device or FIFO as --ics is refused, never replaced.
                safe_write(ics, build_ics(rows, name=name), make_parents=True)
            except FileWriteError as exc:
                fail(exc.render())
            console().print(esc(t("calendar.ics_written", path=str(ics), count=len(rows))))
            return

        rows = calendar_rows(db, campaign=campaign, start=_local_midnight(first, zone),
                             end=_local_midnight(after, zone))
        if month:
            _month_view(rows, first, zone, today)
        else:
            _week_view(rows, first, zone, today)
        _legend(rows)
