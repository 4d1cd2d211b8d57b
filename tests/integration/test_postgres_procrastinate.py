"""The procrastinate calls the PostgreSQL workers (issue 15) are built on, held against the pinned version.

App + PsycopgConnector, apply_schema, Task.configure(schedule_at=, queueing_lock=, lock=).defer(),
AlreadyEnqueued for a second job with the same queueing lock, job_manager.list_jobs / cancel_job_by_id,
run_worker_async(wait=False, update_heartbeat_interval=, stalled_worker_timeout=) and get_stalled_jobs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

procrastinate = pytest.importorskip("procrastinate")


def _app(url):
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))
    ran: list[int] = []

    @app.task(name="publish_post", queue="publish")
    def publish_post(post_id: int) -> None:
        ran.append(post_id)

    return app, publish_post, ran


def test_a_post_is_deferred_once_for_its_time_and_can_be_moved(postgres_url):
    app, publish_post, ran = _app(postgres_url)
    due = datetime.now(timezone.utc) + timedelta(hours=1)
    with app.open():
        app.schema_manager.apply_schema()
        first = publish_post.configure(schedule_at=due, queueing_lock="post:7", lock="account:x").defer(post_id=7)
        with pytest.raises(procrastinate.exceptions.AlreadyEnqueued):
            publish_post.configure(schedule_at=due, queueing_lock="post:7").defer(post_id=7)
        [job] = app.job_manager.list_jobs(queueing_lock="post:7")
        assert (job.id, job.status, job.scheduled_at, job.lock) == (first, "todo", due, "account:x")
        # Content edited: the job is cancelled and deferred again for the new time.
        assert app.job_manager.cancel_job_by_id(first, delete_job=True)
        moved = publish_post.configure(schedule_at=due + timedelta(minutes=5), queueing_lock="post:7").defer(post_id=7)
        [job] = app.job_manager.list_jobs(queueing_lock="post:7")
        assert (job.id, job.scheduled_at) == (moved, due + timedelta(minutes=5))
    assert ran == []


def test_a_worker_runs_a_due_job_and_leaves_no_stalled_job(postgres_url):
    app, publish_post, ran = _app(postgres_url)

    async def run() -> list:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            await publish_post.configure(schedule_at=datetime.now(timezone.utc), queueing_lock="post:1").defer_async(
                post_id=1)
            await app.run_worker_async(queues=["publish"], wait=False, concurrency=2, update_heartbeat_interval=1,
                                       stalled_worker_timeout=5)
            return list(await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=5))

    assert asyncio.run(run()) == []
    assert ran == [1]
