"""Per-account posting slots ("mon-fri 08:00") and finding the next free one.

Slot times are local wall times in the account's zone, turned into UTC one by one, so a slot
stays at 08:00 local on every day whatever the offset does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(?P<days>[a-z]{3}(?:\s*-\s*[a-z]{3})?(?:\s*,\s*[a-z]{3}(?:\s*-\s*[a-z]{3})?)*|daily)\s+"
                   r"(?P<hour>\d{1,2})[:.](?P<minute>\d{2})\s*$", re.IGNORECASE)
MAX_SEARCH_DAYS = 366


@dataclass(frozen=True)
class Slot:
    weekdays: frozenset[int]
    at: time


def parse_slot(spec: str) -> Slot:
    """'mon-fri 08:00', 'sat,sun 09.30', 'daily 19:00'. Raises ValueError with the bad spec."""
    match = _SPEC.match(spec or "")
    if not match:
        raise ValueError(spec)
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(spec)
    days: set[int] = set()
    text = match["days"].lower()
    if text == "daily":
        days = set(range(7))
    else:
        for part in text.split(","):
            ends = [p.strip() for p in part.split("-")]
            if any(e not in DAYS for e in ends):
                raise ValueError(spec)
            first, last = DAYS.index(ends[0]), DAYS.index(ends[-1])
            span = range(first, last + 1) if first <= last else [*range(first, 7), *range(0, last + 1)]
            days.update(span)
    return Slot(frozenset(days), time(hour, minute))


def slot_times(slots: Iterable[Slot], zone: ZoneInfo, after: datetime, until: date) -> Iterator[datetime]:
    """Every slot moment (UTC) strictly after ``after``, up to the end of ``until`` (local), in order."""
    slots = list(slots)
    day = after.astimezone(zone).date()
    last = min(until, day + timedelta(days=MAX_SEARCH_DAYS))
    while day <= last:
        # A set: two specs naming the same time (or a DST fold) must not give one slot twice.
        moments = sorted({datetime.combine(day, s.at, zone).astimezone(timezone.utc)
                          for s in slots if day.weekday() in s.weekdays})
        for moment in moments:
            if moment > after:
                yield moment
        day += timedelta(days=1)


def next_free(slots: Iterable[Slot], zone: ZoneInfo, *, after: datetime, until: date,
              taken: set[datetime]) -> datetime | None:
    """The first slot after ``after`` that no post of the account uses yet; None if none left."""
    for moment in slot_times(slots, zone, after, until):
        if moment not in taken:
            return moment
    return None
