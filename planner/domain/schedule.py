"""When content goes out: one-off times and repeats, in local wall time, stored as UTC.

Repeats step in the campaign's local calendar (09:00 stays 09:00 local on every day, whatever
the offset does), then each local time is converted to UTC on its own: no drift.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from planner.domain.campaign import Repeat

MAX_OCCURRENCES = 366


class TooManyOccurrences(ValueError):
    pass


def to_utc(local: datetime, zone: ZoneInfo) -> datetime:
    return local.replace(tzinfo=zone).astimezone(timezone.utc)


def local_occurrences(first: datetime, repeat: Repeat | None, last_day, cap: int = MAX_OCCURRENCES) -> list[datetime]:
    """Local (naive) times of every occurrence, starting at ``first``, none after ``last_day``.

    ``last_day`` is the campaign's end date; ``repeat.until`` may end it sooner.
    Raises TooManyOccurrences past ``cap`` so a typo cannot create thousands of posts.
    """
    if repeat is None:
        return [first]
    end_day = min(d for d in (repeat.until, last_day) if d is not None)
    found: list[datetime] = []
    if not repeat.every_days and not repeat.weekdays:
        return found  # nothing to repeat on (the campaign file reports it)
    day = first
    while day.date() <= end_day:
        if repeat.every_days:
            hit = True
        else:
            hit = day.weekday() in repeat.weekdays
        if hit:
            found.append(day)
            if repeat.times is not None and len(found) >= repeat.times:
                break
            if len(found) > cap:
                raise TooManyOccurrences(cap)
        try:
            day = day + timedelta(days=repeat.every_days or 1)
        except OverflowError:  # past year 9999
            break
    return found
