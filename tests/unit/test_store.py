"""The SQLite store: migrations, pragmas, time format, one-transaction apply."""

from __future__ import annotations

import re
import sqlite3
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomlkit

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.errors import PlannerError
from planner.store import campaigns as store_campaigns
from planner.store.campaigns import apply_campaigns, published_content_ids
from planner.store.db import migrate, open_db, parse_utc, transaction, utc_iso
from planner.store.queries import STATE_ORDER, campaign_state_counts, queue_rows
from planner.store.schema import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
UTC_TEXT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


def dump(db) -> list[str]:
    return list(db.conn.iterdump())


# --- opening and migrating -------------------------------------------------------------------------

def test_new_database_is_migrated_and_recorded(tmp_path):
    db = open_db(tmp_path / "planner.db", create=True)
    names = [r[0] for r in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.__name__ for m in MIGRATIONS]
    assert {"campaigns", "content", "posts", "post_events", "settings"} <= set(db.table_names())
    for (applied_at,) in db.conn.execute("SELECT applied_at FROM _migrations"):
        assert UTC_TEXT.match(applied_at)


def test_migrations_apply_once(tmp_path):
    path = tmp_path / "planner.db"
    first = open_db(path, create=True)
    before = dump(first)
    assert migrate(first) == []
    second = open_db(path)
    assert migrate(second) == []
    assert dump(second) == before
    assert second.conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)


