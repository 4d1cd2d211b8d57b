"""The store's side of the PostgreSQL workers (issue 15): procrastinate's tables read beside the outbox, and the
claim of one post under pacing shared by every worker of the cluster.

PostgreSQL only. procrastinate owns its tables (``procrastinate_jobs``, ``procrastinate_workers``); we only
read them here, and change them through procrastinate's own API (planner/workers/).

Pacing across workers is decided inside the claim's transaction, from the posts table itself, under the
account's lock (store/db.py ``transaction(scope=...)``): two workers can never both take an account's last
slot. Anything else that changes the account's posts meanwhile only ever frees room (a send ends, a lease
runs out), so the count errs on the safe side.

- in flight: the account's posts in 'publishing' whose lease is still running (a dead worker's claim stops
  counting when its lease ends or its owner is found gone, so a crash never blocks an account for good);
- rate: a sliding window of ``burst / rate`` seconds holds at most ``burst`` sends (send marks in the window,
  plus claims not yet marked). That is ``burst`` back to back, then ``rate`` a second on average, as the
  per-process token bucket (publishing/pacing.py) gives on one machine;
- a platform's "slow down" (retry-after) blocks the account for every worker (``block_account``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterator

from planner.store import outbox
from planner.store.db import parse_utc, transaction, utc_iso

POST_LOCK_PREFIX = "post:"
FAILURES_ARG = "failures"  # in a post's job deferred after jobs that raised: how many in a row (workers/jobs.py)


def post_lock(post_id: int) -> str:
    """The queueing lock of a post's job: procrastinate keeps at most one waiting job per post."""
    return f"{POST_LOCK_PREFIX}{post_id}"


def schema_present(db) -> bool:
    """Is procrastinate's schema in this database already?"""
    return db.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()[0]


def apply_schema_once(db, schema_sql: str) -> bool:
    """procrastinate's schema, applied under the write lock unless present (two workers starting at once
    apply it once), and our index on its jobs. True when the schema was applied now."""
    with transaction(db) as conn:
        applied = not schema_present(db)
        if applied:
            conn.raw.execute(schema_sql)
        # A post's live job by its queueing lock, for the sweep's and sync's joins. procrastinate's own partial
        # indexes serve them only once the tables' statistics are fresh: right after a large apply, before
        # autoanalyze ran, PostgreSQL planned a nested loop over both tables and one sweep of 20,000 posts took
        # minutes (docs/benchmarks.md, 4c). With this index that plan is an index lookup per post (~30 ms).
        conn.raw.execute("CREATE INDEX IF NOT EXISTS planner_jobs_post_lock ON procrastinate_jobs (queueing_lock) "
                         "WHERE status IN ('todo', 'doing')")  # PostgreSQL's own DDL, as the schema above
    return applied


def refresh_statistics(db) -> None:
    """ANALYZE the posts and their jobs, after a change of thousands of rows at once (a large apply):
    PostgreSQL plans every later query from these figures, and autoanalyze may take a minute to notice."""
    db.execute("ANALYZE posts")
    db.execute("ANALYZE procrastinate_jobs")


UPKEEP_LOCK_KEY = 0x706C616E6E657255  # "plannerU": held while one worker runs the cluster's upkeep


@contextmanager
def upkeep_turn(db) -> Iterator[bool]:
    """True when no other upkeep runs anywhere in the cluster now, and holds that turn until the block ends
    (a session lock: a killed holder's connection closes and frees it). A slow upkeep makes the next ticks
    skip instead of piling up beside it."""
    mine = db.execute("SELECT pg_try_advisory_lock(?)", [UPKEEP_LOCK_KEY]).fetchone()[0]
    try:
        yield mine
    finally:
        if mine:
            db.execute("SELECT pg_advisory_unlock(?)", [UPKEEP_LOCK_KEY])


@dataclass(frozen=True)
class PostTiming:
    id: int
    at: datetime             # when the post may be claimed: its retry time, else its due time
    job_id: int | None       # its waiting job, if it has one
    job_at: datetime | None = None   # when that job is scheduled


