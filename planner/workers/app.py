"""The procrastinate App of `planner worker`: one job per due post, and the periodic work of the cluster.

Periodic tasks are deferred by every worker's periodic deferrer, but procrastinate records each tick once
(``procrastinate_periodic_defers`` is unique per task and tick), so each runs once per cluster, on whichever
worker fetches it. They call the same functions `planner run` hosts on SQLite (publishing/service.py).

What procrastinate keeps: a succeeded job is deleted when it ends (the worker runs with
``delete_jobs="successful"``, its events go with it), and ``procrastinate_periodic_defers`` keeps one row per
periodic task (each tick deletes the older ones). A failed, cancelled or aborted job stays, with its events,
until the daily clean-up removes it ``[publishing] keep_jobs`` after it ended. Planner's own tables (posts,
post_events, the audit chain) are the office's record and are never cleaned here.
"""

from __future__ import annotations

import logging
import math
import traceback
from datetime import timedelta

from planner.config import Config
from planner.i18n import t
from planner.workers import jobs
from planner.workers.publish import WorkerDispatcher

log = logging.getLogger("planner.worker")

# Heartbeats and stalled jobs: a worker that misses STALLED_AFTER seconds of heartbeats is taken for dead,
# and its running jobs are retried on the others (the posts' own leases decide the rest).
HEARTBEAT_EVERY = 2.0
STALLED_AFTER = 10.0
POLL_EVERY = 0.5     # look for jobs whose time has come at least this often (LISTEN/NOTIFY wakes us sooner)

UPKEEP_CRON = "* * * * * */2"     # every 2 s: housekeeping, reconciliation, the sweep, stalled jobs
CLEANUP_CRON = "17 19 * * *"      # daily at 19:17 UTC (02:17 WIB, 03:17 WITA, 04:17 WIT): old finished jobs removed
CLEANUP_TASK = "remove_old_jobs"


def _every(seconds: int) -> str:
    """A cron line (procrastinate: seconds as a 6th column) for a period in seconds."""
    if seconds < 60:
        return f"* * * * * */{seconds}"
    if seconds < 3600:
        return f"*/{seconds // 60} * * * *"
    return f"0 */{seconds // 3600} * * *"


def periodic_work(config: Config) -> list[tuple]:
    """(name, seconds, function(config, dispatcher)) as `planner run` registers them, minus the SQLite
    backup (PostgreSQL is backed up with pg_dump: docs/scale-out.md)."""
    from planner.publishing.token_expiry import EXPIRY_JOB
    from planner.monitoring.jobs import MONITORING_JOBS
    from planner.publishing.preflight import PREFLIGHT_JOB
    from planner.response.chat import TELEGRAM_JOB, chat_settings

    return [PREFLIGHT_JOB, EXPIRY_JOB, *MONITORING_JOBS, *([TELEGRAM_JOB] if chat_settings(config) else [])]


def build_app(config: Config, dispatcher: WorkerDispatcher, *, monitoring: bool = True):
    """The App with its tasks, on the config's PostgreSQL database."""
    app = jobs.procrastinate_app(config.database_url)

    def follow_up(post_id: int, at) -> None:
        if at is not None:
            jobs.defer_post(app, post_id, at)

    @app.task(name=jobs.PUBLISH_TASK, queue=jobs.PUBLISH_QUEUE)
    def publish_post(post_id: int, failures: int = 0) -> None:
        try:
            at = dispatcher.run_post(post_id).at
        except Exception as exc:  # a bug, a database error: the post is tried again later, each time later
            failures += 1
            wait = jobs.backoff(failures)
            # The type and where, never the text: an error's text may carry a URL with a token in it.
            log.warning(t("worker.publish_raised", post=post_id, error=type(exc).__name__, attempt=failures,
                          seconds=f"{wait.total_seconds():.0f}"))
            log.debug("post %s: %s raised at\n%s", post_id, type(exc).__name__,
                      "".join(traceback.format_tb(exc.__traceback__)))
            jobs.defer_post(app, post_id, dispatcher.clock.now() + wait, failures=failures)
            return
        follow_up(post_id, at)

    # No procrastinate `lock` on the upkeep: a worker killed while holding it would block every later upkeep,
    # and with it the retry of its own stalled job. Two upkeeps at once are harmless (guarded state changes).
    @app.periodic(cron=UPKEEP_CRON, periodic_id="upkeep")
    @app.task(name="upkeep", queue="upkeep", queueing_lock="upkeep")
    async def upkeep(timestamp: int) -> None:
        await _upkeep(app, dispatcher)

    register_cleanup(app, config.keep_jobs)  # on every worker, --no-monitoring too: a tick runs once per cluster
    for name, seconds, func, *_first in (periodic_work(config) if monitoring else []):
        _register_periodic(app, config, dispatcher, name, seconds, func)
    return app


