"""Publishing first: the periodic jobs of `planner run` (metrics, listening, readiness, backups) never hold
up a due post.

Each test holds a post "on the wire" (a fake adapter that waits for the test) and checks the order of
what happened: no wall-clock limits are asserted. benchmarks/publish_precision.py --coincide measures the
effect on lateness.
"""

from __future__ import annotations

import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.clock import FakeClock
from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.platforms.base import MetricSnapshot, PublishedRef
from planner.platforms.pool import AdapterPool
from planner.publishing.dispatcher import Dispatcher
from planner.publishing.service import HEARTBEAT_KEY, Service
from planner.store import outbox
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db, parse_utc, utc_iso

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def office(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    config = load_config(path)
    doc = {
        "campaign": {"id": "utama", "name": "Kampanye utama", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan"},
        "content": [{"id": f"isi-{i}", "text": f"Isi nomor {i}", "at": datetime(2027, 2, 2, 9, i)} for i in range(4)],
        "monitoring": {"keywords": ["DPT"], "collect_every": "1m"},
    }
    file = tmp_path / "utama.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    db = open_db(config.database, create=True)
    apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                    approval_required=False, actor="uji")
    return config, db


class Events:
    """What happened, in order (appended from several threads)."""

    def __init__(self):
        self.items: list[str] = []
        self._lock = threading.Lock()

    def add(self, what: str) -> None:
        with self._lock:
            self.items.append(what)


class SlowSend:
    """A publish that stays on the wire until the test lets it finish."""

    def __init__(self, events: Events):
        self.events = events
        self.started = threading.Event()
        self.finish = threading.Event()

    def publish(self, post):
        self.events.add("send started")
        self.started.set()
        assert self.finish.wait(30)
        self.events.add("send done")
        return PublishedRef(platform_post_id=f"p{post.post_id}")


class Watcher:
    """Metrics and listening adapter that records when it is asked."""

    metrics_batch_size = 2

    def __init__(self, events: Events):
        self.events = events

    def fetch_metrics(self, refs):
        self.events.add("metrics request")
        return [MetricSnapshot(ref, "likes", 1, NOW) for ref in refs]

    def search_mentions(self, keywords, since):
        self.events.add("search request")
        return []


def _first_due(db) -> datetime:
    return parse_utc(db.execute("SELECT MIN(due_at) FROM posts").fetchone()[0])


def _sending(config, db, events: Events) -> tuple[Dispatcher, SlowSend]:
    """A dispatcher with one post on the wire (the first due); the rest of the posts are published."""
    at = _first_due(db)
    first = db.execute("SELECT id FROM posts WHERE due_at = ? ORDER BY id LIMIT 1", [utc_iso(at)]).fetchone()[0]
    db.conn.execute("UPDATE posts SET state = 'published', platform_post_id = 'x' || id, published_at = ? "
                    "WHERE id != ?", [utc_iso(at), first])
    slow = SlowSend(events)
    dispatcher = Dispatcher(config, workers=2, clock=FakeClock(at + timedelta(seconds=1)))
    dispatcher.adapters = AdapterPool(lambda channel: slow)
    assert dispatcher.dispatch() == 1
    assert slow.started.wait(10)
    return dispatcher, slow


def _run_while_sending(slow: SlowSend, events: Events, job) -> None:
    """Run ``job`` in a thread while the send is on the wire; end the send a moment later."""
    runner = threading.Thread(target=job)
    runner.start()
    time.sleep(0.3)  # room for the job to (wrongly) go ahead; no assertion on how long anything takes
    events.add("send released")
    slow.finish.set()
    runner.join(30)
    assert not runner.is_alive()


# --- the gate -------------------------------------------------------------------------------------------
def test_publishing_is_busy_while_a_post_is_in_hand_or_about_to_fall_due(office):
    config, db = office
    due = _first_due(db)
    ids = [r[0] for r in db.execute("SELECT id FROM posts ORDER BY id")]

    def busy_at(now: datetime) -> bool:
        dispatcher = Dispatcher(config, workers=1, clock=FakeClock(now))
        try:
            return dispatcher.publishing_busy()
        finally:
            dispatcher.shutdown(0)

    assert busy_at(due - timedelta(seconds=0.3)), "a post falls due in a moment"
    assert not busy_at(due - timedelta(seconds=2)), "nothing due soon"
    assert busy_at(due + timedelta(seconds=1)), "due and not yet claimed"
    # Overdue for long and still not claimed: it waits for its account's pacing, not for the periodic jobs.
    db.conn.execute(f"UPDATE posts SET due_at = ? WHERE id IN ({','.join('?' * len(ids))})",
                    [utc_iso(due - timedelta(minutes=5)), *ids])
    assert not busy_at(due)


def test_a_periodic_job_starts_only_after_the_send_in_progress(office):
    config, db = office
    events = Events()
    dispatcher, slow = _sending(config, db, events)
    service = Service(config, dispatcher=dispatcher)
    try:
        _run_while_sending(slow, events, service._background(lambda _c, _d: events.add("job ran")))
    finally:
        dispatcher.shutdown(5)
    assert events.items == ["send started", "send released", "send done", "job ran"], events.items


def test_metrics_collection_waits_for_the_send_in_progress(office, monkeypatch):
    from planner.monitoring import collect
    from planner.monitoring.jobs import collect_job

    config, db = office
    events = Events()
    monkeypatch.setattr("planner.platforms.make_adapter", lambda account, **_: Watcher(events))
    monkeypatch.setattr(collect, "resolve_account", lambda _config, name: name)
    dispatcher, slow = _sending(config, db, events)
    try:
        _run_while_sending(slow, events, lambda: collect_job(config, dispatcher))
    finally:
        dispatcher.shutdown(5)
    requests = [i for i, e in enumerate(events.items) if e == "metrics request"]
    assert len(requests) == 4, events.items  # 7 published posts, 2 per request
    assert events.items[:3] == ["send started", "send released", "send done"], events.items
    assert db.execute("SELECT COUNT(*) FROM metric_status").fetchone()[0] == 7


def test_listening_waits_for_the_send_in_progress(office, monkeypatch):
    from planner.monitoring import listen
    from planner.monitoring.jobs import listen_job

    config, db = office
    events = Events()
    monkeypatch.setattr("planner.platforms.make_adapter", lambda account, **_: Watcher(events))
    monkeypatch.setattr(listen, "resolve_account", lambda _config, name: name)
    dispatcher, slow = _sending(config, db, events)
    try:
        _run_while_sending(slow, events, lambda: listen_job(config, dispatcher))
    finally:
        dispatcher.shutdown(5)
    assert events.items == ["send started", "send released", "send done", "search request"], events.items


def test_the_backup_is_made_by_another_process(office, monkeypatch):
    from planner.publishing.backup_job import backup_job
    from planner.store import backup

    config, db = office

    def not_here(*_args, **_kwargs):
        raise AssertionError("the backup must not be made inside the scheduler's process")

    monkeypatch.setattr(backup, "backup_database", not_here)
    dispatcher = Dispatcher(config, workers=1)
    try:
        backup_job(config, dispatcher)
    finally:
        dispatcher.shutdown(0)
    copies = list(config.backup_dir.glob("planner-*.db"))
    assert len(copies) == 1
    assert open_db(copies[0], readonly=True).execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 8
    assert outbox.get_setting(db, "last_backup_at") is not None


# --- the clock -------------------------------------------------------------------------------------------
def test_busy_periodic_jobs_never_hold_up_the_clock(office):
    """Four periodic jobs that run long (here: until the test ends them) leave the heartbeat and the
    wake-up their own thread."""
    config, db = office
    release = threading.Event()
    running = Events()

    def long_job(name):
        def job(_config, _dispatcher):
            running.add(name)
            release.wait(60)
        return job

    dispatcher = Dispatcher(config, workers=1)
    dispatcher.adapters = AdapterPool(lambda channel: None)
    service = Service(config, dispatcher=dispatcher, shutdown_timeout=2,
                      periodic=[(name, 3600, long_job(name), 0) for name in ("metrics", "listen", "preflight",
                                                                              "backup")])
    thread = threading.Thread(target=service.run, kwargs={"install_signals": False})
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(running.items) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(running.items) == ["backup", "listen", "metrics", "preflight"], running.items
        all_busy = datetime.now(timezone.utc)
        beat_after = None
        while time.monotonic() < deadline + 15:
            raw = outbox.get_setting(db, HEARTBEAT_KEY)
            if raw and parse_utc(__import__("json").loads(raw)["at"]) > all_busy:
                beat_after = raw
                break
            time.sleep(0.1)
        assert beat_after, "no heartbeat while the periodic jobs ran: they took the clock's threads"
    finally:
        release.set()
        service.stop()
        thread.join(30)
    assert not thread.is_alive()
