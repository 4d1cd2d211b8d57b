"""Log line times: ISO date order, the office's local time, its zone named (planner/log_time.py)."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from planner.log_time import LocalTimeFormatter, local_stamp, rich_time_format

MOMENT = datetime(2026, 12, 2, 15, 35, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize("zone, expected", [
    ("Asia/Jakarta", "2026-12-02 22:35:30 WIB"),
    ("Asia/Makassar", "2026-12-02 23:35:30 WITA"),
    ("Asia/Jayapura", "2026-12-03 00:35:30 WIT"),
    ("Etc/GMT-7", "2026-12-02 22:35:30 UTC+07:00"),  # a zone without a name: its offset, readable
])
def test_local_stamp(zone, expected):
    assert local_stamp(MOMENT, ZoneInfo(zone)) == expected


def test_formatter_puts_the_local_stamp_in_asctime():
    record = logging.LogRecord("planner", logging.INFO, __file__, 1, "post %s published", (7,), None)
    record.created = MOMENT.timestamp()
    line = LocalTimeFormatter("%(asctime)s %(levelname)s %(message)s", ZoneInfo("Asia/Jakarta")).format(record)
    assert line == "2026-12-02 22:35:30 WIB INFO post 7 published"


def test_rich_time_format_reads_rich_s_naive_local_time():
    # RichHandler hands over datetime.fromtimestamp(record.created): naive, in the machine's own zone.
    naive_local = datetime.fromtimestamp(MOMENT.timestamp())
    assert rich_time_format(ZoneInfo("Asia/Jakarta"))(naive_local).plain == "2026-12-02 22:35:30 WIB"