def register_cleanup(app, keep: timedelta):
    """The daily clean-up of procrastinate's finished jobs: procrastinate's builtin ``remove_old_jobs`` over
    every final state (succeeded, failed, cancelled, aborted) that ended more than ``keep`` ago (whole hours,
    at least one). Jobs waiting or running ('todo', 'doing') are never touched. Returns the task."""
    from procrastinate import builtin_tasks

    hours = max(1, math.ceil(keep.total_seconds() / 3600))

    @app.periodic(cron=CLEANUP_CRON, periodic_id="cleanup")
    @app.task(name=CLEANUP_TASK, queue="periodic", queueing_lock=CLEANUP_TASK, pass_context=True)
    async def remove_old_jobs(context, timestamp: int) -> None:
        await builtin_tasks.remove_old_jobs(context, max_hours=hours, remove_failed=True, remove_cancelled=True,
                                            remove_aborted=True)

    return remove_old_jobs


def _register_periodic(app, config: Config, dispatcher: WorkerDispatcher, name: str, seconds: int, func) -> None:
    def run(timestamp: int) -> None:
        dispatcher.yield_to_publishing()
        try:
            func(config, dispatcher)
        except Exception:
            log.exception(t("log.job_failed"))

    run.__name__ = f"periodic_{name.replace('-', '_')}"
    task = app.task(name=f"periodic:{name}", queue="periodic", queueing_lock=f"periodic:{name}")(run)
    app.periodic(cron=_every(int(seconds)), periodic_id=name)(task)


async def _upkeep(app, dispatcher: WorkerDispatcher) -> None:
    """Once per cluster every 2 s: stalled workers' jobs retried, then what `planner run`'s loop does besides
    claiming (blackouts, leases that ran out, missed posts, reconciliation) and a job for every post without
    one, in one turn at a time across the cluster."""
    import asyncio

    await retry_stalled(app)
    await asyncio.to_thread(_upkeep_turn, app, dispatcher)


def _upkeep_turn(app, dispatcher: WorkerDispatcher) -> bool:
    """The upkeep's steps, unless another worker's upkeep is still running (then this tick is skipped)."""
    from planner.store import worker_jobs

    with worker_jobs.upkeep_turn(dispatcher.db) as mine:
        if not mine:
            return False
        dispatcher.housekeeping()
        dispatcher.reconcile()
        sweep(app, dispatcher.db)
    return True


async def retry_stalled(app) -> int:
    """Jobs of workers whose heartbeat stopped (kill -9, a machine gone) go back to 'todo' for the others."""
    retried = 0
    for job in await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER):
        await app.job_manager.retry_job(job)
        log.warning(t("worker.retried_stalled", job=job.id, task=job.task_name))
        retried += 1
    return retried


def sweep(app, db) -> int:
    """A job for each claimable post that has none (a deferral that failed, a release, an approval, a retry
    time) or whose job waits past the post's time."""
    from planner.store import worker_jobs

    moved = 0
    for post in worker_jobs.needing_jobs(db):
        moved += jobs.move_post(app, post.id, post.at, post.job_id) is not None
    if moved:
        log.debug("sweep: %d post jobs deferred", moved)
    return moved


def lease_hint(config: Config) -> timedelta:
    """How long a killed worker's posts can wait at most: its lease, plus stall detection."""
    return config.lease + timedelta(seconds=STALLED_AFTER + 2 * HEARTBEAT_EVERY)