def test_a_missing_migration_is_applied_later(tmp_path, monkeypatch):
    from planner.store import db as db_module

    path = tmp_path / "planner.db"
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:1])
    open_db(path, create=True)
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    db = open_db(path)
    names = [r[0] for r in db.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert names == [m.__name__ for m in MIGRATIONS]


# History as English sentences (before m012_structured_history) and the code and parameters each becomes.
OLD_HISTORY = [
    ("attempt 3", "attempt", {"n": 3}),
    ("requeued by hand (was due 2027-02-01T02:00:00.000Z)", "requeued", {"due": "2027-02-01T02:00:00.000Z"}),
    ("not published within its grace period (due 2027-02-01T02:00:00.000Z)", "missed",
     {"due": "2027-02-01T02:00:00.000Z"}),
    ("blackout over: rescheduled to 2027-02-02T00:00:00.000Z", "blackout_over", {"due": "2027-02-02T00:00:00.000Z"}),
    ("reconciled: 2 of 3 thread parts are on the platform, queued again to post the rest", "reconciled_thread",
     {"live": 2, "total": 3}),
    ("pause: Hari berkabung (sari)", "paused", {"reason": "Hari berkabung (sari)"}),
    ("blackout: Masa tenang", "blackout", {"reason": "Masa tenang"}),
    ("reconnect needed: kpu_x", "reconnect_needed", {"account": "kpu_x"}),
    ("account reconnected: kpu_x", "reconnected", {"account": "kpu_x"}),
    ("edited: text, due_at", "edited", {"fields": "text, due_at"}),
    ("rejected: typo di paragraf 2", "rejected", {"reason": "typo di paragraf 2"}),
    ("cannot tell whether it was published: x: HTTP 500", "cannot_tell", {"detail": "x: HTTP 500"}),
    ("standby released: answer to alert 4 (playbook hoaks)", "standby_released", {"alert": 4, "playbook": "hoaks"}),
    ("x: 403 You are not allowed to create a Tweet with duplicate content.", "error",
     {"error": "x: 403 You are not allowed to create a Tweet with duplicate content."}),
]


def test_migration_gives_old_english_history_and_holds_codes(tmp_path, monkeypatch):
    """A database from before structured history: its English rows get codes and parameters once, are shown
    in the reader's language, and its held posts are released by the hold queries."""
    from zoneinfo import ZoneInfo

    from planner.domain.events import SENTENCES, Event, EventCode
    from planner.domain.post import HoldKind
    from planner.i18n import set_language
    from planner.i18n.events import describe, describe_hold
    from planner.store import db as db_module
    from planner.store.account_holds import release_reconnected
    from planner.store.outbox import release_held
    from planner.store.schema import m012_structured_history

    path = tmp_path / "planner.db"
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:MIGRATIONS.index(m012_structured_history)])
    old = open_db(path, create=True)
    old.conn.execute("INSERT INTO campaigns (id, name, timezone, start_at, end_at, spec, applied_at) "
                     "VALUES ('c', 'C', 'Asia/Jakarta', '2027-01-01T00:00:00.000Z', '2027-03-01T00:00:00.000Z', "
                     "'{}', '2027-01-01T00:00:00.000Z')")
    old.conn.execute("INSERT INTO content (campaign_id, id, spec) VALUES ('c', 'k', '{}')")
    holds = {1: "pause: Hari berkabung (sari)", 2: "blackout: Masa tenang", 3: "reconnect needed: kpu_x", 4: None}
    for post_id, reason in holds.items():
        old.conn.execute(
            "INSERT INTO posts (id, campaign_id, content_id, channel, platform, occurrence, idempotency_key, due_at, "
            "state, text, fingerprint, created_at, updated_at, hold_reason, retry_at) VALUES (?, 'c', 'k', 'kpu_x', "
            "'x', ?, ?, '2027-02-01T02:00:00.000Z', ?, 't', 'f', '2027-01-01T00:00:00.000Z', "
            "'2027-01-01T00:00:00.000Z', ?, ?)",
            [post_id, post_id, f"c:k:kpu_x:{post_id}", "held" if reason else "queued", reason,
             "2027-02-02T00:00:00.000Z" if post_id == 2 else None])
    plain = [(sentence, code.value, {}) for code, sentence in SENTENCES.items() if "{" not in sentence]
    rows = OLD_HISTORY + plain + [(None, None, None)]
    old.conn.executemany("INSERT INTO post_events (post_id, at, from_state, to_state, actor, detail) "
                         "VALUES (1, '2027-01-01T00:00:00.000Z', NULL, 'queued', 'test', ?)",
                         [[detail] for detail, _, _ in rows])
    assert "code" not in {c[1] for c in old.conn.execute("PRAGMA table_info(post_events)")}
    old.conn.close()

    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    db = open_db(path)
    stored = list(db.query("SELECT detail, code, params FROM post_events ORDER BY id"))
    assert len(stored) == len(rows)
    for (detail, code, params), row in zip(rows, stored):
        assert row["detail"] == detail, row  # the English sentence stays, for people and logs
        assert row["code"] == code, row
        if code is not None:
            what = Event.stored(row["code"], row["params"])
            assert what.params == params and what.sentence == detail, row

    zone = ZoneInfo("Asia/Jakarta")
    shown = {row["detail"]: row for row in stored}
    set_language("id")
    try:
        assert describe(shown["attempt 3"], zone) == "percobaan ke-3"
        assert "Senin, 1 Februari 2027 09.00 WIB" in describe(shown[OLD_HISTORY[1][0]], zone)
        assert describe(shown["pause: Hari berkabung (sari)"], zone) == (
            "ditahan karena penerbitan dihentikan: Hari berkabung (sari)")
        assert describe(shown[OLD_HISTORY[-1][0]], zone).startswith("x: 403")
        assert describe(shown[None], zone) == ""
        posts = {r["id"]: r for r in db.query("SELECT * FROM posts")}
        assert [(posts[i]["hold_kind"], posts[i]["hold_detail"]) for i in (1, 2, 3, 4)] == [
            ("pause", "Hari berkabung (sari)"), ("blackout", "Masa tenang"), ("reconnect", "kpu_x"), (None, None)]
        assert describe_hold(posts[2], zone) == "ditahan karena masa jeda: Masa tenang"
        set_language("en")
        assert describe(shown["attempt 3"], zone) == "attempt 3"
        assert describe(shown["canceled by hand"], zone) == "canceled by staff"
        assert describe_hold(posts[3], zone) == "the account must be connected again: planner account connect kpu_x"
    finally:
        set_language("id")

    assert release_held(db, now=NOW, actor="test", kind=HoldKind.PAUSE, what=Event(EventCode.RESUMED)) == [1]
    assert release_reconnected(db, "kpu_x", now=NOW, actor="test") == [3]
    assert db.execute("SELECT state, hold_kind FROM posts WHERE id = 2").fetchone() == ("held", "blackout")


