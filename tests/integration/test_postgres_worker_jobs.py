"""The workers' store side on PostgreSQL (issue 15): a post's job follows the post (apply, edit, cancel, the
sweep), pacing holds across lease owners, and the live workers are read back for `planner status`."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.campaign_files import load_campaign
from planner.config import DATABASE_URL_ENV, load_config
from planner.services.apply import apply_checked
from planner.services.posts import cancel
from planner.store import outbox, posts, worker_jobs
from planner.store.backend import connect_database

pytest.importorskip("procrastinate")

REPO = Path(__file__).resolve().parents[2]
DAY = date.today() + timedelta(days=10)


@pytest.fixture
def office(tmp_path, postgres_url, monkeypatch):
    """(config, db) on a fresh PostgreSQL database with procrastinate's schema, as a worker leaves it."""
    from planner.workers.run import prepare

    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    monkeypatch.setenv(DATABASE_URL_ENV, postgres_url)
    config = load_config(path)
    prepare(config)
    db = connect_database(postgres_url)
    yield config, db
    db.close()


def _apply(config, db, hour: int, *, channels=("kpu_x", "kpu_telegram")) -> None:
    doc = {"campaign": {"id": "kampanye-a", "name": "Kampanye A", "timezone": "Asia/Jakarta",
                        "start": DAY - timedelta(days=1), "end": DAY + timedelta(days=2), "channels": list(channels)},
           "goal": {"objective": "Tujuan"},
           "content": [{"id": "satu", "text": "Satu: cek DPT", "at": datetime(DAY.year, DAY.month, DAY.day, hour)},
                       {"id": "dua", "text": "Dua: cek TPS", "at": datetime(DAY.year, DAY.month, DAY.day, hour, 30)}]}
    file = Path(config.database).parent / "kampanye-a.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config)
    assert loaded.problems == []
    apply_checked(db, config, [loaded], actor="uji")


def _jobs(db) -> dict[int, datetime]:
    return {row[0]: row[1] for row in db.execute(
        "SELECT (args->>'post_id')::bigint, scheduled_at FROM procrastinate_jobs "
        "WHERE task_name = 'publish_post' AND status = 'todo'").fetchall()}


def _due(db) -> dict[int, datetime]:
    return {row["id"]: datetime.fromisoformat(row["due_at"].replace("Z", "+00:00"))
            for row in db.query("SELECT id, due_at FROM posts WHERE state = 'queued'")}


def test_a_posts_job_follows_apply_edits_and_cancel(office):
    config, db = office
    _apply(config, db, 9)
    due = _due(db)
    assert len(due) == 4 and _jobs(db) == due, "one job per post, at the post's time"

    _apply(config, db, 11)  # the times edited in the file: the jobs move with them
    moved = _due(db)
    assert moved != due and _jobs(db) == moved

    post_id = min(moved)
    cancel(db, post_id, actor="uji", now=datetime.now(timezone.utc))
    assert post_id not in _jobs(db) and len(_jobs(db)) == 3, "a canceled post keeps no job"

    _apply(config, db, 11, channels=("kpu_x",))  # a channel dropped from the file: its posts' jobs go
    on_x = {r["id"] for r in db.query("SELECT id FROM posts WHERE channel = 'kpu_x'")}
    assert _jobs(db) == _due(db) and set(_jobs(db)) == on_x and len(on_x) == 2


def test_the_sweep_finds_posts_whose_job_is_missing_or_late(office):
    config, db = office
    _apply(config, db, 9)
    assert worker_jobs.needing_jobs(db) == []
    lost, early = sorted(_due(db))[:2]
    db.execute("DELETE FROM procrastinate_jobs WHERE args->>'post_id' = ?", [str(lost)])
    now = datetime.now(timezone.utc)
    outbox.bring_forward(db, early, now=now, actor="uji")  # `publish --now` moves the time before its job
    found = {p.id: p for p in worker_jobs.needing_jobs(db)}
    assert set(found) == {lost, early}
    assert found[lost].job_id is None and found[early].job_id is not None
    assert abs((found[early].at - now).total_seconds()) < 1


