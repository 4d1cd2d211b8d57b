"""What a post's job does on a worker: look at the post as the store has it, claim it through the store's
guarded claim under the cluster's pacing, and send it through the dispatcher's one path.

The job never trusts that it is the only one: a job procrastinate runs again (a stalled worker's, retried)
finds the post 'publishing' under another lease, 'unknown' or 'published' and waits for the lease, hands it
to reconciliation, or does nothing. Only the claim, one guarded UPDATE, lets a send happen.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable

from planner.config import Config
from planner.domain.post import Hold, HoldKind
from planner.i18n import t
from planner.publishing.blackout import active as active_blackouts
from planner.publishing.blackout import apply_blackouts
from planner.publishing.dispatcher import PAUSE_KEY, YIELD_AHEAD, YIELD_OVERDUE, Dispatcher, owner_gone
from planner.publishing.pacing import Pacer
from planner.store import outbox, posts, worker_jobs
from planner.store.db import parse_utc

log = logging.getLogger("planner.worker")

# A wait for an account's room shorter than this is waited out inside the job; a longer one defers the job
# again, so a paced account never ties up a worker slot that other accounts could use.
WAIT_IN_JOB = 1.0


@dataclass(frozen=True)
class Next:
    """What should happen to the post's job after this run: nothing, or a new job at ``at``."""
    at: datetime | None = None


@dataclass
class SharedBlocks(Pacer):
    """The dispatcher's pacer, whose blocks (a platform's retry-after) are also recorded for every worker."""
    record: Callable[[str, float], None] | None = None

    def block(self, account: str, seconds: float) -> None:
        super().block(account, seconds)
        if self.record is not None:
            self.record(account, seconds)


class WorkerDispatcher(Dispatcher):
    """The dispatcher as a worker runs it: one post per job, pacing decided in the claim across all workers
    (store/worker_jobs.py)."""

    def __init__(self, config: Config, **kwargs):
        pacing = config.pacing
        kwargs.setdefault("pacer", SharedBlocks(rate=pacing.rate, burst=pacing.burst,
                                                max_in_flight=pacing.max_in_flight, record=self._block_everywhere))
        super().__init__(config, **kwargs)
        self._running = 0
        self._running_lock = threading.Lock()

    def _block_everywhere(self, account: str, seconds: float) -> None:
        now = self.clock.now()
        worker_jobs.block_account(self.db, account, until=now + timedelta(seconds=seconds), now=now)

    def publishing_busy(self, ahead: timedelta = YIELD_AHEAD) -> bool:
        """Periodic work on this worker waits while one of its post jobs runs or a post falls due."""
        with self._running_lock:
            if self._running:
                return True
        now = self.clock.now()
        return outbox.any_due_between(self.db, now - YIELD_OVERDUE, now + ahead)

    # --- one post's job ------------------------------------------------------------------------
    def run_post(self, post_id: int) -> Next:
        with self._running_lock:
            self._running += 1
        try:
            return self._run_post(post_id)
        finally:
            with self._running_lock:
                self._running -= 1
            self.on_change()

    def _run_post(self, post_id: int) -> Next:
        db = self.db
        pacing = worker_jobs.Pacing(rate=self.config.pacing.rate, burst=self.config.pacing.burst,
                                    max_in_flight=self.config.pacing.max_in_flight)
        for _ in range(20):  # each turn moves the post on (or returns); the bound only guards against a bug
            row = posts.get(db, post_id)
            if row is None or row["standby"]:
                return Next()
            now = self.clock.now()
            state = row["state"]
            if state == "publishing":
                if not self._take_back(row, now):
                    return Next(parse_utc(row["lease_until"]) + timedelta(seconds=0.5))
                continue
            if state == "unknown":
                self.reconcile()
                again = posts.get(db, post_id)
                if again is not None and again["state"] == "unknown":
                    return Next(now + self.settle + timedelta(seconds=1))
                if again is not None and again["state"] in outbox.CLAIMABLE:
                    continue
                return Next()
            if state not in outbox.CLAIMABLE:
                return Next()  # published, failed, held, canceled...: nothing for a job to do
            at = parse_utc(row["retry_at"] or row["due_at"])
            if at > now:
                return Next(at)
            if self._held_back(row, now):
                return Next()
            post, wait = worker_jobs.claim_paced(db, post_id, channel=row["channel"], seen_state=state,
                                                 owner=self.owner, now=now, lease=self.config.lease,
                                                 pacing=pacing, approved_only=self.config.approval_required)
            if wait > 0:
                if wait > WAIT_IN_JOB:
                    return Next(now + timedelta(seconds=wait))
                time.sleep(wait)
                continue
            if post is None:
                again = posts.get(db, post_id)
                if again is not None and again["state"] == state and again["updated_at"] == row["updated_at"]:
                    # Unchanged yet not claimable (an approval stamp missing): housekeeping decides; look later.
                    return Next(now + timedelta(seconds=5))
                continue  # another worker claimed it, or it changed: look at it again
            self.send(db, post)
            after = posts.get(db, post_id)
            if after is not None and after["state"] in outbox.CLAIMABLE:
                return Next(parse_utc(after["retry_at"] or after["due_at"]))
            return Next()
        return Next(self.clock.now() + timedelta(seconds=5))

    def _take_back(self, row: dict, now: datetime) -> bool:
        """A post another owner holds in 'publishing': taken back when that owner is certainly gone (this
        host) or its lease ran out (anywhere), the way the SQLite scheduler's housekeeping does it."""
        owner = row["lease_owner"]
        if owner and owner != self.owner and owner_gone(owner):
            self._log_interrupted(outbox.release_dead_owner(self.db, owner, now=now, actor=self.owner),
                                  t("log.why_gone", owner=owner))
            return True
        if row["lease_until"] and parse_utc(row["lease_until"]) < now:
            self._log_interrupted(outbox.expire_leases(self.db, now=now, actor=self.owner), t("log.why_lease"))
            return True
        return False

    def _held_back(self, row: dict, now: datetime) -> bool:
        """Paused, or inside a blackout window: the post is held (with the others due), as `planner run`
        holds them, and goes on when released (resume, the window's end) through a new job."""
        reason = outbox.get_setting(self.db, PAUSE_KEY)
        if reason is not None:
            held = outbox.hold_due(self.db, now=now, hold=Hold(HoldKind.PAUSE, reason), actor=self.owner)
            if held:
                log.warning(t("log.paused_held", reason=reason, count=len(held)))
            return True
        for window in active_blackouts(self.config, now, self.db):
            if window.campaign and window.campaign != row["campaign_id"]:
                continue
            if window.channels and row["channel"] not in window.channels:
                continue
            apply_blackouts(self.db, self.config, now=now, actor=self.owner)
            return True
        return False
