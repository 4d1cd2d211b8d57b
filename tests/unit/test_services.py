"""The use cases of planner/services/ on a real SQLite file: what they change, return and refuse."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit

from planner.config import load_config
from planner.errors import PlannerError
from planner.services import apply as apply_service
from planner.services import approval as approval_service
from planner.services import pausing, posts as post_service, publishing, status
from planner.store import outbox, post_history
from planner.store.campaign_lookup import CampaignNotFound
from planner.store.db import open_db, parse_utc, utc_iso
from planner.store.posts import TransitionRefused, get

REPO = Path(__file__).resolve().parents[2]
CHECKED_AT = datetime(2027, 1, 1, tzinfo=timezone.utc)
FIRST_DUE = datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 WITA
LATER = FIRST_DUE + timedelta(minutes=30)


def write_config(folder: Path, *, approval: bool = False) -> Path:
    text = (REPO / "config.example.toml").read_text("utf-8")
    if approval:
        text = text.replace("required = false", "required = true")
        text += ('\n[users.sari]\nrole = "approver"\nname = "Sari"\n'
                 '[users.budi]\nrole = "staff"\nname = "Budi"\n'
                 '[users.rina]\nrole = "admin"\nname = "Rina"\n')
    path = folder / "config.toml"
    path.write_text(text, "utf-8")
    path.chmod(0o600)
    return path


def write_campaign(folder: Path, campaign_id: str, *, name: str | None = None) -> Path:
    doc = {
        "campaign": {"id": campaign_id, "name": name or f"Kampanye {campaign_id}", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan"},
        "content": [{"id": "satu", "text": "Satu", "at": datetime(2027, 2, 2, 9, 0)},
                    {"id": "dua", "text": "Dua", "at": datetime(2027, 2, 3, 9, 0)}],
    }
    file = folder / f"{campaign_id}.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    return file


@pytest.fixture
def office(tmp_path):
    """(config, db) of an office without approval, one campaign applied: 4 queued posts."""
    config = load_config(write_config(tmp_path))
    db = open_db(config.database, create=True)
    results = apply_service.check_files(config, [write_campaign(tmp_path, "kampanye-a")], now=CHECKED_AT)
    apply_service.apply_checked(db, config, results, actor="budi")
    return config, db


def ids_in(db, state: str) -> list[int]:
    from planner.store.queries import queue_rows

    return [r["id"] for r in queue_rows(db, campaign=None, start=None, end=None, states=[state], limit=100)]


# --- apply ---------------------------------------------------------------------------------------

def test_check_files_reports_a_campaign_id_used_twice(tmp_path):
    config = load_config(write_config(tmp_path))
    first = write_campaign(tmp_path, "kampanye-a")
    second = tmp_path / "copy.toml"
    second.write_text(first.read_text("utf-8"), "utf-8")
    results = apply_service.check_files(config, [first, second], now=CHECKED_AT)
    assert results[0].problems == []
    assert [p.code for p in results[1].problems] == ["duplicate_campaign"]


def test_apply_writes_posts_and_a_dry_run_writes_nothing(tmp_path):
    config = load_config(write_config(tmp_path))
    db = open_db(config.database, create=True)
    results = apply_service.check_files(config, [write_campaign(tmp_path, "kampanye-a")], now=CHECKED_AT)
    dry = apply_service.apply_checked(db, config, results, actor="budi", dry_run=True)
    assert len(dry.plans[0].added) == 4 and len(dry.rows) == 4
    assert ids_in(db, "queued") == []
    applied = apply_service.apply_checked(db, config, results, actor="budi")
    assert len(ids_in(db, "queued")) == 4
    assert applied.waiting == 0 and applied.approvers == []  # no approval in this office


def test_on_record_reads_what_the_database_holds_of_a_campaign(tmp_path):
    config = load_config(write_config(tmp_path))
    assert apply_service.on_record(config, "kampanye-a") == apply_service.OnRecord(None, set(), {})  # no database
    db = open_db(config.database, create=True)
    file = write_campaign(tmp_path, "kampanye-a")
    apply_service.apply_checked(db, config, apply_service.check_files(config, [file], now=CHECKED_AT), actor="budi")
    [post] = outbox.claim_due(db, owner="uji", now=FIRST_DUE, lease=timedelta(minutes=2), limit=1)
    outbox.mark_published(db, post, "uji", platform_post_id="p1", url=None, published_at=FIRST_DUE)
    record = apply_service.on_record(config, "kampanye-a")
    assert record.source_file == str(file.resolve())
    assert record.published == {"satu"}
    assert record.times == {"satu": {utc_iso(FIRST_DUE)}, "dua": {utc_iso(FIRST_DUE + timedelta(days=1))}}
    assert apply_service.on_record(config, "kampanye-x").source_file is None


def test_apply_with_approval_says_how_many_wait_and_who_else_may_approve(tmp_path):
    config = load_config(write_config(tmp_path, approval=True))
    db = open_db(config.database, create=True)
    results = apply_service.check_files(config, [write_campaign(tmp_path, "kampanye-a")], now=CHECKED_AT)
    applied = apply_service.apply_checked(db, config, results, actor="sari")
    assert applied.waiting == 4
    assert applied.approvers == ["rina"]  # not sari herself (four eyes), not staff


# --- pause and resume ----------------------------------------------------------------------------

def test_pause_holds_due_posts_and_resume_releases_them_at_their_times(office):
    config, db = office
    paused = pausing.pause(db, "  hari berkabung  ", actor="sari", now=LATER)
    assert paused.reason == "hari berkabung"
    assert len(paused.held) == 2  # the two posts due at FIRST_DUE; the next day's stay queued
    assert pausing.paused_reason(db) == "hari berkabung (sari)"
    assert {get(db, i)["state"] for i in paused.held} == {"held"}

    resumed = pausing.resume(db, actor="sari", now=LATER + timedelta(minutes=5))
    assert resumed.was_paused and sorted(resumed.released) == sorted(paused.held)
    assert pausing.paused_reason(db) is None
    assert {get(db, i)["state"] for i in paused.held} == {"queued"}
    assert {parse_utc(get(db, i)["due_at"]) for i in paused.held} == {FIRST_DUE}


def test_resume_with_reschedule_moves_held_posts_to_now(office):
    config, db = office
    held = pausing.pause(db, "gangguan", actor="sari", now=LATER).held
    moment = LATER + timedelta(hours=1)
    resumed = pausing.resume(db, actor="sari", now=moment, reschedule=True)
    assert resumed.rescheduled
    assert {get(db, i)["due_at"] for i in held} == {utc_iso(moment)}


def test_pause_needs_a_reason_and_resume_without_pause_says_so(office):
    config, db = office
    with pytest.raises(PlannerError) as refused:
        pausing.pause(db, "   ", actor="sari", now=LATER)
    assert refused.value.key == "pause.need_reason"
    assert pausing.paused_reason(db) is None
    resumed = pausing.resume(db, actor="sari", now=LATER)
    assert not resumed.was_paused and resumed.released == []


# --- changes by hand -----------------------------------------------------------------------------

def test_cancel_then_requeue_makes_the_post_due_now(office):
    config, db = office
    post_id = ids_in(db, "queued")[0]
    canceled = post_service.cancel(db, post_id, actor="sari", now=LATER)
    assert (canceled.from_state, canceled.to_state) == ("queued", "canceled") and not canceled.back_to_approval
    requeued = post_service.requeue(db, post_id, actor="sari", now=LATER, approval_required=False)
    assert requeued.to_state == "queued"
    assert get(db, post_id)["due_at"] == utc_iso(LATER)


def test_requeue_with_approval_required_and_no_stamp_goes_back_to_an_approver(office):
    config, db = office
    post_id = ids_in(db, "queued")[0]
    post_service.cancel(db, post_id, actor="sari", now=LATER)
    requeued = post_service.requeue(db, post_id, actor="sari", now=LATER, approval_required=True)
    assert requeued.back_to_approval
    assert get(db, post_id)["state"] == "pending_approval"


def test_retry_of_a_queued_post_is_refused_with_the_states_that_allow_it(office):
    config, db = office
    post_id = ids_in(db, "queued")[0]
    with pytest.raises(TransitionRefused) as refused:
        post_service.retry(db, post_id, actor="sari", now=LATER, approval_required=False)
    assert refused.value.key == "post.wrong_state" and "failed" in refused.value.params["allowed"]
    assert get(db, post_id)["state"] == "queued"


# --- approval ------------------------------------------------------------------------------------

@pytest.fixture
def office_with_approval(tmp_path):
    config = load_config(write_config(tmp_path, approval=True))
    db = open_db(config.database, create=True)
    results = apply_service.check_files(config, [write_campaign(tmp_path, "kampanye-a")], now=CHECKED_AT)
    apply_service.apply_checked(db, config, results, actor="budi")
    return config, db


def test_approve_a_campaign_then_nothing_is_left_waiting(office_with_approval):
    config, db = office_with_approval
    decided = approval_service.approve(db, campaign="kampanye-a", actor="sari", role="approver", now=LATER)
    assert len(decided.done) == 4 and decided.refused == []
    assert len(ids_in(db, "queued")) == 4
    again = approval_service.approve(db, campaign="kampanye-a", actor="sari", role="approver", now=LATER)
    assert again.nothing_waiting and again.done == []


def test_approve_refuses_own_content_and_unknown_campaigns(office_with_approval):
    config, db = office_with_approval
    own = approval_service.approve(db, post_ids=[1], actor="budi", role="approver", now=LATER)
    assert own.refused == [(1, "approval.own_content")]
    with pytest.raises(CampaignNotFound) as unknown:
        approval_service.approve(db, campaign="kampanye-x", actor="sari", role="approver", now=LATER)
    assert unknown.value.params == {"id": "kampanye-x", "known": "kampanye-a"}
    with pytest.raises(PlannerError) as both:
        approval_service.approve(db, post_ids=[1], campaign="kampanye-a", actor="sari", role="approver", now=LATER)
    assert both.value.key == "approval.usage"


def test_reject_needs_a_reason_and_makes_drafts(office_with_approval):
    config, db = office_with_approval
    with pytest.raises(PlannerError) as refused:
        approval_service.reject(db, post_ids=[1], actor="sari", role="approver", reason=" ", now=LATER)
    assert refused.value.key == "approval.need_reason"
    decided = approval_service.reject(db, post_ids=[1, 2], actor="sari", role="approver", reason=" ejaan ",
                                      now=LATER)
    assert decided.done == [1, 2]
    assert get(db, 1)["state"] == "draft" and get(db, 1)["last_error"] == "rejected by sari: ejaan"


# --- publish now (refusals; sending is covered end to end against the sandbox) ---------------------

def test_publish_now_refuses_a_missing_post_a_canceled_one_and_while_paused(office):
    config, db = office
    with pytest.raises(TransitionRefused) as missing:
        publishing.publish_now(config, db, 999, actor="sari", now=LATER)
    assert missing.value.key == "post.not_found"
    first, second = ids_in(db, "queued")[:2]
    post_service.cancel(db, first, actor="sari", now=LATER)
    with pytest.raises(TransitionRefused) as canceled:
        publishing.publish_now(config, db, first, actor="sari", now=LATER)
    assert canceled.value.key == "publish.not_queued" and canceled.value.params["state"] == "canceled"
    pausing.pause(db, "cek", actor="sari", now=CHECKED_AT)  # before anything is due: nothing held
    with pytest.raises(PlannerError) as paused:
        publishing.publish_now(config, db, second, actor="sari", now=CHECKED_AT)
    assert paused.value.key == "publish.paused"
    assert get(db, second)["due_at"] != utc_iso(CHECKED_AT)  # refused before anything changed


# --- status figures ------------------------------------------------------------------------------

def test_lateness_counts_only_the_last_day(office):
    config, db = office
    claimed = outbox.claim_due(db, owner="uji", now=LATER, lease=timedelta(minutes=2), limit=10)
    assert len(claimed) == 2
    for post, late_s in zip(claimed, (4, 10)):
        outbox.mark_published(db, post, "uji", platform_post_id=f"p{post.id}", url=None,
                              published_at=post.due_at + timedelta(seconds=late_s))
    late = status.lateness_last_day(db, now=FIRST_DUE + timedelta(hours=1))
    assert (late.count, late.p50_s, late.worst_s) == (2, 10.0, 10.0)
    assert status.lateness_last_day(db, now=FIRST_DUE + timedelta(days=2)) is None
    assert post_history.posts_reaching(db, ["published"], after_event=0) == sorted(p.id for p in claimed)
