"""The monitoring report's "respons cepat" section: each answered alert (keyword, playbook, clarification,
channels and links), how long it took from the spike to the clarification on the first and on the last
channel, and the mentions of the keyword in the hour before and after the answer (the last channel out)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from planner.store.db import parse_utc, utc_iso

HOUR = timedelta(hours=1)


def _mentions(db, campaign_id: str, keyword: str, start: datetime, end: datetime) -> int:
    return db.execute("SELECT COUNT(*) FROM mentions WHERE campaign_id = ? AND keyword = ? AND created_at >= ? "
                      "AND created_at < ?", [campaign_id, keyword, utc_iso(start), utc_iso(end)]).fetchone()[0]


def fast_responses(db, campaign_id: str, start: datetime | None = None, end: datetime | None = None) -> dict:
    from planner.response.respond import response_times

    if "responses" not in db.table_names():
        return {}
    sql = ("SELECT r.id, a.keyword, r.playbook, r.content_id FROM responses r JOIN alerts a ON a.id = r.alert_id "
           "WHERE r.campaign_id = ?")
    params: list = [campaign_id]
    if start:
        sql += " AND a.at >= ?"
        params.append(utc_iso(start))
    if end:
        sql += " AND a.at < ?"
        params.append(utc_iso(end))
    items = []
    for response_id, keyword, playbook, content_id in db.execute(sql + " ORDER BY a.at", params).fetchall():
        times = response_times(db, response_id)
        detected = parse_utc(times["detected_at"])
        item = {"alert_id": times["alert_id"], "keyword": keyword, "playbook": playbook, "content": content_id,
                "clarification": _clarification(db, campaign_id, content_id), "channels": _channels(db, response_id),
                **times, "seconds_to_first": None, "seconds_to_answer": None, "mentions_before": None,
                "mentions_after": None}
        if times["first_published_at"]:
            item["seconds_to_first"] = (parse_utc(times["first_published_at"]) - detected).total_seconds()
        if times["last_published_at"] and times["published"] == times["posts"]:
            answered = parse_utc(times["last_published_at"])
            item["seconds_to_answer"] = (answered - detected).total_seconds()
            item["mentions_before"] = _mentions(db, campaign_id, keyword, answered - HOUR, answered)
            item["mentions_after"] = _mentions(db, campaign_id, keyword, answered, answered + HOUR)
        items.append(item)
    answered = [i["seconds_to_answer"] for i in items if i["seconds_to_answer"] is not None]
    first = [i["seconds_to_first"] for i in items if i["seconds_to_first"] is not None]
    return {"responses": items, "count": len(items), "answered": len(answered),
            "median_seconds": statistics.median(answered) if answered else None,
            "worst_seconds": max(answered) if answered else None,
            "median_first_seconds": statistics.median(first) if first else None,
            "worst_first_seconds": max(first) if first else None}


def _clarification(db, campaign_id: str, content_id: str) -> str:
    row = db.execute("SELECT text FROM content WHERE campaign_id = ? AND id = ?", [campaign_id, content_id]).fetchone()
    return row[0] if row else ""


def _channels(db, response_id: int) -> list[dict]:
    """The answer's posts: channel, platform, state, when published (UTC) and the link."""
    rows = db.execute("SELECT p.id, p.channel, p.platform, p.state, p.published_at, p.url FROM response_posts rp "
                      "JOIN posts p ON p.id = rp.post_id WHERE rp.response_id = ? ORDER BY p.channel, p.id",
                      [response_id]).fetchall()
    return [{"post_id": r[0], "channel": r[1], "platform": r[2], "state": r[3], "published_at": r[4], "url": r[5]}
            for r in rows]


def span(seconds: float | None, lang: str | None = None) -> str:
    """A time to answer in the user's language (or ``lang``): "42,5 dtk", "3,2 mnt"."""
    from planner.i18n import t
    from planner.i18n.dates import format_number

    if seconds is None:
        return "-"
    if seconds < 120:
        return t("report.fast_seconds", lang, n=format_number(seconds, lang, decimals=1))
    return t("report.fast_minutes", lang, n=format_number(seconds / 60, lang, decimals=1))
