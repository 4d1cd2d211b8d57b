"""Mentions found by listening (stored once per campaign, platform post and keyword) and the spikes
raised on them (the ``alerts`` table)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from planner.store.db import parse_utc, transaction, utc_iso
from planner.store.queries import period_sql
from planner.store.schema import is_postgres


# --- mentions --------------------------------------------------------------------------------------
def record(db, campaign_id: str, mentions: Iterable, *, now: datetime) -> int:
    """Store the campaign's mentions (planner.platforms.base.Mention) not stored yet; returns how many were
    new. A mention without a time is dated ``now``."""
    now_s = utc_iso(now)
    with transaction(db) as conn:
        new = 0
        for m in mentions:  # each insert's rowcount (1 stored, 0 already there): the same on both backends
            new += conn.execute(
                """INSERT OR IGNORE INTO mentions (campaign_id, platform, platform_id, keyword, text, author, url,
                                                   created_at, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [campaign_id, m.platform, m.platform_id, m.keyword, m.text, m.author, m.url,
                 utc_iso(m.created_at) if m.created_at else now_s, now_s]).rowcount
        return new


def newest_time(db, campaign_id: str) -> datetime | None:
    """When the campaign's newest stored mention was made."""
    last = db.execute("SELECT MAX(created_at) FROM mentions WHERE campaign_id = ?", [campaign_id]).fetchone()[0]
    return parse_utc(last) if last else None


def count(db, campaign_id: str) -> int:
    return db.execute("SELECT COUNT(*) FROM mentions WHERE campaign_id = ?", [campaign_id]).fetchone()[0]


def count_since(db, campaign_id: str, keyword: str, *, since: datetime, now: datetime) -> int:
    """The keyword's mentions made from ``since`` up to and including ``now``."""
    return db.execute("SELECT COUNT(*) FROM mentions WHERE campaign_id = ? AND keyword = ? AND created_at >= ? "
                      "AND created_at <= ?", [campaign_id, keyword, utc_iso(since), utc_iso(now)]).fetchone()[0]


def times(db, campaign_id: str, keyword: str, *, start: datetime, end: datetime) -> list[datetime]:
    """When each of the keyword's mentions in [start, end) was made."""
    return [parse_utc(created) for (created,) in db.execute(
        "SELECT created_at FROM mentions WHERE campaign_id = ? AND keyword = ? AND created_at >= ? AND created_at < ?",
        [campaign_id, keyword, utc_iso(start), utc_iso(end)])]


def newest_of_keyword(db, campaign_id: str, keyword: str, *, since: datetime, limit: int = 3) -> list[dict]:
    """The keyword's newest mentions made since ``since``: {"platform", "author", "text", "url", "created_at"}."""
    return list(db.query("SELECT platform, author, text, url, created_at FROM mentions WHERE campaign_id = ? AND "
                         "keyword = ? AND created_at >= ? ORDER BY created_at DESC LIMIT ?",
                         [campaign_id, keyword, utc_iso(since), limit]))


def keyword_times(db, campaign_id: str, *, start: datetime | None = None,
                  end: datetime | None = None) -> list[tuple[str, str]]:
    """(keyword, created_at as UTC text) of each of the campaign's mentions in [start, end)."""
    clauses, params = period_sql("created_at", start, end)
    return db.execute(f"SELECT keyword, created_at FROM mentions WHERE campaign_id = ?{clauses}",
                      [campaign_id, *params]).fetchall()


def newest(db, campaign_id: str, *, start: datetime | None = None, end: datetime | None = None,
           limit: int = 10) -> list[dict]:
    """The campaign's newest mentions in [start, end): {"platform", "keyword", "author", "text", "url",
    "created_at"}."""
    clauses, params = period_sql("created_at", start, end)
    return [dict(r) for r in db.query(
        f"SELECT platform, keyword, author, text, url, created_at FROM mentions WHERE campaign_id = ?{clauses} "
        f"ORDER BY created_at DESC LIMIT ?", [campaign_id, *params, limit])]


def _listing_where(campaign: str | None, since: datetime | None) -> tuple[str, list]:
    clauses, params = [], []
    if campaign:
        clauses.append("campaign_id = ?")
        params.append(campaign)
    if since:
        clauses.append("created_at >= ?")
        params.append(utc_iso(since))
    return ("WHERE " + " AND ".join(clauses)) if clauses else "", params


def listing(db, *, campaign: str | None = None, since: datetime | None = None, limit: int = 50) -> list[dict]:
    """The newest stored mentions, every column, one row per (campaign, keyword) found."""
    where, params = _listing_where(campaign, since)
    return list(db.query(f"SELECT * FROM mentions {where} ORDER BY created_at DESC LIMIT ?", [*params, limit]))


def listing_by_post(db, *, campaign: str | None = None, since: datetime | None = None,
                    limit: int = 50) -> list[dict]:
    """The newest mentions, one row per platform post: {"platform", "author", "text", "created_at",
    "keywords", "campaigns"} (the last two comma-separated: a post found for several campaigns or keywords
    is stored once for each)."""
    where, params = _listing_where(campaign, since)
    if is_postgres(db):
        # SQLite allows the bare author and text (one platform post's, the same in each of its rows);
        # PostgreSQL wants them named: the newest row's.
        return list(db.query(
            "SELECT platform, (array_agg(author ORDER BY created_at DESC, id))[1] AS author, "
            "(array_agg(text ORDER BY created_at DESC, id))[1] AS text, MAX(created_at) AS created_at, "
            "group_concat(DISTINCT keyword) AS keywords, group_concat(DISTINCT campaign_id) AS campaigns "
            f"FROM mentions {where} GROUP BY platform, platform_id ORDER BY created_at DESC, MIN(id) DESC LIMIT ?",
            [*params, limit]))
    return list(db.query(
        "SELECT platform, author, text, MAX(created_at) AS created_at, group_concat(DISTINCT keyword) AS keywords, "
        f"group_concat(DISTINCT campaign_id) AS campaigns FROM mentions {where} GROUP BY platform, platform_id "
        "ORDER BY created_at DESC, MIN(id) DESC LIMIT ?", [*params, limit]))


# --- spikes (the alerts table) ---------------------------------------------------------------------
def record_spike(db, campaign_id: str, keyword: str, *, now: datetime, count: int, baseline: float,
                 detail: str) -> None:
    with transaction(db) as conn:
        conn.execute("INSERT INTO alerts (campaign_id, keyword, at, window_count, baseline, detail) "
                     "VALUES (?, ?, ?, ?, ?, ?)", [campaign_id, keyword, utc_iso(now), count, baseline, detail])


def spike_raised_since(db, campaign_id: str, keyword: str, *, since: datetime) -> bool:
    return db.execute("SELECT 1 FROM alerts WHERE campaign_id = ? AND keyword = ? AND at >= ?",
                      [campaign_id, keyword, utc_iso(since)]).fetchone() is not None


def spikes(db, campaign_id: str, *, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """The campaign's spikes in [start, end), oldest first: {"keyword", "at", "window_count", "baseline",
    "detail"}."""
    clauses, params = period_sql("at", start, end)
    return [dict(r) for r in db.query(
        f"SELECT keyword, at, window_count, baseline, detail FROM alerts WHERE campaign_id = ?{clauses} ORDER BY at",
        [campaign_id, *params])]