def _claim(db, post_id, **kwargs):
    """claim_paced as a worker's job calls it: with the channel and state it has just read."""
    row = posts.get(db, post_id)
    return worker_jobs.claim_paced(db, post_id, channel=row["channel"], seen_state=row["state"], **kwargs)


def _claim_all(db, owner, pacing, now):
    ids = sorted(_due(db))
    db.execute("UPDATE posts SET due_at = ? WHERE state = 'queued'", [outbox.utc_iso(now - timedelta(seconds=1))])
    return [_claim(db, i, owner=owner, now=now, lease=timedelta(minutes=2), pacing=pacing,
                                    approved_only=False) for i in ids]


def test_in_flight_cap_holds_across_owners(office):
    config, db = office
    _apply(config, db, 9, channels=("kpu_x",))  # two posts of one account
    now = datetime.now(timezone.utc)
    first, second = _claim_all(db, "worker-a", worker_jobs.Pacing(rate=100, burst=10, max_in_flight=1), now)
    assert first[0] is not None and second == (None, pytest.approx(0.1))
    # Another worker asks for the same account: still no room while the first is in flight.
    post_id = sorted(_due(db))[0]
    claimed, wait = _claim(db, post_id, owner="worker-b", now=now, lease=timedelta(minutes=2),
                                            pacing=worker_jobs.Pacing(rate=100, burst=10, max_in_flight=1),
                                            approved_only=False)
    assert claimed is None and wait > 0


def test_rate_window_holds_across_owners(office):
    config, db = office
    _apply(config, db, 9, channels=("kpu_x", "kpu_telegram"))
    now = datetime.now(timezone.utc)
    slow = worker_jobs.Pacing(rate=0.01, burst=1, max_in_flight=5)  # one send per 100 s per account
    results = _claim_all(db, "worker-a", slow, now)
    claimed = [post for post, _ in results if post is not None]
    assert sorted(p.channel for p in claimed) == ["kpu_telegram", "kpu_x"], "one per account"
    for post in claimed:
        assert outbox.mark_send_started(db, post.id, "worker-a", now=now, lease_until=now + timedelta(minutes=2))
        assert outbox.mark_published(db, post, "worker-a", platform_post_id="1", url=None, published_at=now)
    waiting = [wait for post, wait in results if post is None]
    assert len(waiting) == 2 and all(w > 0 for w in waiting)
    left = sorted(_due(db))
    later = now + timedelta(seconds=50)
    for post_id in left:  # another owner, half a window later: still no room
        claimed_b, wait = _claim(db, post_id, owner="worker-b", now=later,
                                                  lease=timedelta(minutes=2), pacing=slow, approved_only=False)
        assert claimed_b is None and wait == pytest.approx(50, abs=1)
    after = now + timedelta(seconds=101)
    assert all(_claim(db, i, owner="worker-b", now=after, lease=timedelta(minutes=2), pacing=slow,
                                       approved_only=False)[0] is not None for i in left)


def test_live_workers_and_the_posts_they_hold(office):
    config, db = office
    _apply(config, db, 9)
    post_id = sorted(_due(db))[0]
    alive = db.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now()) RETURNING id").fetchone()[0]
    gone = db.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') "
                      "RETURNING id").fetchone()[0]
    db.execute("UPDATE procrastinate_jobs SET status = 'doing', worker_id = ? WHERE args->>'post_id' = ?",
               [alive, str(post_id)])
    [worker] = worker_jobs.live_workers(db, stale_after=10)
    assert (worker.id, worker.posts) == (alive, [post_id]) and gone != alive


def test_sqlite_scalar_max_and_min_run_on_postgres(office):
    _config, db = office
    assert db.execute("SELECT MAX(2, 5), MIN(2, 5), MAX(MIN(7, 3), 1)").fetchone() == (5, 2, 3)
    assert db.execute("SELECT MAX(x), MIN(x) FROM (VALUES (1), (4)) AS v(x)").fetchone() == (4, 1)


