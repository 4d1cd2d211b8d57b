"""Crash recovery of the outbox: a dead scheduler's leases on this host are taken back at once, and the
send mark tells a post that was certainly never sent (queued again directly) from one that may have been
(reconciled with the platform).

No processes of the scheduler here (tests/e2e/test_publishing_chaos.py kills real ones); the owner ids
of dead processes are made from short-lived child processes.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.clock import FakeClock
from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.platforms.base import PublishedRef
from planner.platforms.pool import AdapterPool
from planner.publishing import dispatcher as dispatcher_module
from planner.publishing.dispatcher import Dispatcher, new_owner, owner_gone
from planner.store import outbox
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db, parse_utc, utc_iso

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
LEASE = timedelta(minutes=2)
on_linux = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")


# --- owner ids and whether their process is gone -----------------------------------------------------------
def _dead_child() -> tuple[int, str]:
    """A pid whose process has ended (and been reaped), with the start time it had."""
    child = subprocess.Popen(["sleep", "60"])
    start = dispatcher_module._process_start(child.pid)
    child.kill()
    child.wait()
    return child.pid, start


@on_linux
def test_owner_id_carries_host_pid_and_start_time():
    host, pid, tag, start, machine = new_owner().split(":")
    assert (host, int(pid), len(tag)) == (socket.gethostname(), os.getpid(), 8)
    assert start == dispatcher_module._process_start(os.getpid()) and len(machine) == 8
    assert not owner_gone(new_owner()), "this process is alive"


@on_linux
def test_a_dead_process_on_this_host_is_known_gone():
    pid, start = _dead_child()
    machine = dispatcher_module._machine_key()
    host = socket.gethostname()
    assert owner_gone(f"{host}:{pid}:0badf00d:{start}:{machine}")
    assert owner_gone(f"{host}:{pid}:0badf00d"), "an id without start time: the pid alone decides"


@on_linux
def test_a_killed_process_not_yet_reaped_is_gone():
    child = subprocess.Popen(["sleep", "60"])
    try:
        start = dispatcher_module._process_start(child.pid)
        child.kill()  # not waited for yet: a zombie until its parent (this test) reaps it
        deadline = time.monotonic() + 10
        while dispatcher_module._process_stat(child.pid)[0] != "Z" and time.monotonic() < deadline:
            time.sleep(0.01)
        owner = f"{socket.gethostname()}:{child.pid}:0badf00d:{start}:{dispatcher_module._machine_key()}"
        assert owner_gone(owner)
    finally:
        child.wait()


@on_linux
def test_a_reused_pid_is_told_apart_by_its_start_time():
    host, pid, _, start, machine = new_owner().split(":")
    # This very pid, but an earlier process (a container's scheduler restarts as the same pid).
    assert owner_gone(f"{host}:{pid}:0badf00d:{int(start) - 1}:{machine}")
    # Another living process whose pid now belongs to someone else than the owner.
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        other_start = dispatcher_module._process_start(sleeper.pid)
        assert not owner_gone(f"{host}:{sleeper.pid}:0badf00d:{other_start}:{machine}")
        assert owner_gone(f"{host}:{sleeper.pid}:0badf00d:{int(other_start) - 5}:{machine}")
    finally:
        sleeper.kill()
        sleeper.wait()


@on_linux
def test_in_doubt_an_owner_is_alive():
    pid, start = _dead_child()
    host, machine = socket.gethostname(), dispatcher_module._machine_key()
    assert not owner_gone(f"another-host:{pid}:0badf00d:{start}:{machine}")        # another host's leases expire
    assert not owner_gone(f"{host}:{pid}:0badf00d:{start}:12345678")               # another pid namespace or boot
    assert not owner_gone(f"{host}:{os.getpid()}:0badf00d")    # our pid without a start time: maybe a sibling
    assert not owner_gone("w1") and not owner_gone(f"{host}:abc:0badf00d")          # not an owner id of ours
    assert not owner_gone(f"{host}:1:0badf00d:{dispatcher_module._process_start(1) or 1}:{machine}")  # init lives


# --- a database with due posts ------------------------------------------------------------------------------
@pytest.fixture
def office(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    config = load_config(path)
    doc = {
        "campaign": {"id": "pulih", "name": "Kampanye pulih", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan"},
        "content": [{"id": f"isi-{i}", "text": f"Isi nomor {i}", "at": datetime(2027, 2, 2, 9, i)} for i in range(3)],
    }
    file = tmp_path / "pulih.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    db = open_db(config.database, create=True)
    apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                    approval_required=False, actor="uji")
    return config, db


def _due(db) -> datetime:
    return parse_utc(db.execute("SELECT MAX(due_at) FROM posts").fetchone()[0]) + timedelta(seconds=1)


def _row(db, post_id: int) -> dict:
    return next(db.query("SELECT * FROM posts WHERE id = ?", [post_id]))


def _last_event(db, post_id: int) -> dict:
    return next(db.query("SELECT * FROM post_events WHERE post_id = ? ORDER BY id DESC LIMIT 1", [post_id]))


class FakeAdapter:
    """Records what it was asked to publish, and what the database said at that moment."""

    def __init__(self, config):
        self.config = config
        self.published: list[int] = []
        self.marks_seen: list[str | None] = []

    def publish(self, post):
        other = open_db(self.config.database)  # another connection: only committed writes are visible
        self.marks_seen.append(other.execute("SELECT send_started_at FROM posts WHERE id = ?",
                                             [post.post_id]).fetchone()[0])
        other.conn.close()
        self.published.append(post.post_id)
        return PublishedRef(platform_post_id=f"p{post.post_id}")


def _dispatcher(config, at: datetime, owner: str | None = None) -> tuple[Dispatcher, FakeAdapter]:
    fake = FakeAdapter(config)
    dispatcher = Dispatcher(config, owner=owner, workers=1, clock=FakeClock(at))
    dispatcher.adapters = AdapterPool(lambda channel: fake)
    return dispatcher, fake


# --- the send mark ------------------------------------------------------------------------------------------
def test_the_send_mark_is_committed_before_the_request_and_cleared_by_the_next_claim(office):
    config, db = office
    at = _due(db)
    dispatcher, fake = _dispatcher(config, at)
    try:
        [post] = outbox.claim_due(db, owner=dispatcher.owner, now=at, lease=LEASE, limit=1)
        assert _row(db, post.id)["send_started_at"] is None
        dispatcher.send(db, post)
        assert fake.marks_seen == [utc_iso(at)], "the adapter was called before the mark was committed"
        # The mark commits without syncing under the lock (and syncs the WAL after it); every other write
        # of that connection stays synchronous FULL.
        assert db.execute("PRAGMA synchronous").fetchone()[0] == 2
        row = _row(db, post.id)
        assert row["state"] == "published" and row["send_started_at"] == utc_iso(at)

        # A retried post starts each claim unmarked.
        db.conn.execute("UPDATE posts SET state = 'failed_retryable', retry_at = ? WHERE id = ?",
                        [utc_iso(at), post.id])
        [again] = outbox.claim_due(db, owner=dispatcher.owner, now=at, lease=LEASE, limit=1, only_ids=[post.id])
        assert _row(db, again.id)["send_started_at"] is None
    finally:
        dispatcher.shutdown(timeout=1)


def test_a_lease_that_expired_before_sending_is_queued_again_directly(office):
    config, db = office
    at = _due(db)
    unsent, sent, thread = outbox.claim_due(db, owner="mati", now=at, lease=LEASE, limit=3)
    assert outbox.mark_send_started(db, sent.id, "mati", now=at, lease_until=at + LEASE)
    assert outbox.record_thread_parts(db, thread.id, "mati", state="publishing", parts=["t1"],
                                      lease_until=at + LEASE)
    later = at + LEASE + timedelta(seconds=1)
    moved = outbox.expire_leases(db, now=later, actor="uji")
    assert (moved.requeued, sorted(moved.unknown)) == ([unsent.id], sorted([sent.id, thread.id]))
    assert _row(db, unsent.id)["state"] == "queued" and _row(db, unsent.id)["attempt"] == 0
    assert _row(db, unsent.id)["lease_owner"] is None
    assert _last_event(db, unsent.id)["detail"] == "lease expired, never sent: queued again"
    assert _row(db, sent.id)["state"] == "unknown" and _last_event(db, sent.id)["detail"] == "lease expired"
    assert _row(db, thread.id)["state"] == "unknown", "a thread with parts live keeps going through reconciliation"


def test_an_owner_that_lost_its_lease_before_sending_never_sends(office):
    config, db = office
    at = _due(db)
    slow, fake = _dispatcher(config, at)
    try:
        [post] = outbox.claim_due(db, owner=slow.owner, now=at, lease=LEASE, limit=1)
        # It waited (for pacing tokens, say) past its lease; another scheduler took the post back and sent it.
        later = at + LEASE + timedelta(seconds=1)
        assert outbox.expire_leases(db, now=later, actor="uji").requeued == [post.id]
        other, other_fake = _dispatcher(config, later)
        try:
            [again] = outbox.claim_due(db, owner=other.owner, now=later, lease=LEASE, limit=1)
            other.send(db, again)
        finally:
            other.shutdown(timeout=1)
        slow.send(db, post)  # wakes up at last
        assert fake.published == [] and other_fake.published == [post.id]
        assert _row(db, post.id)["state"] == "published"
    finally:
        slow.shutdown(timeout=1)


def test_shutdown_release_never_gives_back_a_post_whose_request_may_have_left(office):
    _, db = office
    at = _due(db)
    unsent, sent = outbox.claim_due(db, owner="w1", now=at, lease=LEASE, limit=2)
    assert outbox.mark_send_started(db, sent.id, "w1", now=at, lease_until=at + LEASE)
    assert outbox.release(db, [unsent.id, sent.id], "w1", now=at) == 1
    assert (_row(db, unsent.id)["state"], _row(db, sent.id)["state"]) == ("queued", "publishing")
    assert not outbox.mark_send_started(db, unsent.id, "w1", now=at, lease_until=at + LEASE)


# --- a dead owner's leases ---------------------------------------------------------------------------------
@on_linux
def test_a_dead_schedulers_leases_on_this_host_are_taken_back_at_once(office):
    config, db = office
    at = _due(db)
    pid, start = _dead_child()
    dead = f"{socket.gethostname()}:{pid}:0badf00d:{start}:{dispatcher_module._machine_key()}"
    alive = new_owner()  # a sibling in this process: alive, its leases are left alone
    unsent, sent = outbox.claim_due(db, owner=dead, now=at, lease=LEASE, limit=2)
    [sibling] = outbox.claim_due(db, owner=alive, now=at, lease=LEASE, limit=1)
    assert outbox.mark_send_started(db, sent.id, dead, now=at, lease_until=at + LEASE)
    # An 'unknown' post the dead process was reconciling.
    reconciling = db.execute("SELECT id FROM posts WHERE state = 'queued' LIMIT 1").fetchone()[0]
    db.conn.execute("UPDATE posts SET state = 'unknown', lease_owner = ?, lease_until = ? WHERE id = ?",
                    [dead, utc_iso(at + LEASE), reconciling])

    dispatcher, _ = _dispatcher(config, at + timedelta(seconds=1))  # long before the leases run out
    try:
        dispatcher.housekeeping()
    finally:
        dispatcher.shutdown(timeout=1)
    assert (_row(db, unsent.id)["state"], _row(db, unsent.id)["attempt"]) == ("queued", 0)
    assert _last_event(db, unsent.id)["detail"] == "claimed by a process that is gone, never sent: queued again"
    assert _row(db, sent.id)["state"] == "unknown"
    assert _last_event(db, sent.id)["detail"] == "claimed by a process that is gone, may have been sent"
    freed = _row(db, reconciling)
    assert (freed["state"], freed["lease_owner"], freed["lease_until"]) == ("unknown", None, None)
    assert (_row(db, sibling.id)["state"], _row(db, sibling.id)["lease_owner"]) == ("publishing", alive)
    assert outbox.lease_owners(db) == [alive]
