"""Build a report and write it in the chosen format (file or terminal)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

from planner.files import check_target, safe_write
from planner.reports.model import build_report


def period_window(period: str, now: datetime, zone) -> tuple[datetime, datetime]:
    """The last full day / week (Monday-Sunday) / month before ``now``, in local time."""
    local = now.astimezone(zone)
    today = datetime.combine(local.date(), time.min, zone)
    if period == "daily":
        return today - timedelta(days=1), today
    if period == "weekly":
        this_monday = today - timedelta(days=local.weekday())
        return this_monday - timedelta(days=7), this_monday
    first = today.replace(day=1)
    previous = (first - timedelta(days=1)).replace(day=1)
    return previous, first


def write_report(db, campaign_id: str, *, fmt: str, now: datetime, start: datetime | None = None,
                 end: datetime | None = None, out: Path | None = None, console=None,
                 delimiter: str | None = None, prices: dict[str, float] | None = None) -> Path | None:
    """The report on ``console``, or written to ``out`` whole or not at all (planner.files.safe_write: its
    folders are made, 0700; a folder, device or FIFO as ``out`` is refused with a FileWriteError).
    ``prices``: X's prices for the estimated X cost (planner.platforms.x_cost.x_prices)."""
    if out is not None:
        check_target(out, make_parents=True)  # a bad --out is refused before the report is built
    report = build_report(db, campaign_id, now=now, start=start, end=end, prices=prices)
    if report is None:
        return None
    if fmt == "text" and out is None:
        from planner.reports.text import render_text

        render_text(report, console)
        return None
    if fmt == "xlsx":
        from planner.reports.xlsx import render_xlsx

        return safe_write(out, lambda tmp: render_xlsx(report, tmp), make_parents=True)
    if fmt == "html":
        from planner.reports.html import render_html

        text = render_html(report)
    elif fmt == "csv":
        from planner.reports.tabular import render_csv

        # The BOM tells Excel the file is UTF-8; a terminal has no use for it.
        text = render_csv(report, delimiter=delimiter, bom=out is not None)
    elif fmt == "json":
        from planner.reports.tabular import render_json

        text = render_json(report)
    else:  # text to a file
        from io import StringIO

        from rich.console import Console

        buffer = StringIO()
        from planner.reports.text import render_text

        render_text(report, Console(file=buffer, width=110, color_system=None))
        text = buffer.getvalue()
    if out is None:
        console.print(text, markup=False, highlight=False)
        return None
    return safe_write(out, text, make_parents=True)
