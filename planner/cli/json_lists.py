"""The `--json` documents of `status`, `review`, `mentions` and `audit` (see docs/json-output.md).

Each reads the same rows as the command's screen output; nothing here is translated.
"""

from __future__ import annotations

import json

from planner.cli.json_out import emit, post_item, utc

# The command that works for a post in each state needing attention (see `planner status`).
NEXT_COMMAND = {"failed": "planner post retry {id}", "missed": "planner post requeue {id}",
                "needs_review": "planner post requeue {id}", "unknown": None}


def status_document(db, config) -> bool:
    """Print `planner status --json`; True when some post needs a person (the command then exits 1)."""
    from datetime import timedelta

    from planner.publishing.service import heartbeat_state
    from planner.store import outbox
    from planner.store.db import now_utc, utc_iso
    from planner.store.queries import campaign_state_counts

    beat = heartbeat_state(db)
    scheduler = {"running": bool(beat), "host": beat.get("host") if beat else None,
                 "pid": beat.get("pid") if beat else None,
                 "heartbeat_age_s": round(beat["age_s"], 1) if beat else None}
    upcoming = list(db.query("SELECT id, campaign_id, content_id, channel, platform, state, due_at, retry_at, text "
                             "FROM posts WHERE state IN ('queued', 'failed_retryable') "
                             "ORDER BY COALESCE(retry_at, due_at) LIMIT 5"))
    attention = list(db.query("SELECT id, campaign_id, content_id, channel, platform, state, due_at, last_error "
                              "FROM posts WHERE state IN ('needs_review', 'missed', 'failed', 'unknown') "
                              "ORDER BY due_at"))
    retrying = list(db.query("SELECT id, campaign_id, content_id, channel, platform, state, due_at, retry_at, "
                             "last_error, updated_at FROM posts WHERE state = 'failed_retryable' "
                             "ORDER BY updated_at DESC LIMIT 5"))
    since = utc_iso(now_utc() - timedelta(hours=24))
    late = [r[0] for r in db.execute("SELECT late_ms FROM posts WHERE state = 'published' AND published_at >= ? "
                                     "AND late_ms IS NOT NULL ORDER BY late_ms", [since])]
    lateness = None
    if late:
        lateness = {"count": len(late), "p50_s": late[len(late) // 2] / 1000,
                    "p99_s": late[min(len(late) - 1, int(len(late) * 0.99))] / 1000, "worst_s": late[-1] / 1000}
    emit("status",
         scheduler=scheduler,
         paused=outbox.get_setting(db, "paused"),
         counts=campaign_state_counts(db),
         next=[{**post_item(r), "retry_at": utc(r["retry_at"]), "text": r["text"]} for r in upcoming],
         attention=[{**post_item(r), "last_error": r["last_error"],
                     "command": (NEXT_COMMAND.get(r["state"]) or "").format(id=r["id"]) or None} for r in attention],
         retrying=[{**post_item(r), "retry_at": utc(r["retry_at"]), "last_error": r["last_error"],
                    "updated_at": utc(r["updated_at"])} for r in retrying],
         lateness_24h=lateness)
    return bool(attention)


def review_document(rows: list[dict], me: str) -> None:
    """`planner review --json`: each post waiting for approval, its full text as it will go out."""
    from planner.domain.text_rules import LIMITS, append_link, text_length

    posts = []
    for row in rows:
        text = append_link(row["text"], row["link"]) if row["link"] else row["text"]
        posts.append({**post_item(row), "author": row["author"], "yours": row["author"] == me, "text": text,
                      "length": text_length(row["platform"], text),
                      "limit": LIMITS[row["platform"]]["text_limit"],
                      "media": json.loads(row["media"] or "[]")})
    emit("review", posts=posts)


def mentions_document(rows: list[dict]) -> None:
    emit("mentions", mentions=[
        {"id": r["id"], "campaign": r["campaign_id"], "platform": r["platform"], "keyword": r["keyword"],
         "author": r["author"], "text": r["text"], "url": r["url"], "created_at": utc(r["created_at"]),
         "seen_at": utc(r["seen_at"])} for r in rows])


def audit_document(rows: list[dict]) -> None:
    """`planner audit --json`: oldest first, like the screen; ``detail`` is the recorded JSON object."""
    entries = []
    for r in rows:
        try:
            detail = json.loads(r["detail"])
        except (TypeError, ValueError):
            detail = r["detail"]
        entries.append({"id": r["id"], "at": utc(r["at"]), "actor": r["actor"], "os_user": r.get("os_user"),
                        "action": r["action"], "subject": r["subject"], "detail": detail,
                        "hash": r["hash"], "prev_hash": r["prev_hash"]})
    emit("audit", entries=entries)


def audit_verify_document(count: int, breaks, heads) -> None:
    emit("audit_verify", intact=not breaks, entries=count,
         breaks=[{"id": b.id, "reason": b.reason, "source": b.source} for b in breaks],
         heads=len(heads))
