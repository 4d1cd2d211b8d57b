"""Post metrics: the snapshots each collection appends, the latest value per (post, metric), each post's
collection status, and the campaign totals after each collection.

History is never overwritten: ``record`` appends snapshot rows and keeps the ``metric_latest`` rollup
and ``metric_status`` beside them in the same transaction.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable, Sequence

from planner.store.db import parse_utc, transaction, utc_iso
from planner.store.queries import period_sql
from planner.store.schema import is_postgres


@dataclass(frozen=True)
class Collectable:
    """A published post with a platform id, and where its metric collection stands."""

    id: int
    campaign_id: str
    channel: str
    platform: str
    ref: str                           # the platform's id of the post
    published_at: datetime
    last_collected_at: datetime | None
    available: bool | None             # False: the platform gives no metrics; None: never asked


def collectable(db, *, campaign: str | None = None) -> list[Collectable]:
    """Published posts with a platform id (optionally of one campaign) and their collection status."""
    where, params = "p.state = 'published' AND p.platform_post_id IS NOT NULL", []
    if campaign:
        where += " AND p.campaign_id = ?"
        params.append(campaign)
    rows = db.execute(
        f"""SELECT p.id, p.campaign_id, p.channel, p.platform, p.platform_post_id, p.published_at,
                   s.last_collected_at, s.available
            FROM posts p LEFT JOIN metric_status s ON s.post_id = p.id WHERE {where}""", params).fetchall()
    return [Collectable(post_id, campaign_id, channel, platform, ref, parse_utc(published_at),
                        parse_utc(last) if last is not None else None, None if available is None else bool(available))
            for post_id, campaign_id, channel, platform, ref, published_at, last, available in rows]


def record(db, post_ids: Sequence[int], figures: Iterable[tuple[int, str, int]], *, now: datetime,
           available: bool, note: str | None = None) -> int:
    """One collection of ``post_ids``: their ``figures`` (post id, metric, value) appended as snapshots and
    kept as the latest values, and each post's status (asked now; ``available``: the platform gives
    metrics at all). Returns the number of figures written."""
    now_s = utc_iso(now)
    rows = [(post_id, now_s, metric, int(value)) for post_id, metric, value in figures]
    with transaction(db) as conn:
        conn.executemany("INSERT INTO metric_snapshots (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT INTO metric_latest (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (post_id, metric) DO UPDATE SET value = excluded.value, collected_at = excluded.collected_at "
            "WHERE excluded.collected_at >= metric_latest.collected_at", rows)
        conn.executemany(
            "INSERT INTO metric_status (post_id, last_collected_at, available, note) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (post_id) DO UPDATE SET last_collected_at = excluded.last_collected_at, "
            "available = excluded.available, note = excluded.note",
            [(post_id, now_s, int(available), note) for post_id in post_ids])
    return len(rows)


# The campaign totals follow planner.domain.kpi.post_value: a post's engagements are its own
# "engagements" figure if the platform gives one, else likes + reposts + replies + quotes + saves;
# its reach is reach, else views, else impressions. (tests/integration/test_monitoring.py checks
# this SQL against post_value.)
_TOTALS_SQL = """
    SELECT COALESCE(SUM(eng), 0), COALESCE(SUM(reach), 0) FROM (
        SELECT COALESCE(MAX(CASE WHEN l.metric = 'engagements' THEN l.value END),
                        SUM(CASE WHEN l.metric IN ('likes', 'reposts', 'replies', 'quotes', 'saves')
                                 THEN l.value END)) AS eng,
               COALESCE(MAX(CASE WHEN l.metric = 'reach' THEN l.value END),
                        MAX(CASE WHEN l.metric = 'views' THEN l.value END),
                        MAX(CASE WHEN l.metric = 'impressions' THEN l.value END)) AS reach
        FROM metric_latest l JOIN posts p ON p.id = l.post_id
        WHERE p.campaign_id = ? GROUP BY l.post_id)"""


def record_totals(db, campaign_id: str, *, now: datetime) -> None:
    """Append the campaign's totals as of this collection (the engagement-over-time series)."""
    with transaction(db) as conn:
        engagements, reach = conn.execute(_TOTALS_SQL, [campaign_id]).fetchone()
        conn.execute("INSERT INTO metric_totals (campaign_id, collected_at, engagements, reach) VALUES (?, ?, ?, ?) "
                     "ON CONFLICT (campaign_id, collected_at) DO UPDATE SET engagements = excluded.engagements, "
                     "reach = excluded.reach", [campaign_id, utc_iso(now), engagements, reach])


def totals_over_time(db, campaign_id: str, *, start: datetime | None = None,
                     end: datetime | None = None) -> list[dict]:
    """The campaign's totals after each collection in [start, end), oldest first: {"at", "engagements", "reach"}."""
    clauses, params = period_sql("collected_at", start, end)
    return [{"at": at, "engagements": engagements, "reach": reach} for at, engagements, reach in db.execute(
        f"SELECT collected_at, engagements, reach FROM metric_totals WHERE campaign_id = ?{clauses} "
        f"ORDER BY collected_at", [campaign_id, *params])]


def latest(db, campaign: str | None = None, *, until: datetime | None = None) -> dict[int, dict[str, int]]:
    """post id -> metric -> latest value (optionally as of ``until``, from the full history)."""
    found: dict[int, dict[str, int]] = defaultdict(dict)
    if until is None:
        where, params = ("JOIN posts p ON p.id = l.post_id WHERE p.campaign_id = ?", [campaign]) if campaign else ("", [])
        for post_id, metric, value in db.execute(f"SELECT l.post_id, l.metric, l.value FROM metric_latest l {where}",
                                                 params):
            found[post_id][metric] = value
        return found
    clauses, params = ["m.collected_at <= ?"], [utc_iso(until)]
    if campaign:
        clauses.append("p.campaign_id = ?")
        params.append(campaign)
    if is_postgres(db):  # no bare columns beside MAX() there: the newest row of each (post, metric) by name
        rows = db.execute(f"""SELECT DISTINCT ON (m.post_id, m.metric) m.post_id, m.metric, m.value, m.collected_at
                              FROM metric_snapshots m JOIN posts p ON p.id = m.post_id WHERE {' AND '.join(clauses)}
                              ORDER BY m.post_id, m.metric, m.collected_at DESC""", params)
        for post_id, metric, value, _ in rows:
            found[post_id][metric] = value
        return found
    # The newest snapshot per (post, metric) up to ``until``: MAX(collected_at) picks the row's value in SQLite.
    for post_id, metric, value, _ in db.execute(
            f"""SELECT m.post_id, m.metric, m.value, MAX(m.collected_at) FROM metric_snapshots m
                JOIN posts p ON p.id = m.post_id WHERE {' AND '.join(clauses)} GROUP BY m.post_id, m.metric""", params):
        found[post_id][metric] = value
    return found


def platforms_without_metrics(db, campaign_id: str) -> set[str]:
    """Platforms whose posts the collector found to have no metrics at all (e.g. Telegram)."""
    rows = db.execute("""SELECT p.platform, MAX(s.available) FROM metric_status s JOIN posts p ON p.id = s.post_id
                         WHERE p.campaign_id = ? GROUP BY p.platform""", [campaign_id]).fetchall()
    return {platform for platform, available in rows if not available}


def published_times(db, channel: str) -> dict[int, str]:
    """post id -> published_at (UTC text) of an account's published posts."""
    return dict(db.execute("SELECT id, published_at FROM posts WHERE channel = ? AND state = 'published' "
                           "AND published_at IS NOT NULL", [channel]).fetchall())