def _open_at_once(path: Path, count: int = 4) -> list[Exception]:
    barrier = threading.Barrier(count)
    errors: list[Exception] = []

    def opener():
        try:
            barrier.wait()
            open_db(path, create=True).conn.close()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_two_processes_migrating_at_once_apply_each_migration_once(tmp_path, monkeypatch):
    from planner.store import db as db_module

    path = tmp_path / "planner.db"
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS[:1])
    open_db(path, create=True).conn.close()
    monkeypatch.setattr(db_module, "MIGRATIONS", MIGRATIONS)
    for _ in range(5):
        assert _open_at_once(path) == []
    conn = sqlite3.connect(path)
    rows = [r[0] for r in conn.execute("SELECT name FROM _migrations")]
    assert sorted(rows) == sorted(m.__name__ for m in MIGRATIONS)


def test_creating_a_new_database_from_two_processes_at_once(tmp_path):
    for i in range(30):
        errors = _open_at_once(tmp_path / f"baru-{i}.db")
        assert errors == [], [getattr(e, "params", e) for e in errors]


def test_wal_and_foreign_keys(tmp_path):
    db = open_db(tmp_path / "planner.db", create=True)
    assert db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    with pytest.raises(sqlite3.IntegrityError):
        db.conn.execute(
            "INSERT INTO content (campaign_id, id, spec) VALUES ('tidak-ada', 'x', '{}')")


def test_opening_an_existing_database_twice(tmp_path):
    path = tmp_path / "planner.db"
    open_db(path, create=True).conn.close()
    one, two = open_db(path), open_db(path)
    with transaction(one):
        one.conn.execute("INSERT INTO settings VALUES ('paused', '1', ?)", [utc_iso(NOW)])
    assert two.conn.execute("SELECT value FROM settings WHERE key = 'paused'").fetchone() == ("1",)
    readonly = open_db(path, readonly=True)
    assert readonly.conn.execute("SELECT COUNT(*) FROM settings").fetchone() == (1,)
    with pytest.raises(sqlite3.OperationalError):
        readonly.conn.execute("DELETE FROM settings")


def test_missing_database_without_create(tmp_path):
    with pytest.raises(PlannerError) as caught:
        open_db(tmp_path / "tidak-ada.db")
    assert caught.value.key == "store.not_found"
    assert "planner init" in caught.value.render()
    assert not (tmp_path / "tidak-ada.db").exists()


@pytest.mark.parametrize("content", [b"ini bukan basis data SQLite, hanya teks biasa" * 50, b"\x00\xff" * 4096])
def test_not_a_sqlite_file_is_a_planner_error(tmp_path, content):
    path = tmp_path / "planner.db"
    path.write_bytes(content)
    with pytest.raises(PlannerError) as caught:
        open_db(path)
    assert caught.value.key == "store.unreadable"
    assert str(path) in caught.value.render()
    assert path.read_bytes() == content  # left as it was


# --- time format -----------------------------------------------------------------------------------

def test_utc_iso_format():
    assert utc_iso(datetime(2027, 2, 1, 9, 0, 5, 123999, tzinfo=ZoneInfo("Asia/Jakarta"))) == \
        "2027-02-01T02:00:05.123Z"
    assert utc_iso(datetime(2027, 1, 1, 5, 0, tzinfo=ZoneInfo("Asia/Jayapura"))) == "2026-12-31T20:00:00.000Z"
    with pytest.raises(ValueError):
        utc_iso(datetime(2027, 2, 1, 9, 0))


def test_utc_iso_round_trips_at_millisecond_precision():
    moment = datetime(2027, 3, 28, 1, 30, 0, 456000, tzinfo=timezone.utc)
    assert parse_utc(utc_iso(moment)) == moment


def test_utc_text_sorts_like_time():
    moments = [datetime(2027, 1, 1, tzinfo=timezone.utc) + timedelta(hours=h * 7, milliseconds=h)
               for h in range(50)]
    assert sorted(utc_iso(m) for m in moments) == [utc_iso(m) for m in moments]


