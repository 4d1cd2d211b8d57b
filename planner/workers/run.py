"""`planner worker`: one worker process of the cluster, until SIGTERM or SIGINT (procrastinate's handlers
finish the jobs in hand first)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from concurrent.futures import ThreadPoolExecutor

from planner.config import Config
from planner.i18n import t
from planner.store import worker_jobs
from planner.store.postgres import safe_url
from planner.workers import app as worker_app
from planner.workers.publish import WorkerDispatcher

log = logging.getLogger("planner.worker")


def prepare(config: Config):
    """Our tables migrated and procrastinate's schema applied (once, whoever starts first)."""
    from procrastinate.schema import SchemaManager

    from planner.store.backend import connect_database

    db = connect_database(config.database_url)
    try:
        schema = SchemaManager.get_schema()
        if worker_jobs.apply_schema_once(db, schema):
            log.info(t("worker.schema_applied"))
    finally:
        db.close()


async def _serve(app, concurrency: int, name: str) -> None:
    # procrastinate runs a sync task in the event loop's default executor, which Python sizes by the CPU count
    # (min(32, cores + 4): 6 threads on 2 cores); the worker's concurrency needs that many threads at least,
    # plus room for the upkeep's and periodic work's steps.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=concurrency + 8, thread_name_prefix="worker"))
    async with app.open_async():
        await app.run_worker_async(concurrency=concurrency + 1, name=name,  # +1: the upkeep never waits for a slot
                                   update_heartbeat_interval=worker_app.HEARTBEAT_EVERY,
                                   stalled_worker_timeout=worker_app.STALLED_AFTER,
                                   fetch_job_polling_interval=worker_app.POLL_EVERY, delete_jobs="successful")


def run_worker(config: Config, *, concurrency: int, monitoring: bool = True) -> None:
    from planner.store.instance_lock import SchedulerLock

    lock = SchedulerLock(config, shared=True)  # beside other workers, never beside a `planner run`
    if not lock.acquire():
        raise lock.refusal()
    try:
        _run(config, concurrency=concurrency, monitoring=monitoring)
    finally:
        lock.release()


def _run(config: Config, *, concurrency: int, monitoring: bool) -> None:
    prepare(config)
    dispatcher = WorkerDispatcher(config, workers=concurrency)
    app = worker_app.build_app(config, dispatcher, monitoring=monitoring)
    name = f"{socket.gethostname()}:{os.getpid()}"
    log.info(t("worker.started", name=name, concurrency=concurrency, database=safe_url(config.database_url),
               owner=dispatcher.owner))
    try:
        asyncio.run(_serve(app, concurrency, name))
    finally:
        dispatcher.shutdown(0)
        log.info(t("worker.stopped", name=name))
