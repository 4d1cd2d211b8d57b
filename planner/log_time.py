"""Times in log lines: the office's local time with its zone, in ISO date order.

``2026-12-02 22:35:30 WIB``, never ``12/02/26`` (read as 12 February in Indonesia) and never a bare
UTC time. The zone is the config's ``timezone`` (Asia/Jakarta → WIB, Asia/Makassar → WITA,
Asia/Jayapura → WIT), so a server whose clock runs in UTC still logs the time staff read on the wall.
"""

from __future__ import annotations

import logging
from datetime import datetime, tzinfo

LOG_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def local_stamp(moment: datetime, zone: tzinfo | None = None) -> str:
    """``moment`` (aware, or naive in the machine's local time) as ``2026-12-02 22:35:30 WIB``."""
    local = moment.astimezone(zone) if zone is not None else moment.astimezone()
    name = local.tzname() or local.strftime("%z")
    if name and name[0] in "+-":  # a zone without an abbreviation: +0700 is clearer as UTC+07:00
        offset = local.strftime("%z")
        name = f"UTC{offset[:3]}:{offset[3:]}"
    return f"{local.strftime(LOG_TIME_FORMAT)} {name}"


class LocalTimeFormatter(logging.Formatter):
    """A logging.Formatter whose ``%(asctime)s`` is :func:`local_stamp` in ``zone``."""

    def __init__(self, fmt: str | None = None, zone: tzinfo | None = None):
        super().__init__(fmt)
        self.zone = zone

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:  # noqa: N802 (logging's name)
        return local_stamp(datetime.fromtimestamp(record.created).astimezone(), self.zone)


def rich_time_format(zone: tzinfo | None = None):
    """A ``log_time_format`` for rich's RichHandler (which hands it a naive local datetime)."""
    from rich.text import Text

    return lambda moment: Text(local_stamp(moment, zone))
