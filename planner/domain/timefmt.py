"""The one text form of a moment: UTC ISO-8601 with milliseconds and a Z (sorts as text)."""

from __future__ import annotations

from datetime import datetime, timezone


def utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    moment = moment.astimezone(timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
