"""The dispatcher: claim due posts, send them through their adapters, record what happened.

Used by both `planner run` (woken by the scheduler's clock) and `planner publish --due`
(one pass). The rules that keep the first promise (nothing lost, nothing published twice):

- claim before calling out (store.outbox.claim_due), record outcomes with guarded updates;
- commit a send mark under the lease right before the request leaves: a claim that is taken back
  (its process died, on this host at once, elsewhere when the lease runs out) without the mark was
  certainly never sent and is simply queued again;
- an outcome we cannot know (timeout after sending, dropped connection, a crash after the mark)
  goes to 'unknown' and is reconciled with the platform, never retried blindly;
- what reconciliation cannot decide becomes 'needs_review' for a person.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable

from planner.accounts.resolve import resolve_account
from planner.clock import SYSTEM, Clock
from planner.config import Config
from planner.domain.events import Event, EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.errors import PlannerError
from planner.i18n import t
from planner.i18n.platform_errors import say
from planner.platforms.base import (
    CredentialsError,
    OutgoingPost,
    PermanentError,
    PlatformError,
    RetryableError,
    UnknownOutcomeError,
)
from planner.publishing.blackout import active as active_blackouts
from planner.publishing.blackout import apply_blackouts
from planner.platforms.pool import AdapterPool
from planner.platforms.redaction import redact, register_secrets
from planner.publishing.pacing import Pacer
from planner.publishing.retry import RetryPolicy
from planner.store import outbox, posts
from planner.store.backend import open_configured

log = logging.getLogger("planner.publish")

PAUSE_KEY = "paused"

# Background work (metrics, listening, readiness, backups) waits while a post is being sent or falls due
# within YIELD_AHEAD, or was due at most OVERDUE ago and is not claimed yet (older ones wait for their
# account's pacing, not for us); each wait ends after YIELD_MAX_WAIT so a dense schedule cannot starve it.
YIELD_AHEAD = timedelta(seconds=0.5)
YIELD_OVERDUE = timedelta(seconds=5)
YIELD_MAX_WAIT = 10.0
YIELD_POLL = 0.02


def _process_stat(pid: int) -> tuple[str, str] | None:
    """The process's state letter and start time (clock ticks since boot; /proc/PID/stat fields 3 and 22)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[0], fields[19]
    except (OSError, IndexError):
        return None


def _process_start(pid: int) -> str | None:
    stat = _process_stat(pid)
    return stat[1] if stat else None


def _machine_key() -> str | None:
    """This boot of this machine and this pid namespace: where a pid names the same process as for us."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return hashlib.sha1(f"{boot}/{namespace}".encode()).hexdigest()[:8]


def new_owner() -> str:
    """``host:pid:uuid``, then ``:start:machine`` where /proc tells them (see owner_gone)."""
    owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    start, machine = _process_start(os.getpid()), _machine_key()
    return f"{owner}:{start}:{machine}" if start and machine else owner


def owner_gone(owner: str) -> bool:
    """True only when certain that the process behind a lease owner id is gone.

    Certain means: the same host (and, where known, the same boot and pid namespace, so the pid means
    the same thing to us) and no process with that pid, one with another start time (the pid was
    reused), or one that has ended and waits for its parent to reap it. Any doubt (another host, an id
    of another form) answers False: that owner's leases then run out as before.
    """
    parts = owner.split(":")
    if len(parts) not in (3, 5) or parts[0] != socket.gethostname() or not parts[1].isdigit():
        return False
    pid, start, machine = int(parts[1]), *(parts[3:5] if len(parts) == 5 else (None, None))
    if machine is not None and machine != _machine_key():
        return False
    if pid == os.getpid():
        # Our own pid: another dispatcher of this process, or a process before us with the same pid
        # (a container's scheduler restarts as the same pid); only the start time tells them apart.
        return start is not None and start != _process_start(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # someone else's process: it exists
        pass
    except OSError:
        return False
    found = _process_stat(pid)
    if found is None:
        return False
    state, found_start = found
    if start is not None and found_start != start:
        return True  # the pid now belongs to another process
    return state in ("Z", "X")  # killed, not yet reaped by its parent


@dataclass
class PassResult:
    claimed: int = 0
    published: int = 0
    retrying: int = 0
    failed: int = 0
    unknown: int = 0
    missed: list[int] = field(default_factory=list)
    reconciled: int = 0
    needs_review: int = 0


def _adapter_maker(config: Config, timeout: float):
    """Builds a channel's adapter; its secrets are registered for redaction from logs and messages."""
    from planner.platforms import make_adapter

    def make(channel: str):
        account = resolve_account(config, channel)
        register_secrets(account.secret_values())
        return make_adapter(account, timeout=timeout)

    return make


