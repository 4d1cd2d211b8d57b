"""The one clock: fake time moves only when told, and the service and its jobs read the clock they are given."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from planner.clock import SYSTEM, Clock, FakeClock, OffsetClock, now
from planner.config import load_config
from planner.publishing.dispatcher import Dispatcher
from planner.publishing.service import HEARTBEAT_KEY, Service, heartbeat_state
from planner.store import outbox
from planner.store.db import open_db

REPO = Path(__file__).resolve().parents[2]
START = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)


def test_the_real_clock_is_aware_utc():
    before = datetime.now(timezone.utc)
    read = now()
    assert read.tzinfo is not None and read.utcoffset() == timedelta(0)
    assert before <= read <= datetime.now(timezone.utc)
    assert isinstance(SYSTEM, Clock) and isinstance(FakeClock(START), Clock) and isinstance(OffsetClock(timedelta()), Clock)


def test_fake_time_moves_only_when_told():
    clock = FakeClock(START)
    assert clock.now() == START
    time.sleep(0.01)
    assert clock.now() == START
    assert clock.advance(90) == START + timedelta(seconds=90)
    clock.advance(timedelta(hours=1))
    assert clock.now() == START + timedelta(hours=1, seconds=90)
    clock.set(START + timedelta(days=1))
    assert clock.now() == START + timedelta(days=1)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        FakeClock(datetime(2027, 1, 1))


def test_fake_sleep_and_wait_move_time_instead_of_waiting():
    clock = FakeClock(START)
    started = time.monotonic()
    clock.sleep(3600)
    event = threading.Event()
    assert clock.wait(event, 600) is False
    assert time.monotonic() - started < 1.0
    assert clock.now() == START + timedelta(seconds=4200)
    event.set()
    assert clock.wait(event, 600) is True
    assert clock.now() == START + timedelta(seconds=4200), "a set event returns at once, no time passes"


def test_offset_clock_is_the_real_clock_shifted():
    clock = OffsetClock(timedelta(minutes=20))
    ahead = (clock.now() - datetime.now(timezone.utc)).total_seconds()
    assert 1190 < ahead <= 1200


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    loaded = load_config(path)
    open_db(loaded.database, create=True).conn.close()
    return loaded


def test_service_heartbeat_and_jobs_read_the_injected_clock(config):
    clock = FakeClock(START)
    service = Service(config, clock=clock)
    try:
        assert service.dispatcher.clock is clock and service.started_at == START
        clock.advance(30)
        service.heartbeat()
        db = service.dispatcher.db
        beat = json.loads(outbox.get_setting(db, HEARTBEAT_KEY))
        assert beat["started_at"] == "2027-03-01T08:00:00.000Z" and beat["at"] == "2027-03-01T08:00:30.000Z"
        # Fresh on the same clock, stale on one an hour later, whatever the machine's time is.
        assert heartbeat_state(db, clock=clock)["age_s"] == 0
        assert heartbeat_state(db, clock=FakeClock(START + timedelta(hours=1))) is None
        # A moment on our clock is handed to APScheduler as the same distance from the machine's now.
        real = service._machine_time(clock.now() + timedelta(seconds=10)) - datetime.now(timezone.utc)
        assert timedelta(seconds=9) < real <= timedelta(seconds=10)
    finally:
        service.dispatcher.shutdown(0)


def test_a_given_dispatcher_brings_its_clock_to_the_service(config):
    clock = FakeClock(START)
    dispatcher = Dispatcher(config, clock=clock)
    try:
        assert Service(config, dispatcher=dispatcher).clock is clock
        other = FakeClock(START + timedelta(days=1))
        assert Service(config, dispatcher=dispatcher, clock=other).clock is other and dispatcher.clock is other
    finally:
        dispatcher.shutdown(0)


def test_the_report_job_picks_its_period_from_the_dispatchers_clock(config):
    from planner.monitoring.jobs import LAST_REPORT_KEY, report_job

    clock = FakeClock(START)
    dispatcher = Dispatcher(config, clock=clock)
    try:
        report_job(config, dispatcher)  # no campaign: nothing written, the time of the check is stored
        row = dispatcher.db.execute("SELECT updated_at FROM settings WHERE key = ?", [LAST_REPORT_KEY]).fetchone()
        assert row[0] == "2027-03-01T08:00:00.000Z"
    finally:
        dispatcher.shutdown(0)
