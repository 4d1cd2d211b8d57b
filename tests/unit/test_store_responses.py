"""The store functions behind `planner respond`, the staff chat and the readiness check, on a real SQLite file."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlite_utils

from planner.domain.events import EventCode, event
from planner.domain.post import Action, PostState, target
from planner.store import alert_notices, campaigns, posts, responses, text_limits
from planner.store.db import open_db, utc_iso

NOW = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
FAR = "2099-01-01T00:00:00.000Z"
EVENT = event(EventCode.STANDBY_RELEASED, alert=1, playbook="hoaks")


@pytest.fixture
def db(tmp_path):
    database = open_db(tmp_path / "planner.db", create=True)
    conn = database.conn
    conn.execute("INSERT INTO campaigns (id, name, timezone, start_at, end_at, spec, applied_at) "
                 "VALUES ('c1', 'Siaga', 'Asia/Jakarta', ?, ?, ?, ?)",
                 [utc_iso(NOW), utc_iso(NOW + timedelta(days=30)), json.dumps({"responses": [{"id": "hoaks"}]}),
                  utc_iso(NOW)])
    for content_id, text in (("answer", "Klarifikasi: bansos tidak dipungut biaya."), ("other", "Info lain")):
        conn.execute("INSERT INTO content (campaign_id, id, text, spec) VALUES ('c1', ?, ?, '{}')", [content_id, text])
    conn.execute("INSERT INTO alerts (campaign_id, keyword, at, window_count, baseline, detail) "
                 "VALUES ('c1', 'bansos', ?, 52, 3.0, '{}')", [utc_iso(NOW - timedelta(minutes=5))])
    return database


def add_post(db, channel: str, state: str, *, content_id: str = "answer", standby: int = 1, occurrence: int = 0,
             due_at: str = FAR, retry_at: str | None = None) -> int:
    cursor = db.conn.execute(
        "INSERT INTO posts (campaign_id, content_id, channel, platform, occurrence, idempotency_key, due_at, state, "
        "text, fingerprint, created_at, updated_at, standby, retry_at) "
        "VALUES ('c1', ?, ?, 'mastodon', ?, ?, ?, ?, 'teks', 'f', ?, ?, ?, ?)",
        [content_id, channel, occurrence, f"c1:{content_id}:{channel}:{occurrence}", due_at, state, utc_iso(NOW),
         utc_iso(NOW), standby, retry_at])
    return cursor.lastrowid


def open_answer(db, channels=(), actor="ani", now=NOW, via=None):
    return responses.open(db, 1, campaign_id="c1", playbook="hoaks", content_id="answer", channels=channels,
                          actor=actor, now=now, event=EVENT, via=via)


def audit_rows(db, action: str) -> list[dict]:
    return list(db.query("SELECT * FROM audit_log WHERE action = ?", [action]))


# --- the lifecycle's move -------------------------------------------------------------------------------
def test_release_standby_keeps_the_state_and_is_allowed_only_before_sending():
    assert target(Action.RELEASE_STANDBY, PostState.QUEUED) is PostState.QUEUED
    assert target(Action.RELEASE_STANDBY, PostState.PENDING_APPROVAL) is PostState.PENDING_APPROVAL
    for state in ("draft", "published", "canceled", "held", "publishing"):
        assert target(Action.RELEASE_STANDBY, state) is None


# --- opening a response ---------------------------------------------------------------------------------
def test_open_releases_the_standby_posts_due_now_with_history_and_audit(db):
    queued = add_post(db, "masto", "queued")
    waiting = add_post(db, "tele", "pending_approval")
    opened = open_answer(db, via={"channel": "telegram"})
    assert (opened.released, opened.queued, opened.waiting, opened.skipped, opened.already) == \
        ([queued, waiting], [queued], [waiting], [], False)
    for post_id, state in ((queued, "queued"), (waiting, "pending_approval")):
        row = posts.get(db, post_id)
        assert (row["state"], row["standby"], row["due_at"]) == (state, 0, utc_iso(NOW))
        event = list(db.query("SELECT * FROM post_events WHERE post_id = ? ORDER BY id DESC LIMIT 1", [post_id]))[0]
        assert (event["from_state"], event["to_state"], event["actor"], event["detail"]) == (
            state, state, "ani", "standby released: answer to alert 1 (playbook hoaks)")
    assert db.execute("SELECT post_id, response_id FROM response_posts ORDER BY post_id").fetchall() == \
        [(queued, opened.response_id), (waiting, opened.response_id)]
    row = list(db.query("SELECT * FROM responses"))[0]
    assert (row["alert_id"], row["playbook"], row["content_id"], row["requested_by"], row["requested_at"]) == \
        (1, "hoaks", "answer", "ani", utc_iso(NOW))
    [entry] = audit_rows(db, "response.request")
    assert (entry["subject"], json.loads(entry["detail"])) == \
        ("alert:1", {"playbook": "hoaks", "content": "answer", "released": [queued, waiting],
                     "waiting_approval": [waiting], "via": {"channel": "telegram"}})


def test_open_only_on_the_playbook_channels_and_skips_what_is_not_releasable(db):
    wanted = add_post(db, "masto", "queued")
    add_post(db, "x", "queued")                              # not a channel of the playbook
    used = add_post(db, "tele", "published", standby=0)      # released before
    draft = add_post(db, "bsky", "draft")                    # standby, but not approved or sent for approval
    add_post(db, "masto", "queued", occurrence=1)            # not the first occurrence
    opened = open_answer(db, channels=("masto", "tele", "bsky"))
    assert opened.released == [wanted]
    assert opened.skipped == [(used, "published"), (draft, "draft")]
    assert posts.get(db, draft)["standby"] == 1


def test_a_second_open_releases_nothing_more(db):
    first_post = add_post(db, "masto", "queued")
    first = open_answer(db)
    add_post(db, "tele", "queued")
    again = open_answer(db, actor="budi", now=NOW + timedelta(minutes=1))
    assert (again.response_id, again.content_id, again.released, again.already) == \
        (first.response_id, "answer", [first_post], True)
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 1
    assert len(audit_rows(db, "response.request")) == 1


def test_an_answer_that_releases_nothing_leaves_no_response_but_is_audited(db):
    add_post(db, "masto", "canceled")
    opened = open_answer(db)
    assert opened.released == [] and not opened.already
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] == 0
    assert json.loads(audit_rows(db, "response.request")[0]["detail"])["released"] == []


def test_release_standby_is_guarded_on_the_state_it_was_read_in(db):
    post_id = add_post(db, "masto", "queued")
    stale = posts.get(db, post_id)
    db.conn.execute("UPDATE posts SET state = 'canceled' WHERE id = ?", [post_id])
    assert posts.release_standby(db.conn, stale, now=NOW, actor="ani", what=EVENT) is False
    assert (posts.get(db, post_id)["state"], posts.get(db, post_id)["standby"]) == ("canceled", 1)


# --- alerts and mentions --------------------------------------------------------------------------------
def add_mention(db, n: int, created: datetime, keyword: str = "bansos") -> None:
    db.conn.execute("INSERT INTO mentions (campaign_id, platform, platform_id, keyword, text, created_at, seen_at) "
                    "VALUES ('c1', 'mastodon', ?, ?, ?, ?, ?)",
                    [str(n), keyword, f"sebutan {n}", utc_iso(created), utc_iso(created)])


def test_alert_mentions_are_the_newest_in_the_window_up_to_the_alert(db):
    alert = responses.alert(db, 1)
    at = NOW - timedelta(minutes=5)
    add_mention(db, 1, at - timedelta(hours=2))              # before the window
    add_mention(db, 2, at - timedelta(minutes=50))
    add_mention(db, 3, at - timedelta(minutes=10))
    add_mention(db, 4, at)                                   # the alert's own time counts
    add_mention(db, 5, at + timedelta(seconds=1))            # after the alert
    add_mention(db, 6, at - timedelta(minutes=1), keyword="lain")
    found = responses.alert_mentions(db, alert, window=timedelta(hours=1), limit=2)
    assert [m["text"] for m in found] == ["sebutan 4", "sebutan 3"]
    assert responses.mention_count(db, "c1", "bansos", at - timedelta(hours=1), at) == 2
    assert responses.latest_alert_id(db, "c1", "bansos") == 1
    assert responses.latest_alert_id(db, "c1", "lain") is None
    assert responses.alert(db, 99) is None


# --- measuring and reporting ----------------------------------------------------------------------------
def test_times_links_and_the_one_report_of_a_fully_published_answer(db):
    one, two = add_post(db, "masto", "queued"), add_post(db, "tele", "queued")
    alert_notices.record_sent(db, 1, playbook="hoaks", content_id="answer", chat_message_id=7,
                              now=NOW - timedelta(minutes=4))
    opened = open_answer(db)
    db.conn.execute("UPDATE posts SET state = 'published', published_at = ?, url = 'https://m/1' WHERE id = ?",
                    [utc_iso(NOW + timedelta(seconds=30)), one])
    assert responses.fully_published_unreported(db) == []
    db.conn.execute("UPDATE posts SET state = 'published', published_at = ? WHERE id = ?",
                    [utc_iso(NOW + timedelta(seconds=90)), two])
    times = responses.times(db, opened.response_id)
    assert times == {"alert_id": 1, "detected_at": utc_iso(NOW - timedelta(minutes=5)),
                     "alert_sent_at": utc_iso(NOW - timedelta(minutes=4)), "requested_at": utc_iso(NOW),
                     "approved_at": None, "first_published_at": utc_iso(NOW + timedelta(seconds=30)),
                     "last_published_at": utc_iso(NOW + timedelta(seconds=90)), "published": 2, "posts": 2}
    assert responses.links(db, opened.response_id) == [("masto", "https://m/1"), ("tele", None)]
    assert [p["channel"] for p in responses.channel_posts(db, opened.response_id)] == ["masto", "tele"]
    assert responses.fully_published_unreported(db) == [(opened.response_id, 1)]
    assert responses.mark_links_sent(db, opened.response_id, now=NOW) is True
    assert responses.mark_links_sent(db, opened.response_id, now=NOW) is False
    assert responses.fully_published_unreported(db) == []


def test_of_campaign_by_alert_time_and_none_before_responses_existed(db, tmp_path):
    add_post(db, "masto", "queued")
    opened = open_answer(db)
    assert responses.of_campaign(db, "c1") == \
        [{"id": opened.response_id, "keyword": "bansos", "playbook": "hoaks", "content_id": "answer"}]
    assert responses.of_campaign(db, "c1", start=NOW) == []
    assert responses.of_campaign(db, "c1", end=NOW - timedelta(minutes=5)) == []
    assert len(responses.of_campaign(db, "c1", NOW - timedelta(minutes=5), NOW)) == 1
    old = sqlite_utils.Database(tmp_path / "old.db")
    old["posts"].insert({"id": 1})
    assert responses.of_campaign(old, "c1") is None


# --- alert notices --------------------------------------------------------------------------------------
def test_alert_notice_first_sending_counts_and_ignoring_is_audited(db):
    alert_notices.record_sent(db, 1, playbook="hoaks", content_id="answer", chat_message_id=7, now=NOW)
    alert_notices.record_sent(db, 1, playbook=None, content_id=None, chat_message_id=8, now=NOW + timedelta(hours=1))
    notice = alert_notices.get(db, 1)
    assert (notice["sent_at"], notice["chat_message_id"], notice["playbook"], notice["ignored_by"]) == \
        (utc_iso(NOW), 7, "hoaks", None)
    alert_notices.ignore(db, 1, actor="budi", now=NOW, via={"telegram_id": 5})
    assert alert_notices.get(db, 1)["ignored_by"] == "budi"
    [entry] = audit_rows(db, "response.ignore")
    assert (entry["actor"], entry["subject"], json.loads(entry["detail"])) == \
        ("budi", "alert:1", {"via": {"telegram_id": 5}})


# --- posts and campaigns read for these -----------------------------------------------------------------
def test_due_before_takes_the_retry_time_and_the_given_states(db):
    soon = add_post(db, "masto", "queued", content_id="other", standby=0, due_at=utc_iso(NOW + timedelta(hours=1)))
    add_post(db, "tele", "queued", content_id="other", standby=0, due_at=utc_iso(NOW + timedelta(hours=30)))
    retry = add_post(db, "x", "failed_retryable", content_id="other", standby=0,
                     due_at=utc_iso(NOW - timedelta(hours=1)), retry_at=utc_iso(NOW + timedelta(hours=2)))
    add_post(db, "bsky", "published", content_id="other", standby=0, due_at=utc_iso(NOW))
    found = posts.due_before(db, NOW + timedelta(hours=24), states=("queued", "failed_retryable"))
    assert [r["id"] for r in found] == [retry, soon]
    assert set(found[0]) == {"id", "channel", "platform", "state", "due_at", "media", "hold_kind", "hold_detail"}
    assert posts.due_before(db, NOW + timedelta(hours=1, minutes=30), states=("failed_retryable",)) == []


def test_get_many_by_id_and_stored_campaign_texts(db):
    b, a = add_post(db, "masto", "queued"), add_post(db, "tele", "queued")
    assert [r["id"] for r in posts.get_many(db, [a, 999, b])] == sorted([a, b])
    assert posts.get_many(db, []) == []
    assert campaigns.content_text(db, "c1", "answer") == "Klarifikasi: bansos tidak dipungut biaya."
    assert campaigns.content_text(db, "c1", "nope") is None
    assert json.loads(campaigns.stored_spec(db, "c1")) == {"responses": [{"id": "hoaks"}]}
    assert campaigns.stored_spec(db, "nope") is None


# --- text limits ----------------------------------------------------------------------------------------
def test_text_limits_remembered_forgotten_and_read_from_the_file(db, tmp_path):
    text_limits.remember(db, "masto", 1000, now=NOW)
    text_limits.remember(db, "other", 800, now=NOW)
    db.conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('text_limit:broken', 'x', ?)",
                    [utc_iso(NOW)])
    assert text_limits.remembered(db) == {"masto": 1000, "other": 800}
    text_limits.remember(db, "other", None, now=NOW)
    assert text_limits.remembered(db) == {"masto": 1000}
    path = tmp_path / "planner.db"
    assert text_limits.remembered_in(path) == {"masto": 1000}
    assert text_limits.remember_in(path, "masto", 640, now=NOW) is True
    assert text_limits.remembered_in(path) == {"masto": 640}
    assert text_limits.remember_in(tmp_path / "none.db", "masto", 640, now=NOW) is False
    assert not (tmp_path / "none.db").exists()
    assert text_limits.remembered_in(tmp_path / "none.db") == {}
    assert text_limits.remembered_in(None) == {}
