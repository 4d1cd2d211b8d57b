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


def render_csv(report: Report) -> str:
    """One row per post with its latest metrics; cells that look like formulas are neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(POST_COLUMNS)
    for row in post_rows(report):
        writer.writerow([safe_cell(v) for v in row])
    return buffer.getvalue()


FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value):
    """Spreadsheets run cells starting with = + - @ as formulas: prefix them so they stay text."""
    if isinstance(value, str) and value[:1] in FORMULA_START:
        return "'" + value
    return value


def render_json(report: Report) -> str:
    # Compact: json's C encoder is only used without indent (indent is ~5x slower on big reports).
    return json.dumps(report.to_dict(), ensure_ascii=False, separators=(",", ":"))