# --- applying campaigns ------------------------------------------------------------------------------

@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    return tmp_path


def make_campaign(workdir: Path, campaign_id: str, contents: list[dict] | None = None):
    config = load_config(workdir / "config.toml")
    doc = {
        "campaign": {"id": campaign_id, "name": f"Kampanye {campaign_id}", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan"},
        "content": contents or [
            {"id": "satu", "text": "Satu", "at": datetime(2027, 2, 2, 9, 0)},
            {"id": "dua", "text": "Dua, pekan ke-{ke}", "at": datetime(2027, 2, 3, 9, 0),
             "repeat": {"every": "7d", "times": 3}},
        ],
    }
    file = workdir / f"{campaign_id}.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    return loaded.campaign, desired_posts(loaded.campaign, file, config), str(file)


def test_apply_writes_campaign_content_and_one_row_per_occurrence(workdir):
    db = open_db(workdir / "planner.db", create=True)
    batch = [make_campaign(workdir, "kampanye-a")]
    [plan] = apply_campaigns(db, batch, approval_required=False, actor="uji")
    assert plan.new_campaign and len(plan.added) == 2 * (1 + 3) and not plan.changed
    assert db.conn.execute("SELECT COUNT(*) FROM campaigns").fetchone() == (1,)
    assert [r[0] for r in db.conn.execute("SELECT id FROM content ORDER BY id")] == ["dua", "satu"]
    rows = list(db.query("SELECT * FROM posts ORDER BY content_id, channel, occurrence"))
    assert len(rows) == 8
    assert {(r["content_id"], r["occurrence"]) for r in rows} == {("satu", 0), ("dua", 0), ("dua", 1), ("dua", 2)}
    assert {r["state"] for r in rows} == {"queued"}
    assert len({r["idempotency_key"] for r in rows}) == 8
    dua = [r["due_at"] for r in rows if r["content_id"] == "dua" and r["channel"] == "kpu_x"]
    assert dua == ["2027-02-03T01:00:00.000Z", "2027-02-10T01:00:00.000Z", "2027-02-17T01:00:00.000Z"]  # 09:00 WITA
    assert db.conn.execute("SELECT COUNT(*) FROM post_events WHERE to_state = 'queued'").fetchone() == (8,)


def test_every_stored_time_is_utc_text_ending_in_z(workdir):
    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji")
    checked = 0
    for table, columns in {"campaigns": ("start_at", "end_at", "applied_at"),
                           "posts": ("due_at", "created_at", "updated_at"), "post_events": ("at",)}.items():
        for column in columns:
            for (value,) in db.conn.execute(f"SELECT {column} FROM {table}"):
                assert UTC_TEXT.match(value), (table, column, value)
                checked += 1
    assert checked > 20
    start, end = db.conn.execute("SELECT start_at, end_at FROM campaigns").fetchone()
    assert (start, end) == ("2027-01-31T16:00:00.000Z", "2027-02-28T15:59:59.999Z")  # whole days in WITA


def test_approval_required_starts_pending(workdir):
    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=True, actor="uji")
    assert {r[0] for r in db.conn.execute("SELECT state FROM posts")} == {"pending_approval"}


def test_dry_run_writes_nothing(workdir):
    db = open_db(workdir / "planner.db", create=True)
    before = dump(db)
    [plan] = apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji",
                             dry_run=True)
    assert len(plan.added) == 8
    assert dump(db) == before
    assert not db.conn.in_transaction


def test_reapplying_the_same_campaign_changes_nothing(workdir):
    db = open_db(workdir / "planner.db", create=True)
    batch = [make_campaign(workdir, "kampanye-a")]
    apply_campaigns(db, batch, approval_required=False, actor="uji")
    before = dump(db)
    [plan] = apply_campaigns(db, batch, approval_required=False, actor="orang-lain")
    assert (plan.added, plan.changed, plan.canceled, plan.unchanged) == ([], [], [], 8)
    assert not plan.new_campaign
    assert dump(db) == before


