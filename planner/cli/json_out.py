"""`--json` of the list commands: one JSON document on stdout for scripts (keys documented in
docs/json-output.md and kept stable; new keys may be added, none renamed or removed).

Times are UTC ISO-8601 with a Z ("2027-02-02T01:00:00.000Z"), whatever the language or the office's zone;
state names are the program's own (``queued``, ``failed``...), never the translated words.
"""

from __future__ import annotations

import json

import typer

from planner.i18n import t

FORMAT_VERSION = 1


def json_option():
    return typer.Option(False, "--json", help=t("json_out.help"))


def utc(value) -> str | None:
    """A time from the database (already UTC ISO with Z) or an aware datetime, as UTC ISO-8601 with Z."""
    from datetime import datetime

    from planner.store.db import parse_utc, utc_iso

    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return utc_iso(value)
    return utc_iso(parse_utc(str(value)))


def emit(kind: str, **body) -> None:
    """Print {"kind": ..., "version": 1, **body} as one JSON document (UTF-8, not ASCII-escaped)."""
    document = {"kind": kind, "version": FORMAT_VERSION, **body}
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def post_item(row: dict) -> dict:
    """The fields every post in a JSON list has (queue, status, review)."""
    return {
        "id": row["id"],
        "campaign": row.get("campaign_id"),
        "content": row.get("content_id"),
        "channel": row.get("channel"),
        "platform": row.get("platform"),
        "state": row.get("state"),
        "due_at": utc(row.get("due_at")),
    }