def test_a_platforms_retry_after_blocks_the_account_for_every_owner(office):
    config, db = office
    _apply(config, db, 9, channels=("kpu_x", "kpu_telegram"))
    now = datetime.now(timezone.utc)
    worker_jobs.block_account(db, "kpu_x", until=now + timedelta(seconds=30), now=now)
    worker_jobs.block_account(db, "kpu_x", until=now + timedelta(seconds=5), now=now)  # never shortened
    loose = worker_jobs.Pacing(rate=100, burst=100, max_in_flight=100)
    results = {}
    for (post, wait), row in zip(_claim_all(db, "worker-b", loose, now),
                                 sorted(db.query("SELECT id, channel FROM posts"), key=lambda r: r["id"])):
        results.setdefault(row["channel"], []).append((post is not None, round(wait)))
    assert results == {"kpu_x": [(False, 30), (False, 30)], "kpu_telegram": [(True, 0), (True, 0)]}


def test_the_daily_clean_up_removes_old_finished_jobs_only(office):
    """What a cluster running for months keeps of procrastinate's jobs: a finished job (succeeded, failed,
    cancelled, aborted) goes once it ended more than `keep_jobs` ago; waiting and running jobs, recent finished
    ones and the office's own history (post events, audit chain) stay."""
    import asyncio

    from procrastinate.jobs import Status

    from planner.workers import jobs
    from planner.workers.app import CLEANUP_CRON, CLEANUP_TASK, build_app, register_cleanup
    from planner.workers.publish import WorkerDispatcher

    config, db = office
    _apply(config, db, 9)  # four posts waiting, each with its job; history and audit written
    dispatcher = WorkerDispatcher(config)
    try:  # every worker registers the clean-up, --no-monitoring ones too (a tick runs once per cluster)
        registered = build_app(config, dispatcher, monitoring=False).periodic_registry.periodic_tasks
    finally:
        dispatcher.shutdown(0)
    assert [p.cron for (name, _id), p in registered.items() if name == CLEANUP_TASK] == [CLEANUP_CRON]

    def count(table: str) -> int:
        return db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    history = (count("post_events"), count("audit_log"))
    assert min(history) > 0
    post_jobs = {r[0] for r in db.execute("SELECT id FROM procrastinate_jobs WHERE status = 'todo'").fetchall()}
    assert len(post_jobs) == 4
    app = jobs.procrastinate_app(config.database_url)
    cleanup = register_cleanup(app, config.keep_jobs)

    async def finished(app, age_days: int) -> dict[str, int]:
        made = {}
        for status in (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.ABORTED, Status.DOING):
            job_id = await app.configure_task("publish_post", queue="publish").defer_async(post_id=0)
            if status == Status.CANCELLED:
                assert await app.job_manager.cancel_job_by_id_async(job_id)
            elif status == Status.DOING:  # a job a worker holds (its heartbeat decides, never its age)
                await app.connector.execute_query_async(
                    "UPDATE procrastinate_jobs SET status = 'doing' WHERE id = %(id)s", id=job_id)
            else:
                await app.job_manager.finish_job_by_id_async(job_id, status=status, delete_job=False)
            made[status.value] = job_id
        ids = list(made.values())
        await app.connector.execute_query_async(
            "UPDATE procrastinate_events SET at = at - make_interval(days => %(days)s) WHERE job_id = ANY(%(ids)s)",
            days=age_days, ids=ids)
        return made

    keep_days = config.keep_jobs.days
    assert keep_days == 14

    async def scenario():
        async with app.open_async():
            old = await finished(app, keep_days + 1)
            recent = await finished(app, keep_days - 1)
            await app.connector.execute_query_async(  # the posts' waiting jobs, deferred long ago
                "UPDATE procrastinate_events SET at = at - interval '60 days' WHERE job_id = ANY(%(ids)s)",
                ids=list(post_jobs))
            await cleanup.defer_async(timestamp=0)
            await app.run_worker_async(queues=["periodic"], wait=False, concurrency=1, delete_jobs="successful")
            return old, recent

    old, recent = asyncio.run(scenario())
    left = {r[0] for r in db.execute("SELECT id FROM procrastinate_jobs").fetchall()}
    gone = {old[s] for s in ("succeeded", "failed", "cancelled", "aborted")}
    assert left == post_jobs | set(recent.values()) | {old["doing"]}, "old finished jobs go, the rest stays"
    assert db.execute(f"SELECT COUNT(*) FROM procrastinate_events WHERE job_id IN ({','.join('?' * len(gone))})",
                      list(gone)).fetchone()[0] == 0, "their events go with them"
    assert _jobs(db) == _due(db), "every waiting post keeps its job"
    assert (count("post_events"), count("audit_log")) == history, "the office's history is never cleaned"