def timing(db, post_ids: list[int] | None = None, *, campaigns: list[str] | None = None) -> tuple[list[PostTiming], list[int]]:
    """For the given posts (or the posts of ``campaigns``): (claimable posts with when they may go and their
    waiting job, jobs waiting for posts that are no longer claimable)."""
    clauses, params = [], []
    if post_ids is not None:
        if not post_ids:
            return [], []
        clauses.append(f"p.id IN ({','.join('?' * len(post_ids))})")
        params += list(post_ids)
    if campaigns is not None:
        if not campaigns:
            return [], []
        clauses.append(f"p.campaign_id IN ({','.join('?' * len(campaigns))})")
        params += list(campaigns)
    rows = db.execute(
        f"""SELECT p.id, p.state, p.standby, COALESCE(p.retry_at, p.due_at), j.id, j.scheduled_at
            FROM posts p LEFT JOIN procrastinate_jobs j
                 ON j.queueing_lock = CAST(? AS TEXT) || CAST(p.id AS TEXT) AND j.status = 'todo'
            WHERE {' AND '.join(clauses) or 'TRUE'}""", [POST_LOCK_PREFIX, *params]).fetchall()
    waiting, stale = [], []
    for post_id, state, standby, at, job_id, job_at in rows:
        if state in outbox.CLAIMABLE and not standby:
            waiting.append(PostTiming(post_id, parse_utc(at), job_id, job_at))
        elif job_id is not None:
            stale.append(job_id)
    return waiting, stale


def needing_jobs(db, *, limit: int = 5000) -> list[PostTiming]:
    """Claimable posts without a job, or whose waiting job is due later than the post (its time was brought
    forward, a retry time set...): what the sweep defers. Oldest first. A job waiting out a backoff (it
    carries FAILURES_ARG) is left where it is: it is later than the post on purpose.

    The join reads only live jobs, through partial indexes on 'todo'/'doing' jobs (procrastinate's
    procrastinate_jobs_id_lock_idx_v1 with fresh statistics, ours, planner_jobs_post_lock, whatever the
    plan): the finished jobs a cluster keeps are not scanned (EXPLAIN in benchmarks/workers_jobs.py
    --explain: 20,000 posts and jobs beside 200,000 finished ones, ~17 ms)."""
    rows = db.execute(
        f"""SELECT p.id, COALESCE(p.retry_at, p.due_at) AS at, j.id FROM posts p
            LEFT JOIN procrastinate_jobs j ON j.queueing_lock = CAST(? AS TEXT) || CAST(p.id AS TEXT) AND j.status IN ('todo', 'doing')
            WHERE p.state IN ({','.join('?' * len(outbox.CLAIMABLE))}) AND p.standby = 0
              AND (j.id IS NULL OR (j.status = 'todo' AND j.args ->> CAST(? AS TEXT) IS NULL AND j.scheduled_at >
                                    COALESCE(p.retry_at, p.due_at)::timestamptz + interval '1 second'))
            ORDER BY at, p.id LIMIT ?""", [POST_LOCK_PREFIX, *outbox.CLAIMABLE, FAILURES_ARG, limit]).fetchall()
    return [PostTiming(post_id, parse_utc(at), job_id) for post_id, at, job_id in rows]


@dataclass(frozen=True)
class Pacing:
    rate: float
    burst: int
    max_in_flight: int

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.burst / self.rate)


BLOCK_PREFIX = "account_block:"  # settings key: until when the platform asked not to send for this account


def block_account(db, channel: str, *, until: datetime, now: datetime) -> None:
    """The platform asked to slow down (a retry-after): no worker claims this account's posts before
    ``until``. A later block only ever extends an earlier one."""
    key = BLOCK_PREFIX + channel
    with transaction(db):
        current = outbox.get_setting(db, key)
        if current is None or parse_utc(current) < until:
            outbox.set_setting(db, key, utc_iso(until), now=now)


