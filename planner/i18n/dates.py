"""Times shown to people: in their zone, with Indonesian (or English) day and month names."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from planner.i18n import get_language

DAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September",
           "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"),
}


def format_moment(moment: datetime, zone: ZoneInfo, lang: str | None = None, *, with_day: bool = True) -> str:
    """'Senin, 7 Desember 2026 09.00 WIB' / 'Monday, 7 December 2026 09:00 WIB'."""
    lang = lang or get_language()
    local = moment.astimezone(zone)
    clock = local.strftime("%H.%M" if lang == "id" else "%H:%M")
    day = f"{DAYS[lang][local.weekday()]}, " if with_day else ""
    return f"{day}{local.day} {MONTHS[lang][local.month - 1]} {local.year} {clock} {local.tzname()}"


def format_date(moment, lang: str | None = None) -> str:
    lang = lang or get_language()
    return f"{moment.day} {MONTHS[lang][moment.month - 1]} {moment.year}"


def format_number(value: float, lang: str | None = None, decimals: int = 0) -> str:
    """Indonesian uses '.' for thousands and ',' for decimals: 12.345,6."""
    lang = lang or get_language()
    text = f"{value:,.{decimals}f}"
    if lang == "id":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text
