"""Store functions as they are, run on PostgreSQL through the connection interface, answer as on SQLite."""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.domain.events import EventCode, event
from planner.domain.post import Hold, HoldKind
from planner.store import audit, campaigns, metrics, outbox
from planner.store.backend import connect_database
from planner.store.campaigns import apply_campaigns, published_content_ids
from planner.store.db import open_db
from planner.store.queries import campaign_state_counts

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    return tmp_path


def _campaign(workdir: Path, contents: list[dict] | None = None):
    config = load_config(workdir / "config.toml")
    doc = {
        "campaign": {"id": "kampanye-a", "name": "Kampanye A", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan"},
        "content": contents or [
            {"id": "satu", "text": "Satu, 100% hadir?", "at": datetime(2027, 2, 2, 9, 0)},
            {"id": "dua", "text": "Dua, pekan ke-{ke}", "at": datetime(2027, 2, 3, 9, 0),
             "repeat": {"every": "7d", "times": 3}},
        ],
    }
    file = workdir / "kampanye-a.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    return loaded.campaign, desired_posts(loaded.campaign, file, config), str(file)


def _state(db) -> dict:
    posts = sorted((r["content_id"], r["channel"], r["occurrence"], r["state"], r["due_at"], r["text"])
                   for r in db.query("SELECT * FROM posts"))
    events = sorted((r["to_state"], r["actor"]) for r in db.query("SELECT * FROM post_events"))
    return {"posts": posts, "events": events, "counts": campaign_state_counts(db, "kampanye-a"),
            "audit": [r["action"] for r in db.query("SELECT action FROM audit_log ORDER BY id")]}


def test_applying_editing_and_cancelling_a_campaign_gives_the_same_rows(workdir, postgres_url):
    results = []
    for db in (open_db(workdir / "planner.db", create=True), connect_database(postgres_url)):
        [plan] = apply_campaigns(db, [_campaign(workdir)], approval_required=False, actor="uji")
        assert len(plan.added) == 8, db.dialect
        db.execute("UPDATE posts SET state = 'published' WHERE content_id = 'satu' AND channel = 'kpu_x'")
        assert published_content_ids(db, "kampanye-a") == {"satu"}
        edited = _campaign(workdir, [{"id": "satu", "text": "Satu, diperbaiki", "at": datetime(2027, 2, 2, 9, 0)}])
        [plan] = apply_campaigns(db, [edited], approval_required=False, actor="uji")
        assert len(plan.canceled) == 6, db.dialect
        assert audit.verify(db)[1] == [], db.dialect
        results.append(_state(db))
    sqlite, postgres = results
    assert postgres == sqlite
    assert postgres["counts"] == {"published": 1, "queued": 1, "canceled": 6}


def test_two_workers_claiming_at_once_never_take_the_same_post(workdir, postgres_url):
    db = connect_database(postgres_url)
    apply_campaigns(db, [_campaign(workdir)], approval_required=False, actor="uji")
    due = datetime(2027, 3, 1, tzinfo=timezone.utc)  # after every post's time
    workers = [connect_database(postgres_url) for _ in range(4)]
    claimed: dict[str, list[int]] = {}

    def claim(i: int) -> None:
        owner = f"worker-{i}"
        taken = []
        while batch := outbox.claim_due(workers[i], owner=owner, now=due, lease=timedelta(minutes=2), limit=1):
            taken += [p.id for p in batch]
        claimed[owner] = taken

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    every = [post_id for taken in claimed.values() for post_id in taken]
    assert sorted(every) == sorted(set(every)) and len(every) == 8
    owners = dict(db.execute("SELECT id, lease_owner FROM posts").fetchall())
    assert all(owners[post_id] == owner for owner, taken in claimed.items() for post_id in taken)


def test_a_claimed_post_is_published_once_and_late_posts_are_missed(workdir, postgres_url):
    db = connect_database(postgres_url)
    apply_campaigns(db, [_campaign(workdir)], approval_required=False, actor="uji")
    first_due = datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 WITA
    [post, *_] = outbox.claim_due(db, owner="a", now=first_due, lease=timedelta(minutes=2), limit=1)
    assert outbox.mark_send_started(db, post.id, "a", now=first_due, lease_until=first_due + timedelta(minutes=2))
    assert not outbox.mark_send_started(db, post.id, "b", now=first_due, lease_until=first_due)  # not b's post
    assert outbox.mark_published(db, post, "a", platform_post_id="1", url=None, published_at=first_due)
    assert not outbox.mark_published(db, post, "a", platform_post_id="1", url=None, published_at=first_due)
    missed = outbox.mark_missed(db, now=first_due + timedelta(hours=3), default_grace=timedelta(hours=2), actor="t")
    assert len(missed) == 1  # the other channel's post of the same time; the later ones are not due yet
    assert campaign_state_counts(db, "kampanye-a") == {"published": 1, "missed": 1, "queued": 6}
    assert audit.verify(db)[1] == []


def _outcome(call):
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - a refusal is an answer too, and must be the same one
        return (type(exc).__name__, str(exc))


def test_the_publishing_monitoring_and_approval_steps_answer_the_same_on_both(workdir, postgres_url):
    from planner.monitoring import listen
    from planner.publishing import blackout
    from planner.store import approval, posts, queries
    from planner.store.db import transaction

    now = datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc)
    later = now + timedelta(days=30)
    answers = []
    for db in (open_db(workdir / "planner.db", create=True), connect_database(postgres_url)):
        apply_campaigns(db, [_campaign(workdir)], approval_required=True, actor="uji")
        steps = {
            "pending": lambda: approval.pending_ids(db),
            "approve": lambda: approval.approve(db, approval.pending_ids(db)[:4], actor="boss", role="admin", now=now),
            "reject": lambda: approval.reject(db, approval.pending_ids(db)[:1], actor="boss", role="admin",
                                              reason="tidak", now=now),
            "queue": lambda: [(r["id"], r["state"]) for r in queries.queue_rows(db, campaign=None, start=None, end=None,
                                                                                  states=[], limit=50)],
            "hold": lambda: outbox.hold_due(db, now=later, hold=Hold(HoldKind.PAUSE, "semua"), actor="u"),
            "release": lambda: outbox.release_held(db, now=now, actor="u", kind=HoldKind.PAUSE, what=event(EventCode.RESUMED)),
            "next_due": lambda: outbox.next_due(db),
            "count_due": lambda: outbox.count_due(db, later),
            "setting": lambda: (outbox.set_setting(db, "k", "v", now=now), outbox.get_setting(db, "k")),
            "cancel": lambda: posts.cancel(db, 1, actor="u", now=now),
            "requeue_refused": lambda: posts.requeue(db, 2, actor="u", now=now, approval_required=True),
            "blackouts": lambda: (blackout.release_ended(db, now=now, actor="u"), blackout.campaign_windows(db)),
            "listening": lambda: (campaigns.list_all(db), campaigns.content_items(db, "kampanye-a"),
                                  listen.hourly_counts(db, "kampanye-a", "k", start=now - timedelta(hours=3), end=now)),
            "totals": lambda: _totals(db, transaction, now),
            "missed": lambda: outbox.mark_missed(db, now=now + timedelta(days=60), default_grace=timedelta(hours=2),
                                                 actor="t"),
            "counts": lambda: queries.campaign_state_counts(db, "kampanye-a"),
            "audit": lambda: audit.verify(db),
        }
        answers.append({name: _outcome(step) for name, step in steps.items()})
    sqlite, postgres = answers
    assert postgres == sqlite
    raised = {name: answer for name, answer in sqlite.items() if isinstance(answer, tuple) and answer
              and isinstance(answer[0], str) and answer[0].endswith(("Error", "Refused"))}
    assert set(raised) == {"requeue_refused"}, raised  # a step that no longer runs proves nothing
    assert sqlite["hold"] and sqlite["release"] == sqlite["hold"]
    assert sqlite["totals"] == [("kampanye-a", 12, 100)] and sqlite["requeue_refused"][0] == "TransitionRefused"


def _totals(db, transaction, now):
    with transaction(db) as conn:
        for metric, value in (("likes", 5), ("reposts", 7), ("views", 100)):
            conn.execute("INSERT INTO metric_latest (post_id, metric, value, collected_at) VALUES (1, ?, ?, 'x')",
                         [metric, value])
    metrics.record_totals(db, "kampanye-a", now=now)
    return [tuple(r) for r in db.execute("SELECT campaign_id, engagements, reach FROM metric_totals")]