def test_a_failure_midway_writes_nothing(workdir):
    db = open_db(workdir / "planner.db", create=True)
    batch = [make_campaign(workdir, "kampanye-a"), make_campaign(workdir, "kampanye-b")]
    # A real failure inside the second campaign's writes (as a full disk would raise), no mocking.
    db.conn.execute("""CREATE TRIGGER fail_second BEFORE INSERT ON posts WHEN NEW.campaign_id = 'kampanye-b'
                       BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END""")
    before = dump(db)
    with pytest.raises(sqlite3.DatabaseError):
        apply_campaigns(db, batch, approval_required=False, actor="uji")
    assert dump(db) == before
    assert not db.conn.in_transaction


def test_edit_publish_cancel(workdir):
    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji")
    db.conn.execute("UPDATE posts SET state = 'published' WHERE content_id = 'satu' AND channel = 'kpu_x'")
    db.conn.execute("UPDATE posts SET state = 'held' WHERE content_id = 'satu' AND channel = 'kpu_telegram'")
    published_before = dict(next(db.query("SELECT * FROM posts WHERE state = 'published'")))
    assert published_content_ids(db, "kampanye-a") == {"satu"}
    edited = make_campaign(workdir, "kampanye-a", [
        {"id": "satu", "text": "Satu, diperbaiki", "at": datetime(2027, 2, 2, 9, 0)},
    ])
    [plan] = apply_campaigns(db, [edited], approval_required=False, actor="uji")
    assert [(e.content_id, e.channel) for e in plan.published_kept] == [("satu", "kpu_x")]
    assert [(e.content_id, e.channel, e.changes) for e in plan.changed] == [("satu", "kpu_telegram", ("text",))]
    assert sorted((e.content_id, e.channel) for e in plan.canceled) == sorted(
        ("dua", c) for c in ("kpu_x", "kpu_telegram") for _ in range(3))
    assert dict(next(db.query("SELECT * FROM posts WHERE state = 'published'"))) == published_before
    held = next(db.query("SELECT * FROM posts WHERE content_id = 'satu' AND channel = 'kpu_telegram'"))
    assert held["state"] == "held" and held["text"] == "Satu, diperbaiki"
    assert db.conn.execute("SELECT removed_at IS NOT NULL FROM content WHERE id = 'dua'").fetchone() == (1,)
    assert campaign_state_counts(db, "kampanye-a") == {"held": 1, "published": 1, "canceled": 6}
    # Putting the content back restores the canceled posts as new ones.
    [plan] = apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji")
    assert len(plan.added) == 6
    assert db.conn.execute("SELECT removed_at FROM content WHERE id = 'dua'").fetchone() == (None,)


def test_in_flight_posts_are_left_alone(workdir):
    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji")
    db.conn.execute("UPDATE posts SET state = 'publishing' WHERE content_id = 'satu' AND channel = 'kpu_x'")
    row = dict(next(db.query("SELECT * FROM posts WHERE state = 'publishing'")))
    edited = make_campaign(workdir, "kampanye-a", [{"id": "lain", "text": "x", "at": datetime(2027, 2, 5, 9)}])
    [plan] = apply_campaigns(db, [edited], approval_required=False, actor="uji")
    assert [(e.content_id, e.channel) for e in plan.in_flight] == [("satu", "kpu_x")]
    assert dict(next(db.query("SELECT * FROM posts WHERE id = ?", [row["id"]]))) == row