def _wait_for_room(conn, channel: str, now: datetime, pacing: Pacing) -> float:
    """Seconds until ``channel`` may start one more send (0: now): a platform's block on the account, then
    its sends in flight and in the window, counted from the posts table in one read (indexes
    posts_channel_in_flight and posts_channel_sends)."""
    now_s, since_s = utc_iso(now), utc_iso(now - pacing.window)
    blocked_until, in_flight, unmarked, sent = conn.execute(
        """SELECT (SELECT value FROM settings WHERE key = ?),
                  COUNT(*) FILTER (WHERE state = 'publishing' AND lease_until >= ?),
                  COUNT(*) FILTER (WHERE state = 'publishing' AND lease_until >= ? AND send_started_at IS NULL),
                  COUNT(*) FILTER (WHERE send_started_at > ?)
           FROM posts WHERE channel = ? AND ((state = 'publishing' AND lease_until >= ?) OR send_started_at > ?)""",
        [BLOCK_PREFIX + channel, now_s, now_s, since_s, channel, now_s, since_s]).fetchone()
    if blocked_until and parse_utc(blocked_until) > now:
        return (parse_utc(blocked_until) - now).total_seconds()
    if in_flight >= pacing.max_in_flight:
        return 0.1  # a send ends within moments, or its lease runs out: look again soon
    used = sent + unmarked
    if used < pacing.burst:
        return 0.0
    # The window frees a place when its oldest sends leave it.
    freeing = used - pacing.burst
    if freeing >= sent:
        return 0.1
    oldest = conn.execute("SELECT send_started_at FROM posts WHERE channel = ? AND send_started_at > ? "
                          "ORDER BY send_started_at LIMIT 1 OFFSET ?", [channel, since_s, freeing]).fetchone()[0]
    return max(0.05, (parse_utc(oldest) + pacing.window - now).total_seconds())


def claim_paced(db, post_id: int, *, channel: str, seen_state: str, owner: str, now: datetime,
                lease: timedelta, pacing: Pacing, approved_only: bool) -> tuple[outbox.ClaimedPost | None, float]:
    """Claim one due post of ``channel``, still in ``seen_state``, under our lease if its account has room
    across the cluster.

    Returns (the claimed post, 0), or (None, seconds to wait for the account's room), or (None, 0) when
    the post is not claimable (not due, not in the state seen, taken by another worker). The room read and
    the claim share the account's lock: two workers never both take its last place, and the claim itself is
    a compare-and-set on the post's state, which every other writer's guard respects."""
    with transaction(db, scope=f"account:{channel}") as conn:  # claims of other accounts go on meanwhile
        wait = _wait_for_room(conn, channel, now, pacing)
        if wait > 0:
            return None, wait
        return outbox.claim_one_in(conn, post_id, seen_state=seen_state, owner=owner, now=now, lease=lease,
                                   approved_only=approved_only), 0.0


@dataclass(frozen=True)
class LiveWorker:
    id: int
    last_heartbeat: datetime
    posts: list[int]          # the posts whose jobs it runs now
    other_jobs: list[str]     # its other running jobs (periodic work), by task name


def live_workers(db, *, stale_after: float) -> list[LiveWorker]:
    """Workers whose heartbeat is younger than ``stale_after`` seconds, with the jobs each runs now.
    Empty when procrastinate's schema is not there (no worker ever started)."""
    if db.dialect != "postgresql" or not schema_present(db):
        return []
    workers = db.execute(
        "SELECT id, last_heartbeat FROM procrastinate_workers "
        "WHERE last_heartbeat > now() - make_interval(secs => ?) ORDER BY id", [stale_after]).fetchall()
    jobs: dict[int, tuple[list[int], list[str]]] = {w[0]: ([], []) for w in workers}
    for worker_id, task, post_id in db.execute(
            "SELECT worker_id, task_name, (args->>'post_id')::bigint FROM procrastinate_jobs "
            "WHERE status = 'doing' AND worker_id IS NOT NULL ORDER BY id").fetchall():
        if worker_id in jobs:
            if post_id is not None:
                jobs[worker_id][0].append(post_id)
            else:
                jobs[worker_id][1].append(task)
    return [LiveWorker(w[0], w[1], *jobs[w[0]]) for w in workers]
