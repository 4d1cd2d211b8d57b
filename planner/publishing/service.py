"""`planner run`: the long-running scheduler.

APScheduler (in memory only) does the waking: a one-off job wakes the dispatcher at the next due
time, interval jobs keep a heartbeat and run the periodic work other parts register. The
outbox table stays the only truth: nothing about a post lives in the scheduler's memory. Time is
read from one injected clock (planner.clock), shared with the dispatcher and the periodic jobs.

Publishing comes first. The wake-up and the heartbeat have their own executor thread, so periodic
jobs never hold up the clock; periodic jobs run at a lower OS priority, start only while no post is
being sent or falls due within a moment (Dispatcher.yield_to_publishing), and yield again between
their steps.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable

from planner.clock import SYSTEM, Clock
from planner.config import Config
from planner.errors import PlannerError
from planner.i18n import t
from planner.publishing.dispatcher import Dispatcher
from planner.store import audit, heartbeat, outbox

log = logging.getLogger("planner.run")

HEARTBEAT_KEY = heartbeat.KEY
HEARTBEAT_EVERY = heartbeat.EVERY
POLL_EVERY = 5.0   # at least this often, look for posts added by other processes

# A periodic job other parts give the service: (name, seconds between runs, function(config, dispatcher)),
# optionally followed by its first run: seconds after start (default: one period), or a datetime.
PeriodicJob = tuple


PERIODIC_EXECUTOR = "periodic"
PERIODIC_NICE = 10   # periodic jobs' threads (and the threads they start) run at this OS niceness
_niced = threading.local()


class SchedulerLocked(PlannerError):
    pass


def _lower_priority() -> None:
    """Lower this thread's CPU priority (Linux: setpriority on the thread id); threads it starts inherit it.
    Only the periodic executor's threads come here, so the dispatcher's threads keep their priority."""
    if getattr(_niced, "done", False):
        return
    _niced.done = True
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), PERIODIC_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the gate still holds jobs back
        pass


class Service:
    def __init__(self, config: Config, *, ignore_lock: bool = False, shutdown_timeout: float = 20.0,
                 dispatcher: Dispatcher | None = None, periodic: list[PeriodicJob] = (), clock: Clock | None = None):
        self.config = config
        self.periodic = list(periodic)
        self.ignore_lock = ignore_lock
        self.shutdown_timeout = shutdown_timeout
        self.wake_event = threading.Event()
        self.stop_event = threading.Event()
        self.dispatcher = dispatcher or Dispatcher(config, on_change=self.wake, clock=clock or SYSTEM)
        self.dispatcher.on_change = self.wake
        # One clock for the loop, the dispatcher and the periodic jobs (which read dispatcher.clock).
        if clock is not None:
            self.dispatcher.clock = clock
        self.clock = self.dispatcher.clock
        self.started_at = self.clock.now()
        self._lock = None
        self._scheduler = None

    def wake(self) -> None:
        self.wake_event.set()

    def stop(self, *_args) -> None:
        self.stop_event.set()
        self.wake_event.set()

    # --- single-instance lock (a convenience: correctness never depends on it) ------------------
    def _take_lock(self) -> None:
        from planner.store.backend import database_label, database_of
        from planner.store.instance_lock import SchedulerLock

        self._lock = SchedulerLock(self.config)
        if not self._lock.acquire():
            if not self.ignore_lock:
                refusal = self._lock.refusal()
                raise SchedulerLocked(refusal.key, **refusal.params) from None
            log.warning(t("log.lock_ignored", path=database_label(database_of(self.config))))
            self._lock = None

    def heartbeat(self) -> None:
        now = self.clock.now()
        heartbeat.beat(self.dispatcher.db, owner=self.dispatcher.owner, pid=os.getpid(), host=socket.gethostname(),
                       started_at=self.started_at, now=now)
        # The audit chain's newest row, kept outside the database as the scheduler audits what it publishes.
        audit.write_head_if_changed(self.dispatcher.db, audit.head_path(self.config.database))

    def _start_clock(self):
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.jobstores.memory import MemoryJobStore
        from apscheduler.schedulers.background import BackgroundScheduler

        # "default" runs only the wake-up and the heartbeat: periodic jobs, however long, never delay them.
        scheduler = BackgroundScheduler(jobstores={"default": MemoryJobStore()},
                                        executors={"default": ThreadPoolExecutor(2),
                                                   PERIODIC_EXECUTOR: ThreadPoolExecutor(4)},
                                        timezone=timezone.utc,
                                        job_defaults={"coalesce": True, "max_instances": 1,
                                                      "misfire_grace_time": 60})
        scheduler.add_job(self._safe(self.heartbeat), "interval", seconds=HEARTBEAT_EVERY, id="heartbeat",
                          next_run_time=self._machine_time(self.clock.now()))
        for name, seconds, func, *first_after in self.periodic:
            first = first_after[0] if first_after else seconds
            if not isinstance(first, datetime):
                first = self.clock.now() + timedelta(seconds=first)
            first = self._machine_time(first)
            scheduler.add_job(self._safe(self._background(func)), "interval", seconds=seconds, id=name,
                              next_run_time=first, executor=PERIODIC_EXECUTOR)
        scheduler.start()
        return scheduler

    def _machine_time(self, moment: datetime) -> datetime:
        """A moment on our clock as APScheduler, which runs on the machine's clock, must be given it."""
        if self.clock is SYSTEM:
            return moment
        return SYSTEM.now() + (moment - self.clock.now())

    def _background(self, func: Callable) -> Callable[[], None]:
        """A periodic job as it runs: at a lower OS priority, once publishing leaves room for it."""
        def run() -> None:
            _lower_priority()
            self.dispatcher.yield_to_publishing()
            if not self.stop_event.is_set():
                func(self.config, self.dispatcher)
        return run

    @staticmethod
    def _safe(func: Callable) -> Callable:
        def run():
            try:
                func()
            except Exception:
                log.exception(t("log.job_failed"))
        return run

    def _schedule_wake(self) -> float:
        """Ask the clock to wake us at the next due time; returns the seconds to wait at most."""
        now = self.clock.now()
        next_due = outbox.next_due(self.dispatcher.db)
        wait = POLL_EVERY
        if next_due is not None:
            if next_due <= now:
                # Due but not claimable now (workers busy or the account is paced/blocked).
                unblock = self.dispatcher.pacer.next_unblock()
                wait = min(POLL_EVERY, unblock if unblock is not None else 0.25, 1.0)
            else:
                self._scheduler.add_job(self.wake, "date", run_date=self._machine_time(next_due), id="wake",
                                        replace_existing=True)
                # Our own timeout is the fallback should the clock's thread be late.
                wait = min(POLL_EVERY, (next_due - now).total_seconds() + 0.05)
        return max(0.01, wait)

    def run(self, install_signals: bool = True) -> None:
        self._take_lock()
        if install_signals:
            signal.signal(signal.SIGTERM, self.stop)
            signal.signal(signal.SIGINT, self.stop)
        self._scheduler = self._start_clock()
        from planner.store.backend import database_label, database_of

        log.info(t("log.started", owner=self.dispatcher.owner, workers=self.dispatcher.workers,
                   database=database_label(database_of(self.config))))
        try:
            missed = self.dispatcher.housekeeping()
            if missed:
                log.error(t("log.missed_at_start", count=len(missed)))
            last_chores = datetime.min.replace(tzinfo=timezone.utc)
            while not self.stop_event.is_set():
                self.wake_event.clear()
                now = self.clock.now()
                # Every finished send wakes the loop: the chores need not run that often.
                if now - last_chores >= timedelta(seconds=1):
                    self.dispatcher.housekeeping()
                    self.dispatcher.reconcile()
                    last_chores = now
                self.dispatcher.dispatch()
                self.clock.wait(self.wake_event, self._schedule_wake())
        finally:
            log.info(t("log.stopping", seconds=f"{self.shutdown_timeout:.0f}"))
            self.dispatcher.shutdown(self.shutdown_timeout)
            self._scheduler.shutdown(wait=False)
            heartbeat.clear(self.dispatcher.db, now=self.clock.now())
            if self._lock is not None:
                self._lock.release()
            log.info(t("log.stopped"))


def heartbeat_state(db, *, stale_after: float = 3 * HEARTBEAT_EVERY, clock: Clock = SYSTEM) -> dict | None:
    """The running scheduler's heartbeat if it is fresh (on ``clock``), else None."""
    return heartbeat.fresh(db, now=clock.now(), stale_after=stale_after)