def test_a_partly_live_thread_is_saved_under_the_lease_kept_by_apply_and_never_missed(workdir):
    from planner.store import outbox

    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a")], approval_required=False, actor="uji")
    due = parse_utc(db.execute("SELECT MIN(due_at) FROM posts").fetchone()[0])
    [claimed] = outbox.claim_due(db, owner="w1", now=due, lease=timedelta(minutes=2), limit=1)
    later = due + timedelta(minutes=5)
    assert not outbox.record_thread_parts(db, claimed.id, "w2", state="publishing", parts=["9"], lease_until=later)
    assert outbox.record_thread_parts(db, claimed.id, "w1", state="publishing", parts=["7", "8"], lease_until=later)
    row = next(db.query("SELECT thread_ids, lease_until FROM posts WHERE id = ?", [claimed.id]))
    assert row == {"thread_ids": '["7", "8"]', "lease_until": utc_iso(later)}  # progress renews the lease
    outbox.mark_retry(db, claimed, "w1", now=due, retry_at=due, error="5xx on part 3")
    [again] = outbox.claim_due(db, owner="w1", now=due, lease=timedelta(minutes=2), limit=1)
    assert again.id == claimed.id and again.parts_done == ("7", "8")
    outbox.mark_retry(db, again, "w1", now=due, retry_at=due, error="5xx on part 3")

    # Days later: the plain posts are missed, the thread that is half out is not; apply keeps its text.
    missed = outbox.mark_missed(db, now=due + timedelta(days=60), default_grace=timedelta(hours=2), actor="uji")
    assert claimed.id not in missed and missed
    edited = make_campaign(workdir, "kampanye-a", [{"id": "lain", "text": "x", "at": datetime(2027, 2, 5, 9)}])
    [plan] = apply_campaigns(db, [edited], approval_required=False, actor="uji")
    assert claimed.id in {r["id"] for r in db.query("SELECT id FROM posts WHERE state = 'failed_retryable'")}
    assert any(e.content_id == again.content_id and e.channel == again.channel for e in plan.published_kept)


# --- queries ---------------------------------------------------------------------------------------------

def test_queue_rows_filters(workdir):
    db = open_db(workdir / "planner.db", create=True)
    apply_campaigns(db, [make_campaign(workdir, "kampanye-a"), make_campaign(workdir, "kampanye-b")],
                    approval_required=False, actor="uji")
    db.conn.execute("UPDATE posts SET state = 'published' WHERE campaign_id = 'kampanye-b' AND content_id = 'satu'")
    everything = queue_rows(db, campaign=None, start=None, end=None, states=[], limit=1000)
    assert len(everything) == 16
    assert [r["due_at"] for r in everything] == sorted(r["due_at"] for r in everything)
    only_a = queue_rows(db, campaign="kampanye-a", start=None, end=None, states=[], limit=1000)
    assert {r["campaign_id"] for r in only_a} == {"kampanye-a"} and len(only_a) == 8
    window = queue_rows(db, campaign=None, start="2027-02-03T01:00:00.000Z", end="2027-02-10T01:00:00.000Z",
                        states=[], limit=1000)
    assert {r["due_at"] for r in window} == {"2027-02-03T01:00:00.000Z"}  # start inclusive, end exclusive
    published = queue_rows(db, campaign=None, start=None, end=None, states=["published"], limit=1000)
    assert {(r["campaign_id"], r["content_id"]) for r in published} == {("kampanye-b", "satu")}
    assert len(queue_rows(db, campaign=None, start=None, end=None, states=[], limit=3)) == 3
    assert list(campaign_state_counts(db)) == [s for s in STATE_ORDER if s in ("queued", "published")]
    assert campaign_state_counts(db) == {"queued": 14, "published": 2}


def test_opening_the_database_again_keeps_this_process_locks(tmp_path):
    """Each dispatcher thread opens its own connection. Opening must not read the file with open()/close():
    closing any descriptor drops this process's POSIX locks on it, and another process's close then
    checkpoints and deletes the WAL under us (committed rows lost, 'disk I/O error')."""
    import subprocess
    import sys

    from planner.store.db import open_db, transaction

    path = tmp_path / "planner.db"
    db = open_db(path, create=True)
    with transaction(db) as conn:
        conn.execute("INSERT INTO settings VALUES ('a', '1', 'x')")
    open_db(path)  # a second connection in this process, as each publishing thread opens
    peek = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute('select key from settings order by key').fetchall()); c.close()"
    subprocess.run([sys.executable, "-c", peek, str(path)], check=True, capture_output=True)
    with transaction(db) as conn:
        conn.execute("INSERT INTO settings VALUES ('b', '2', 'x')")
    seen = subprocess.run([sys.executable, "-c", peek, str(path)], capture_output=True, text=True)
    assert seen.stdout.strip() == "[('a',), ('b',)]", seen.stdout + seen.stderr
