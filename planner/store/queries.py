"""Read-only queries shared by the commands and reports."""

from __future__ import annotations

from datetime import datetime

import sqlite_utils

from planner.store.db import utc_iso

STATE_ORDER = ("draft", "pending_approval", "queued", "held", "publishing", "unknown", "needs_review",
               "failed_retryable", "failed", "missed", "published", "canceled")


def _word(text: str) -> str:
    return " ".join(text.lower().replace("_", " ").replace("-", " ").replace(",", " ").split())


def parse_state(word: str) -> str | None:
    """A state as users write it: its code (``published``) or its name in either language (``terbit``,
    ``"menunggu persetujuan"``, ``menunggu-persetujuan``), any case; None if it names no state."""
    from planner.i18n import LANGUAGES, t

    wanted = _word(word)
    for state in STATE_ORDER:
        if wanted == _word(state) or any(wanted == _word(t("state." + state, lang)) for lang in LANGUAGES):
            return state
    return None


def state_names(states) -> str:
    """States for a message: each name once, quoted (one name may hold a comma), in lifecycle order."""
    from planner.i18n import t

    codes = [s for s in STATE_ORDER if s in set(states)] + [s for s in dict.fromkeys(states) if s not in STATE_ORDER]
    return ", ".join(dict.fromkeys(f"'{t('state.' + s)}'" for s in codes))


def campaign_state_counts(db: sqlite_utils.Database, campaign_id: str | None = None) -> dict[str, int]:
    """Posts per state, in lifecycle order, leaving out states with none."""
    where, params = ("WHERE campaign_id = ?", [campaign_id]) if campaign_id else ("", [])
    found = dict(db.execute(f"SELECT state, COUNT(*) FROM posts {where} GROUP BY state", params).fetchall())
    return {state: found[state] for state in STATE_ORDER if state in found}


def queue_rows(db: sqlite_utils.Database, *, campaign: str | None, start: str | None, end: str | None,
               states: list[str], limit: int) -> list[dict]:
    clauses, params = [], []
    if campaign:
        clauses.append("campaign_id = ?")
        params.append(campaign)
    if start:
        clauses.append("due_at >= ?")
        params.append(start)
    if end:
        clauses.append("due_at < ?")
        params.append(end)
    if states:
        clauses.append(f"state IN ({','.join('?' * len(states))})")
        params.extend(states)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    return list(db.query(
        f"SELECT id, campaign_id, content_id, channel, platform, due_at, state, text, published_at, standby "
        f"FROM posts {where} ORDER BY due_at, id LIMIT ?", [*params, limit]))


def period_sql(column: str, start: datetime | None, end: datetime | None) -> tuple[str, list]:
    """SQL (" AND column >= ? AND column < ?") and its parameters for the period [start, end); either open."""
    clauses, params = "", []
    if start:
        clauses += f" AND {column} >= ?"
        params.append(utc_iso(start))
    if end:
        clauses += f" AND {column} < ?"
        params.append(utc_iso(end))
    return clauses, params


def calendar_rows(db: sqlite_utils.Database, *, campaign: str | None, start: datetime | None = None,
                  end: datetime | None = None) -> list[dict]:
    """Posts due in [start, end) (aware datetimes; None: open), every state but canceled, in time order."""
    clauses, params = ["state != 'canceled'"], []
    if campaign:
        clauses.append("campaign_id = ?")
        params.append(campaign)
    if start is not None:
        clauses.append("due_at >= ?")
        params.append(utc_iso(start))
    if end is not None:
        clauses.append("due_at < ?")
        params.append(utc_iso(end))
    return list(db.query(
        "SELECT id, campaign_id, content_id, channel, platform, occurrence, idempotency_key, due_at, state, "
        f"text, link, url, published_at, updated_at FROM posts WHERE {' AND '.join(clauses)} "
        "ORDER BY due_at, channel, id", params))


def awaiting_approval(db: sqlite_utils.Database, campaign: str | None = None) -> list[dict]:
    """Whole rows of the posts waiting for an approver (of one campaign, or all), by due time."""
    sql = "SELECT * FROM posts WHERE state = 'pending_approval'"
    params: list = []
    if campaign:
        sql += " AND campaign_id = ?"
        params.append(campaign)
    return list(db.query(sql + " ORDER BY due_at, id", params))


def count_awaiting_approval(db: sqlite_utils.Database, campaign_ids: list[str]) -> int:
    if not campaign_ids:
        return 0
    marks = ",".join("?" * len(campaign_ids))
    return db.execute(f"SELECT COUNT(*) FROM posts WHERE state = 'pending_approval' AND campaign_id IN ({marks})",
                      campaign_ids).fetchone()[0]


def channel_posts_from(db: sqlite_utils.Database, channel: str, since: datetime) -> list[dict]:
    """id, content_id, due_at, state of the account's posts due from ``since`` on, canceled ones left out."""
    return list(db.query("SELECT id, content_id, due_at, state FROM posts WHERE channel = ? AND state != 'canceled' "
                         "AND due_at >= ?", [channel, utc_iso(since)]))


def published_platform_refs(db: sqlite_utils.Database) -> list[tuple[str, str, str | None]]:
    """(platform post id, thread JSON, thread part ids JSON) of every published post."""
    return [tuple(r) for r in db.execute(
        "SELECT platform_post_id, thread, thread_ids FROM posts WHERE state = 'published'").fetchall()]
