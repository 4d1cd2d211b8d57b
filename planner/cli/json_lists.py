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
    from dataclasses import asdict

    from planner.publishing.service import heartbeat_state
    from planner.services.pausing import paused_reason
    from planner.services.status import lateness_last_day
    from planner.store import dashboard
    from planner import clock
    from planner.store.queries import campaign_state_counts

    beat = heartbeat_state(db)
    scheduler = {"running": bool(beat), "host": beat.get("host") if beat else None,
                 "pid": beat.get("pid") if beat else None,
                 "heartbeat_age_s": round(beat["age_s"], 1) if beat else None}
    upcoming = dashboard.upcoming(db, include_standby=True)
    attention = dashboard.needing_attention(db)
    retrying = dashboard.recent_retries(db)
    late = lateness_last_day(db, now=clock.now())
    lateness = asdict(late) if late else None
    emit("status",
         scheduler=scheduler,
         paused=paused_reason(db),
         counts=campaign_state_counts(db),
         next=[{**post_item(r), "retry_at": utc(r["retry_at"]), "text": r["text"]} for r in upcoming],
         attention=[{**post_item(r), "last_error": r["last_error"],
                     "command": (NEXT_COMMAND.get(r["state"]) or "").format(id=r["id"]) or None} for r in attention],
         retrying=[{**post_item(r), "retry_at": utc(r["retry_at"]), "last_error": r["last_error"],
                    "updated_at": utc(r["updated_at"])} for r in retrying],
         lateness_24h=lateness,
         workers=_live_workers(db))
    return bool(attention)


def _live_workers(db) -> list[dict] | None:
    """PostgreSQL: each worker whose heartbeat is fresh, as `planner status` shows them; None on SQLite."""
    from datetime import datetime, timezone

    from planner.store.worker_jobs import live_workers
    from planner.workers.app import STALLED_AFTER

    if getattr(db, "dialect", "sqlite") != "postgresql":
        return None
    now = datetime.now(timezone.utc)
    return [{"id": w.id, "heartbeat_age_s": round(max(0.0, (now - w.last_heartbeat).total_seconds()), 1),
             "posts": w.posts, "other_jobs": w.other_jobs}
            for w in live_workers(db, stale_after=STALLED_AFTER)]


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