def test_sync_defers_in_batches_and_a_job_deferred_meanwhile_costs_only_its_own_batch(office):
    from planner.workers import jobs

    config, db = office
    _apply(config, db, 9, channels=("kpu_x", "kpu_telegram", "kpu_mastodon"))  # 6 posts
    db.execute("DELETE FROM procrastinate_jobs")
    waiting, _stale = worker_jobs.timing(db, campaigns=["kampanye-a"])
    assert len(waiting) == 6 and all(p.job_id is None for p in waiting)
    app = jobs.procrastinate_app(db.url)
    with app.open():
        # Between the read and the deferral a worker's sweep gave the fourth post its job.
        raced = sorted(waiting, key=lambda p: p.id)[3]
        assert jobs.defer_post(app, raced.id, raced.at) is not None
        assert jobs.defer_posts(app, sorted(waiting, key=lambda p: p.id), batch=4) == 5
    assert _jobs(db) == _due(db), "every post has its one job at its own time, the raced one included"
    locks = {row[0]: row[1] for row in db.execute("SELECT queueing_lock, (args->>'post_id')::bigint "
                                                  "FROM procrastinate_jobs").fetchall()}
    assert locks == {worker_jobs.post_lock(p.id): p.id for p in waiting}, "each job under its own post's lock"


def test_a_posts_claim_mark_and_outcome_do_not_queue_behind_the_write_lock(office, postgres_url):
    """The workers' hot path takes its account's and its post's locks, not the database's write lock: with a
    long transaction holding that lock (an apply, say), a post is still claimed, marked and published."""
    from planner.store import audit
    from planner.store.db import transaction

    config, db = office
    _apply(config, db, 9, channels=("kpu_x",))
    now = datetime.now(timezone.utc)
    db.execute("UPDATE posts SET due_at = ? WHERE state = 'queued'", [outbox.utc_iso(now - timedelta(seconds=1))])
    post_id = sorted(_due(db))[0]
    db.raw.execute("SET lock_timeout = 3000")  # a wait for the write lock fails fast instead of passing slowly
    other = connect_database(postgres_url)
    try:
        with transaction(other):  # holds the write lock until the end of the block
            claimed, wait = _claim(db, post_id, owner="worker-a", now=now, lease=timedelta(minutes=2),
                                   pacing=worker_jobs.Pacing(rate=10, burst=20, max_in_flight=2), approved_only=False)
            assert claimed is not None and wait == 0
            assert outbox.mark_send_started(db, post_id, "worker-a", now=now, lease_until=now + timedelta(minutes=2))
            assert outbox.mark_published(db, claimed, "worker-a", platform_post_id="1", url=None, published_at=now)
    finally:
        other.close()
    assert posts.get(db, post_id)["state"] == "published"
    checked, breaks = audit.verify(db)
    assert checked > 0 and breaks == []


