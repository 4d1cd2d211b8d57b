"""A post's job: deferred for its time with a queueing lock per post, moved when its time changes, cancelled
when the post no longer waits to go out. Every function here is a convenience the sweep would also make
good: correctness rests on the store's claim, never on a job being there exactly once."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from planner.store import worker_jobs

log = logging.getLogger("planner.worker")

PUBLISH_TASK = "publish_post"
PUBLISH_QUEUE = "publish"


def procrastinate_app(url: str):
    """A procrastinate App on the database at ``url`` (not opened)."""
    import procrastinate

    return procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=url))


# Jobs deferred in one INSERT by sync (procrastinate's batch defer): 5,000 posts in 10 round trips, not 5,000.
BATCH = 500
# A sync that deferred this many jobs refreshes the tables' statistics (worker_jobs.refresh_statistics).
ANALYZE_AFTER = 1000


# A post's job that raised (a bug, a database error) is deferred again after 2 s, 4 s, 8 s... at most 5 min:
# never lost, never a hot loop. The count rides in the job's arguments (worker_jobs.FAILURES_ARG).
FIRST_WAIT = 2.0
MAX_WAIT = 300.0


def backoff(failures: int) -> timedelta:
    """How long a post waits after its ``failures``-th job in a row raised."""
    return timedelta(seconds=min(FIRST_WAIT * 2 ** min(failures - 1, 30), MAX_WAIT))


def _job(app, post_id: int, at: datetime, failures: int = 0):
    """The post's job as procrastinate defers it: at ``at``, under the post's queueing lock."""
    kwargs = {worker_jobs.FAILURES_ARG: failures} if failures else {}
    return app.configure_task(PUBLISH_TASK, queue=PUBLISH_QUEUE, schedule_at=at.astimezone(timezone.utc),
                              queueing_lock=worker_jobs.post_lock(post_id)).make_new_job(post_id=post_id, **kwargs)


def defer_post(app, post_id: int, at: datetime, *, failures: int = 0) -> int | None:
    """One waiting job for the post at ``at`` (after ``failures`` jobs in a row raised); None when it already
    has one (its queueing lock)."""
    from procrastinate.exceptions import AlreadyEnqueued

    try:
        return app.job_manager.defer_job(_job(app, post_id, at, failures)).id
    except AlreadyEnqueued:
        return None


def defer_posts(app, posts: list[worker_jobs.PostTiming], *, batch: int = BATCH) -> int:
    """A waiting job for each post at its time, ``batch`` posts per INSERT. A batch is one statement, so one
    post that got a job meanwhile (a worker's sweep) fails all of it: that batch goes one by one, skipping
    the post that has its job. Returns the jobs deferred."""
    from procrastinate.exceptions import AlreadyEnqueued

    deferred = 0
    for start in range(0, len(posts), batch):
        chunk = posts[start:start + batch]
        try:
            deferred += len(app.job_manager.batch_defer_jobs([_job(app, p.id, p.at) for p in chunk]))
        except AlreadyEnqueued:
            deferred += sum(defer_post(app, p.id, p.at) is not None for p in chunk)
    return deferred


def move_post(app, post_id: int, at: datetime, job_id: int | None) -> int | None:
    """The post's waiting job moved to ``at`` (cancelled and deferred again: procrastinate has no 'move')."""
    if job_id is not None and not app.job_manager.cancel_job_by_id(job_id, delete_job=True):
        return None  # a worker took it meanwhile: it finds the post's time itself and defers again
    return defer_post(app, post_id, at)


def sync(app, db, *, post_ids: list[int] | None = None, campaigns: list[str] | None = None) -> int:
    """Jobs made to match the posts: each claimable post has one at its time, the others none. Returns the
    jobs deferred."""
    waiting, stale = worker_jobs.timing(db, post_ids, campaigns=campaigns)
    for job_id in stale:
        app.job_manager.cancel_job_by_id(job_id, delete_job=True)
    deferred = defer_posts(app, [post for post in waiting if post.job_id is None])
    for post in waiting:
        if post.job_id is not None and (post.job_at is None or abs((post.job_at - post.at).total_seconds()) > 1):
            deferred += move_post(app, post.id, post.at, post.job_id) is not None
    if deferred >= ANALYZE_AFTER:
        worker_jobs.refresh_statistics(db)
    return deferred


def after_change(db, *, post_ids: list[int] | None = None, campaigns: list[str] | None = None) -> None:
    """After a command changed posts on PostgreSQL (apply, cancel...): their jobs follow at once. A failure
    here loses nothing (the workers' sweep defers what is missing), so it is logged, never raised."""
    if getattr(db, "dialect", "sqlite") != "postgresql":
        return
    try:
        if not worker_jobs.schema_present(db):
            return  # no worker ever started here: the first one's sweep defers everything
        app = procrastinate_app(db.url)
        with app.open():
            sync(app, db, post_ids=post_ids, campaigns=campaigns)
    except Exception as exc:  # never fail the command over a wake-up the sweep makes good
        from planner.i18n import t

        log.warning(t("worker.jobs_not_updated", error=type(exc).__name__))
