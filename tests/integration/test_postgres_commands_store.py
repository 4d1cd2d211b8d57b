"""What the commands need of the store beyond its tables, on PostgreSQL as on SQLite (issue 15): answers whose
SQL differs between the backends, the scheduler's single-instance lock, and errors said plainly."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.platforms.base import Mention
from planner.store import mentions, metrics
from planner.store.backend import connect_database, database_label, database_present, open_configured
from planner.store.campaigns import apply_campaigns
from planner.store.db import database_error_message, is_database_error, open_db, transaction, utc_iso
from planner.store.instance_lock import SchedulerLock

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    return load_config(path)


def _both(config, postgres_url):
    """A database with one campaign of two posts (ids 1 and 2), on each backend."""
    doc = {"campaign": {"id": "k", "name": "K", "timezone": "Asia/Jakarta", "start": date(2027, 2, 1),
                        "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
           "goal": {"objective": "Tujuan"},
           "content": [{"id": "satu", "text": "Satu", "at": datetime(2027, 2, 2, 9, 0)}]}
    file = config.path.parent / "k.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    batch = [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))]
    for db in (open_db(config.path.parent / "planner.db", create=True), connect_database(postgres_url)):
        apply_campaigns(db, batch, approval_required=False, actor="uji")
        yield db


def test_latest_metrics_as_of_a_time_and_mentions_by_post_answer_alike(config, postgres_url):
    answers = []
    for db in _both(config, postgres_url):
        with transaction(db) as conn:
            for post_id, metric, value, hours in [(1, "likes", 3, 1), (1, "likes", 7, 2), (1, "likes", 9, 5),
                                                  (1, "reposts", 1, 1), (2, "likes", 4, 3)]:
                conn.execute("INSERT INTO metric_snapshots (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?)",
                             [post_id, utc_iso(NOW + timedelta(hours=hours)), metric, value])
        # One X post found for two keywords is stored twice: listed once, with both keywords.
        found = [Mention("x", "111", "cek DPT", "baru", "budi", None, NOW + timedelta(minutes=5)),
                 Mention("x", "111", "DPT Demak", "baru", "budi", None, NOW + timedelta(minutes=5)),
                 Mention("mastodon", "222", "cek DPT", "satu", "citra", None, NOW + timedelta(minutes=1))]
        new = mentions.record(db, "k", found, now=NOW)
        again = mentions.record(db, "k", found[:2], now=NOW)
        answers.append((dict(metrics.latest(db, "k", until=NOW + timedelta(hours=2, minutes=30))),
                        mentions.listing_by_post(db, campaign="k"), new, again))
    sqlite, postgres = answers
    assert postgres == sqlite
    assert sqlite[0] == {1: {"likes": 7, "reposts": 1}}  # the newest value up to that time, per metric
    by_post = sqlite[1]
    assert [(r["platform"], r["author"], r["text"]) for r in by_post] == [("x", "budi", "baru"),
                                                                           ("mastodon", "citra", "satu")]
    assert sorted(by_post[0]["keywords"].split(",")) == ["DPT Demak", "cek DPT"]
    assert sqlite[2:] == (3, 0)


def test_one_scheduler_per_postgresql_database_wherever_it_runs(config, postgres_url):
    on_pg = dataclasses.replace(config, database_url=postgres_url)
    first, second = SchedulerLock(on_pg), SchedulerLock(on_pg)
    assert first.acquire()
    try:
        assert not second.acquire()
        assert "PostgreSQL" in second.refusal().render()
        assert not list(config.path.parent.glob("*.lock"))  # no file stands in for it
    finally:
        first.release()
    assert second.acquire()  # freed with the session
    second.release()


def test_the_sqlite_scheduler_lock_is_the_file_beside_the_database(config):
    first, second = SchedulerLock(config), SchedulerLock(config)
    assert first.acquire()
    try:
        assert not second.acquire()
        assert (config.path.parent / "planner.db.lock").exists()
        assert second.refusal().key == "run.locked"
    finally:
        first.release()


def test_postgresql_errors_are_database_errors_said_without_the_password(config, postgres_url):
    import psycopg

    on_pg = dataclasses.replace(config, database_url=postgres_url)
    assert database_present(on_pg)
    db = open_configured(on_pg)
    try:
        with pytest.raises(psycopg.Error) as caught:
            db.execute("SELECT no_such_column FROM posts")
    finally:
        db.close()
    assert is_database_error(caught.value)
    with_password = postgres_url.replace("planner@", "planner:rahasia@")
    said = database_error_message(caught.value, with_password)
    assert "no_such_column" in said and "rahasia" not in said and "***" in said
    lost = database_error_message(psycopg.OperationalError("server closed the connection unexpectedly"), postgres_url)
    assert "terputus" in lost
    assert database_label(with_password) == with_password.replace("rahasia", "***")
    assert not is_database_error(ValueError("x"))


def test_a_writer_kept_waiting_on_postgresql_is_told_which_scheduler_holds_the_lock(config, postgres_url):
    import socket

    from planner.errors import PlannerError
    from planner.store import heartbeat
    from planner.store.postgres import WRITE_LOCK_KEY

    holder, waiter = connect_database(postgres_url), connect_database(postgres_url)
    now = datetime.now(timezone.utc)
    heartbeat.beat(holder, owner="o", pid=4242, host=socket.gethostname(), started_at=now, now=now)
    waiter.raw.execute("SET lock_timeout = 300")
    try:
        with transaction(holder):
            with pytest.raises(PlannerError) as caught:
                with transaction(waiter):
                    pass
        assert caught.value.key == "store.locked_by_scheduler" and caught.value.params["pid"] == 4242
        with transaction(waiter):  # free again once the holder committed
            waiter.execute("SELECT pg_advisory_xact_lock(?)", [WRITE_LOCK_KEY])
    finally:
        holder.close()
        waiter.close()