class ProgressNotSaved(Exception):
    """A thread part went live but the post is no longer ours to record: stop before the next part."""


class Dispatcher:
    def __init__(self, config: Config, *, owner: str | None = None, workers: int | None = None,
                 pacer: Pacer | None = None, policy: RetryPolicy | None = None, timeout: float = 30.0,
                 settle: timedelta = timedelta(seconds=2), clock: Clock = SYSTEM,
                 on_change: Callable[[], None] | None = None):
        self.config = config
        self.owner = owner or new_owner()
        self.workers = workers or config.workers
        self.pacer = pacer or Pacer(rate=config.pacing.rate, burst=config.pacing.burst,
                                    max_in_flight=config.pacing.max_in_flight)
        self.policy = policy or RetryPolicy()
        self.settle = settle
        self.clock = clock
        self.adapters = AdapterPool(_adapter_maker(config, timeout))
        self.on_change = on_change or (lambda: None)
        self.stopping = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="publish")
        self._db_local = threading.local()
        self._inflight: dict[int, Future] = {}
        self._started: set[int] = set()
        self._lock = threading.Lock()
        self._rng = random.Random()
        self._gate_db = None               # one connection for every background thread's "busy?" question
        self._gate_lock = threading.Lock()

    # --- database per thread (a sqlite3 connection must not carry two threads' transactions) ---
    @property
    def db(self):
        db = getattr(self._db_local, "db", None)
        if db is None:
            db = self._db_local.db = open_configured(self.config)
        return db

    # --- one pass ----------------------------------------------------------------------------
    def housekeeping(self) -> list[int]:
        """Blackouts; leases of dead processes on this host and leases that ran out are taken back (never
        sent -> queued, maybe sent -> 'unknown'); posts beyond their grace become 'missed'."""
        now = self.clock.now()
        apply_blackouts(self.db, self.config, now=now, actor=self.owner)
        if self.config.approval_required:  # approval switched on later, or a stamp from before stamps existed
            for post_id in posts.void_unapproved(self.db, now=now, actor=self.owner):
                log.warning(t("log.approval_void", post=post_id), extra={"post_id": post_id, "outcome": "voided"})
        self.release_dead_owners(now)
        self._log_interrupted(outbox.expire_leases(self.db, now=now, actor=self.owner), t("log.why_lease"))
        missed = outbox.mark_missed(self.db, now=now, default_grace=self.config.grace, actor=self.owner)
        for post_id in missed:
            log.error(t("log.missed", post=post_id),
                      extra={"post_id": post_id, "outcome": "missed"})
        return missed

    def release_dead_owners(self, now: datetime | None = None) -> list[str]:
        """Leases held by processes on this host that are gone (kill -9, crash) are taken back at once,
        not after the lease: a restarted scheduler goes on within a second. Returns those owners."""
        gone = [o for o in outbox.lease_owners(self.db) if o != self.owner and owner_gone(o)]
        for owner in gone:
            moved = outbox.release_dead_owner(self.db, owner, now=now or self.clock.now(), actor=self.owner)
            self._log_interrupted(moved, t("log.why_gone", owner=owner))
        return gone

    def _log_interrupted(self, moved: outbox.Interrupted, why: str) -> None:
        for post_id in moved.requeued:
            log.warning(t("log.interrupted_before", post=post_id, why=why),
                        extra={"post_id": post_id, "outcome": "requeued"})
        for post_id in moved.unknown:
            log.warning(t("log.interrupted_during", post=post_id, why=why),
                        extra={"post_id": post_id, "outcome": "unknown"})
        if moved.freed:
            log.warning(t("log.freed", count=len(moved.freed), why=why))

    def paused(self) -> str | None:
        return outbox.get_setting(self.db, PAUSE_KEY)

    # --- publishing first ----------------------------------------------------------------------
    def publishing_busy(self, ahead: timedelta = YIELD_AHEAD) -> bool:
        """Posts in hand (claimed or being sent), or one due now or within ``ahead``."""
        with self._lock:
            if self._inflight:
                return True
        now = self.clock.now()
        with self._gate_lock:  # asked from short-lived threads (a job's request pool): one connection for all
            if self._gate_db is None:
                self._gate_db = open_configured(self.config)
            return outbox.any_due_between(self._gate_db, now - YIELD_OVERDUE, now + ahead)

    def yield_to_publishing(self, max_wait: float = YIELD_MAX_WAIT) -> float:
        """Called by periodic jobs before each step (a request, a write): wait while publishing is busy,
        at most ``max_wait`` seconds. Returns the seconds waited."""
        import time

        start = time.monotonic()
        while (not self.stopping.is_set() and time.monotonic() - start < max_wait
               and self.publishing_busy()):
            self.stopping.wait(YIELD_POLL)
        return time.monotonic() - start

    def dispatch(self) -> int:
        """Claim what is due (within free workers and account limits) and hand it to the pool."""
        if self.stopping.is_set():
            return 0
        reason = self.paused()
        if reason is not None:
            held = outbox.hold_due(self.db, now=self.clock.now(), hold=Hold(HoldKind.PAUSE, reason), actor=self.owner)
            if held:
                log.warning(t("log.paused_held", reason=reason, count=len(held)))
            return 0
        # Claim up to one batch ahead of the workers, so a worker that finishes finds its next post
        # waiting instead of idling until this loop wakes (a claimed post keeps its lease meanwhile).
        with self._lock:
            free = 2 * self.workers - len(self._inflight)
        if free <= 0 or not outbox.any_due(self.db, self.clock.now()):
            return 0
        now = self.clock.now()
        excluded, quiet_campaigns = self.pacer.unavailable(), []
        for window in active_blackouts(self.config, now, self.db):
            if window.campaign:
                quiet_campaigns.append(window.campaign)  # housekeeping holds what falls due inside
            elif not window.channels:
                return 0
            else:
                excluded.extend(window.channels)
        # Never more posts of one account in hand than it may send at once: waiting for an account's
        # tokens must not tie up the workers that other accounts need.
        claimed = outbox.claim_due(self.db, owner=self.owner, now=now, lease=self.config.lease,
                                   limit=free, exclude_channels=excluded, exclude_campaigns=quiet_campaigns,
                                   per_channel=self.pacer.max_in_flight, room=self.pacer.room(),
                                   approved_only=self.config.approval_required)
        for post in claimed:
            self.pacer.reserve(post.channel)
            with self._lock:
                self._inflight[post.id] = self._pool.submit(self._publish_one, post)
        return len(claimed)

    def run_once(self, *, wait: bool = True) -> PassResult:
        """Everything due now, until nothing due is left (for `planner publish --due`)."""
        result = PassResult()
        result.missed = self.housekeeping()
        self.reconcile(result)
        while not self.stopping.is_set():
            claimed = self.dispatch()
            result.claimed += claimed
            with self._lock:
                pending = list(self._inflight.values())
            if not claimed and not pending:
                break
            if pending:
                done_one = threading.Event()
                for future in pending:
                    future.add_done_callback(lambda _f: done_one.set())
                done_one.wait(1.0)
            if not claimed and self.paused() is not None:
                break
        if wait:
            self.drain()
        self.reconcile(result)
        return result

    def drain(self, timeout: float | None = None) -> bool:
        """Wait for the sends in progress, at most ``timeout`` seconds in all; True if none is left."""
        import concurrent.futures
        import time

        with self._lock:
            pending = list(self._inflight.values())
        deadline = None if timeout is None else time.monotonic() + timeout
        for future in pending:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                future.result(timeout=left)
            except concurrent.futures.TimeoutError:
                break
            except Exception:  # already logged in the worker
                pass
        with self._lock:
            return not self._inflight

    # --- sending one post --------------------------------------------------------------------
    def _publish_one(self, post: outbox.ClaimedPost) -> None:
        db = self.db
        try:
            try:
                self.pacer.acquire(post.channel, self.stopping)
                if self.stopping.is_set():
                    outbox.release(db, [post.id], self.owner, now=self.clock.now())
                    return
                with self._lock:
                    self._started.add(post.id)
                self.send(db, post)
            finally:
                self.pacer.done(post.channel)
        except Exception:  # a bug must not kill the worker or lose the post: the lease will expire
            log.exception(t("log.unexpected", post=post.id))
        finally:
            with self._lock:
                self._inflight.pop(post.id, None)
                self._started.discard(post.id)
            self.on_change()

    def _still_allowed(self, db, post: outbox.ClaimedPost) -> bool:
        """Right before the request: media are still the files validation saw (no link swapped in), and an
        approval still matches the content, media bytes included. Otherwise the post does not leave."""
        problem = posts.media_escaped(post.media)
        if problem is not None:
            outbox.mark_failed(db, post, self.owner, now=self.clock.now(), error=t("log.media_escaped", file=problem))
            self._log(post, "failed", t("log.media_escaped", file=problem))
            return False
        if self.config.approval_required and not posts.approval_holds(db, post.id):
            if posts.void_claimed(db, post.id, self.owner, now=self.clock.now()):
                log.warning(t("log.approval_void", post=post.id), extra={"post_id": post.id, "outcome": "voided"})
            return False
        return True

    def send(self, db, post: outbox.ClaimedPost) -> None:
        """Publish one claimed post and record the outcome (pacing is the caller's business)."""
        if not self._still_allowed(db, post):
            return
        outgoing, _live = self._outgoing(db, post, state="publishing")
        try:
            adapter = self.adapters.get(post.channel)
            # The mark goes into the database before the request leaves: from here on, a crash sends the
            # post to reconciliation; before it, the post is certainly unsent and simply queued again.
            now = self.clock.now()
            if not outbox.mark_send_started(db, post.id, self.owner, now=now, lease_until=now + self.config.lease):
                log.error(t("log.lease_lost_before_send", post=post.id))
                return
            ref = adapter.publish(outgoing)
        except ProgressNotSaved as exc:
            log.error(t("log.thread_left", error=str(exc)))
            return
        except PlannerError as exc:  # local configuration (missing secret...): fixable, keep the post
            self._retry(db, post, exc.render(), retry_after=60.0)
        except RetryableError as exc:
            if exc.retry_after:
                self.pacer.block(post.channel, exc.retry_after)
            self._retry(db, post, exc.message, exc.retry_after)
        except UnknownOutcomeError as exc:
            message = redact(exc.message)
            outbox.mark_unknown(db, post, self.owner, now=self.clock.now(), error=message)
            self._log(post, "unknown", event(EventCode.ERROR, error=message))
        except (PermanentError, PlatformError) as exc:
            if isinstance(exc, CredentialsError):
                self.adapters.forget(post.channel)  # a retry after reconnecting reads the new credentials
                # Refused for good: held (with the account's other due posts) until `account connect`.
                from planner.store.account_holds import hold_for_reconnect

                message = redact(exc.message)
                held = hold_for_reconnect(db, post, self.owner, now=self.clock.now(), error=message)
                self._log(post, "held", t("log.held_detail", error=say(message), count=len(held), channel=post.channel))
                return
            message = redact(exc.message)
            outbox.mark_failed(db, post, self.owner, now=self.clock.now(), error=message)
            self._log(post, "failed", event(EventCode.ERROR, error=message))
        else:
            now = self.clock.now()
            if outbox.mark_published(db, post, self.owner, platform_post_id=ref.platform_post_id, url=ref.url,
                                     published_at=now):
                self._log(post, "published", ref.url or ref.platform_post_id, now=now)
            else:
                log.error(t("log.published_lease_lost", post=post.id, ref=ref.platform_post_id))

    def _outgoing(self, db, post: outbox.ClaimedPost, *, state: str) -> tuple[OutgoingPost, list[str]]:
        """The post for its adapter; for a thread, each part that goes live is saved at once (under
        our lease, in ``state``), so a retry or reconciliation continues after it."""
        live = list(post.parts_done)

        def saved(platform_id: str) -> None:
            live.append(platform_id)
            if not outbox.record_thread_parts(db, post.id, self.owner, state=state, parts=live,
                                              lease_until=self.clock.now() + self.config.lease):
                raise ProgressNotSaved(f"post {post.id}: thread part {platform_id} is live but the post is no "
                                       f"longer ours")

        outgoing = OutgoingPost(post_id=post.id, idempotency_key=post.idempotency_key, text=post.text,
                                link=post.link, media=tuple(Path(m) for m in post.media), thread=post.thread,
                                parts_done=post.parts_done, on_part=saved if post.thread else None)
        return outgoing, live

    def _retry(self, db, post: outbox.ClaimedPost, message: str, retry_after: float | None) -> None:
        message = redact(message)
        now = self.clock.now()
        if self.policy.exhausted(post.attempt):
            outbox.mark_failed(db, post, self.owner, now=now,
                               error=f"gave up after {post.attempt} attempts: {message}")
            self._log(post, "failed", event(EventCode.ERROR, error=message))
            return
        delay = self.policy.delay(post.attempt, retry_after, self._rng)
        outbox.mark_retry(db, post, self.owner, now=now, retry_at=now + delay, error=message)
        self._log(post, "retry", t("log.retry_detail", error=say(message), seconds=f"{delay.total_seconds():.0f}"))

    def _log(self, post: outbox.ClaimedPost, outcome: str, what: Event | str, now: datetime | None = None) -> None:
        """``what``: the event as recorded in the post's history, or a text already in the reader's words."""
        late = ((now or self.clock.now()) - post.due_at).total_seconds()
        level = logging.INFO if outcome == "published" else logging.WARNING
        from planner.i18n.dates import format_number
        from planner.i18n.events import render

        if isinstance(what, Event):
            shown, detail = render(what, self.config.timezone), what.sentence
        else:
            shown = detail = what
        log.log(level, t("log.post_outcome", post=post.id, campaign=post.campaign_id, content=post.content_id,
                         channel=post.channel, late=format_number(late, decimals=3),
                         outcome=t(f"log.outcome.{outcome}"), detail=shown),
                extra={"post_id": post.id, "channel": post.channel, "campaign": post.campaign_id,
                       "content": post.content_id, "late_s": round(late, 3), "outcome": outcome,
                       "detail": detail, "attempt": post.attempt})

    # --- reconciliation ----------------------------------------------------------------------
    def reconcile(self, result: PassResult | None = None) -> None:
        """Ask the platforms about every 'unknown' post: published, certainly absent, or a person decides."""
        now = self.clock.now()
        for post in outbox.claim_unknown(self.db, owner=self.owner, now=now, lease=self.config.lease,
                                         settle=self.settle):
            outgoing, live = self._outgoing(self.db, post, state="unknown")
            since = post.due_at - timedelta(hours=1)
            try:
                ref = self.adapters.get(post.channel).find_published(outgoing, since)
            except ProgressNotSaved as exc:
                log.error(t("log.reconcile_left", error=str(exc)))
                continue
            except RetryableError as exc:
                # The lookup itself failed for now (429, 5xx, no answer): not a question for a person.
                # The post stays 'unknown' under our reconcile lease and is asked about again when it ends.
                self._log(post, "unknown", redact(t("log.cannot_ask_yet", error=exc.message)))
                continue
            except (PlatformError, PlannerError) as exc:
                detail = exc.render() if isinstance(exc, PlannerError) else exc.message
                what = event(EventCode.CANNOT_TELL, detail=redact(detail))
                outbox.needs_review(self.db, post, self.owner, now=self.clock.now(), what=what)
                self._log(post, "needs_review", what)
                if result:
                    result.needs_review += 1
                continue
            if ref is not None:
                outbox.mark_published(self.db, post, self.owner, platform_post_id=ref.platform_post_id, url=ref.url,
                                      published_at=ref.published_at or self.clock.now(), from_state="unknown",
                                      what=event(EventCode.RECONCILED_FOUND))
                self._log(post, "published", t("log.reconciled_found", ref=ref.url or ref.platform_post_id))
            elif live:
                what = event(EventCode.RECONCILED_THREAD, live=len(live), total=len(post.thread) + 1)
                outbox.requeue_unknown(self.db, post, self.owner, now=self.clock.now(), what=what)
                self._log(post, "requeued", what)
            else:
                outbox.requeue_unknown(self.db, post, self.owner, now=self.clock.now(),
                                       what=event(EventCode.RECONCILED_ABSENT))
                self._log(post, "requeued", t("log.reconciled_absent"))
            if result:
                result.reconciled += 1
        self.on_change()

    # --- shutdown ----------------------------------------------------------------------------
    def shutdown(self, timeout: float = 20.0) -> None:
        """Stop claiming; let sends in progress finish within ``timeout``; give back the rest."""
        self.stopping.set()
        self.drain(timeout)
        with self._lock:
            never_started = [pid for pid in self._inflight if pid not in self._started]
        if never_started:
            outbox.release(self.db, never_started, self.owner, now=self.clock.now())
        self._pool.shutdown(wait=False, cancel_futures=True)
