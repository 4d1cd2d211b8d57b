"""CSV and JSON renderers: the same model for spreadsheets and other tools."""

from __future__ import annotations

import csv
import io
import json

from planner.reports.model import Report

POST_COLUMNS = ("id", "content_id", "channel", "platform", "state", "due_at", "published_at", "late_ms", "url",
                "reach", "engagements", "likes", "reposts", "replies", "quotes", "clicks", "views", "text", "error")


def post_rows(report: Report):
    for post in report.posts:
        metrics = post.get("metrics") or {}
        yield [post.get(c) if c in post else metrics.get(c) for c in POST_COLUMNS]


# Which delimiter a spreadsheet expects: Excel with Indonesian regional settings reads ';' (the decimal
# separator there is ','), English settings read ','.
DEFAULT_DELIMITER = {"id": ";", "en": ","}
DELIMITERS = {";": ";", ",": ",", "tab": "\t", "\t": "\t"}
BOM = "\ufeff"  # Excel reads a CSV as UTF-8 only when it starts with this mark


def render_csv(report: Report, *, delimiter: str | None = None, lang: str | None = None, bom: bool = True) -> str:
    """One row per post with its latest metrics, for spreadsheets in the user's language: headers from the
    catalogue, times in the campaign's zone ("2027-02-02 08:00", a form Excel reads as a date and time),
    lateness in seconds with the language's decimal mark, state names in words; UTF-8 with a BOM and
    ';' for Indonesian (``delimiter`` overrides it). Cells that look like formulas are neutralised."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from planner.i18n import get_language, t
    from planner.store.db import parse_utc

    lang = lang or get_language()
    zone = ZoneInfo(report.campaign["timezone"])
    abbr = datetime.now(zone).tzname()
    decimal = "," if lang == "id" else "."

    def local(value):
        return parse_utc(value).astimezone(zone).strftime("%Y-%m-%d %H:%M") if value else ""

    def seconds(ms):
        return "" if ms is None else f"{ms / 1000:.1f}".replace(".", decimal)

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=DELIMITERS.get(delimiter or "", DEFAULT_DELIMITER.get(lang, ",")),
                        lineterminator="\r\n")
    writer.writerow([t(f"csv_col.{c}", lang, zone=abbr) for c in CSV_COLUMNS])
    for post in report.posts:
        metrics = post.get("metrics") or {}
        values = {**{c: metrics.get(c) for c in METRIC_COLUMNS}, "id": post["id"], "content_id": post["content_id"],
                  "channel": post["channel"], "platform": post["platform"],
                  "state": t("state." + post["state"], lang), "due_at": local(post["due_at"]),
                  "published_at": local(post.get("published_at")), "late_s": seconds(post.get("late_ms")),
                  "url": post.get("url"), "text": post.get("text"), "error": post.get("error"),
                  "reach": post.get("reach") if post.get("reach") is not None else metrics.get("reach"),
                  "engagements": post.get("engagements") if post.get("engagements") is not None
                  else metrics.get("engagements")}
        writer.writerow([safe_cell(values[c]) for c in CSV_COLUMNS])
    return (BOM if bom else "") + buffer.getvalue()


METRIC_COLUMNS = ("reach", "engagements", "likes", "reposts", "replies", "quotes", "clicks", "views")
CSV_COLUMNS = ("id", "content_id", "channel", "platform", "state", "due_at", "published_at", "late_s", "url",
               *METRIC_COLUMNS, "text", "error")


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Spreadsheets run cells starting with = + - @ as formulas: prefix them so they stay text."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        return "'" + value
    return value


def render_json(report: Report) -> str:
    # Compact: json's C encoder is only used without indent (indent is ~5x slower on big reports).
    return json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":"))