def test_outcomes_beside_a_write_lock_holder_keep_the_audit_chain_whole(office, postgres_url):
    """A post's outcome appends to the audit chain without the write lock; a transaction under the write lock
    that appended first makes it wait for the chain's own lock, so the chain stays one line."""
    import threading

    from planner.store import audit
    from planner.store.db import transaction

    config, db = office
    _apply(config, db, 9, channels=("kpu_x", "kpu_telegram"))
    now = datetime.now(timezone.utc)
    db.execute("UPDATE posts SET due_at = ? WHERE state = 'queued'", [outbox.utc_iso(now - timedelta(seconds=1))])
    pacing = worker_jobs.Pacing(rate=10, burst=20, max_in_flight=2)
    claimed = [_claim(db, i, owner="worker-a", now=now, lease=timedelta(minutes=2), pacing=pacing,
                      approved_only=False)[0] for i in sorted(_due(db))[:2]]
    assert all(claimed)
    done = []

    def publish(post):
        conn = connect_database(postgres_url)
        try:
            assert outbox.mark_send_started(conn, post.id, "worker-a", now=now, lease_until=now + timedelta(minutes=2))
            done.append(outbox.mark_published(conn, post, "worker-a", platform_post_id=str(post.id), url=None,
                                              published_at=now))
        finally:
            conn.close()

    other = connect_database(postgres_url)
    try:
        with transaction(other) as conn:
            audit.record(conn, at=outbox.utc_iso(now), actor="uji", action="test.hold", subject="x")
            threads = [threading.Thread(target=publish, args=(post,)) for post in claimed]
            for thread in threads:
                thread.start()
            threads[0].join(1.0)
            assert done == [], "the outcomes wait for the chain's lock, held by the other transaction"
    finally:
        other.close()
    for thread in threads:
        thread.join(30)
    assert done == [True, True]
    checked, breaks = audit.verify(db)
    assert breaks == [] and checked >= 3


def test_the_sweeps_index_and_fresh_statistics_after_a_large_sync(office, monkeypatch):
    """The sweep's join has an index of its own (a plan from stale statistics is then an index lookup per
    post, not a scan of every job per post), and a sync that deferred many jobs refreshes the statistics."""
    from planner.workers import jobs

    config, db = office
    indexes = {r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'procrastinate_jobs'")}
    assert "planner_jobs_post_lock" in indexes
    analyzed = "SELECT last_analyze FROM pg_stat_user_tables WHERE relname = 'posts'"
    assert db.execute(analyzed).fetchone()[0] is None
    monkeypatch.setattr(jobs, "ANALYZE_AFTER", 3)  # "large", for four posts
    _apply(config, db, 9)
    assert len(_jobs(db)) == 4
    assert db.execute(analyzed).fetchone()[0] is not None, "the apply's sync analyzed the tables"


def test_an_upkeep_waits_its_turn_across_the_cluster(office, postgres_url):
    """While another worker's upkeep runs (its lock held), this one skips its tick instead of running beside
    it; once that one is done, the next tick does the work (here: the sweep gives a post its missing job)."""
    from planner.store.postgres import PostgresDatabase
    from planner.workers.app import _upkeep_turn, build_app
    from planner.workers.publish import WorkerDispatcher

    config, db = office
    _apply(config, db, 9)
    db.execute("DELETE FROM procrastinate_jobs")
    dispatcher = WorkerDispatcher(config)
    other = PostgresDatabase(postgres_url)
    try:
        app = build_app(config, dispatcher, monitoring=False)
        with app.open():
            assert other.raw.execute("SELECT pg_try_advisory_lock(%s)", [worker_jobs.UPKEEP_LOCK_KEY]).fetchone()[0]
            assert _upkeep_turn(app, dispatcher) is False
            assert _jobs(db) == {}, "nothing done beside the running upkeep"
            other.raw.execute("SELECT pg_advisory_unlock(%s)", [worker_jobs.UPKEEP_LOCK_KEY])
            assert _upkeep_turn(app, dispatcher) is True
            assert _jobs(db) == _due(db), "the next turn swept: every waiting post has its job"
            assert _upkeep_turn(app, dispatcher) is True, "a turn gives its lock back"
    finally:
        other.close()
        dispatcher.shutdown(0)
