"""The monitoring report's "respons cepat" section: each answered alert (keyword, playbook, clarification,
channels and links), how long it took from the spike to the clarification on the first and on the last
channel, and the mentions of the keyword in the hour before and after the answer (the last channel out)."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta

from planner.store import campaigns, responses
from planner.store.db import parse_utc

HOUR = timedelta(hours=1)


def fast_responses(db, campaign_id: str, start: datetime | None = None, end: datetime | None = None) -> dict:
    answers = responses.of_campaign(db, campaign_id, start, end)
    if answers is None:
        return {}
    items = []
    for answer in answers:
        response_id, keyword, content_id = answer["id"], answer["keyword"], answer["content_id"]
        times = responses.times(db, response_id)
        detected = parse_utc(times["detected_at"])
        item = {"alert_id": times["alert_id"], "keyword": keyword, "playbook": answer["playbook"],
                "content": content_id, "clarification": campaigns.content_text(db, campaign_id, content_id) or "",
                "channels": responses.channel_posts(db, response_id),
                **times, "seconds_to_first": None, "seconds_to_answer": None, "mentions_before": None,
                "mentions_after": None}
        if times["first_published_at"]:
            item["seconds_to_first"] = (parse_utc(times["first_published_at"]) - detected).total_seconds()
        if times["last_published_at"] and times["published"] == times["posts"]:
            answered = parse_utc(times["last_published_at"])
            item["seconds_to_answer"] = (answered - detected).total_seconds()
            item["mentions_before"] = responses.mention_count(db, campaign_id, keyword, answered - HOUR, answered)
            item["mentions_after"] = responses.mention_count(db, campaign_id, keyword, answered, answered + HOUR)
        items.append(item)
    answered = [i["seconds_to_answer"] for i in items if i["seconds_to_answer"] is not None]
    first = [i["seconds_to_first"] for i in items if i["seconds_to_first"] is not None]
    return {"responses": items, "count": len(items), "answered": len(answered),
            "median_seconds": statistics.median(answered) if answered else None,
            "worst_seconds": max(answered) if answered else None,
            "median_first_seconds": statistics.median(first) if first else None,
            "worst_first_seconds": max(first) if first else None}


def span(seconds: float | None, lang: str | None = None) -> str:
    """A time to answer in the user's language (or ``lang``): "42,5 dtk", "3,2 mnt"."""
    from planner.i18n import t
    from planner.i18n.dates import format_number

    if seconds is None:
        return "-"
    if seconds < 120:
        return t("report.fast_seconds", lang, n=format_number(seconds, lang, decimals=1))
    return t("report.fast_minutes", lang, n=format_number(seconds / 60, lang, decimals=1))
