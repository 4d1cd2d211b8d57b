"""The store's monitoring side on a real SQLite file: campaigns read back, metrics, mentions and spikes,
the report's reads, and the end of a blackout hold."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomlkit

from planner.campaign_files import desired_posts, load_campaign
from planner.config import load_config
from planner.domain.campaign import Blackout, Monitoring, Playbook
from planner.domain.events import EventCode, event
from planner.domain.post import TRANSITIONS, Action, Hold, HoldKind, PostState
from planner.platforms.base import Mention
from planner.store import campaigns, mentions, metrics, outbox, posts, reporting
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db, utc_iso

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
WITA = ZoneInfo("Asia/Makassar")


@pytest.fixture
def workdir(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    path.chmod(0o600)
    return tmp_path


@pytest.fixture
def db(workdir):
    return open_db(workdir / "planner.db", create=True)


def apply(db, workdir: Path, campaign_id: str = "pantau", **parts) -> None:
    """Apply a campaign file with two posts per content item (kpu_x, kpu_telegram); ``parts`` adds tables."""
    config = load_config(workdir / "config.toml")
    doc = {
        "campaign": {"id": campaign_id, "name": f"Kampanye {campaign_id}", "owner": "Humas", "timezone": "Asia/Makassar",
                     "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
        "goal": {"objective": "Tujuan", "kpi": [{"metric": "likes", "target": 500, "platform": "x",
                                                "deadline": date(2027, 2, 20)}]},
        "audience": [{"id": "muda", "description": "Pemilih muda", "platforms": ["x"]}],
        "content": [{"id": "satu", "issue": "isu", "audiences": ["muda"], "text": "Satu", "at": datetime(2027, 2, 2, 9)},
                    {"id": "dua", "text": "Dua", "link": "https://kpu.go.id/a", "at": datetime(2027, 2, 3, 9)}],
        **parts,
    }
    file = workdir / f"{campaign_id}.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    assert loaded.problems == []
    apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                    approval_required=False, actor="uji")


def publish_all(db, at: datetime) -> dict[str, int]:
    """Claim and publish every due post as the scheduler would; channel -> post id."""
    claimed = outbox.claim_due(db, owner="uji", now=at, lease=timedelta(minutes=2), limit=100)
    for post in claimed:
        assert outbox.mark_published(db, post, "uji", platform_post_id=f"ref-{post.id}", url=None, published_at=at)
    return {post.channel + ":" + post.content_id: post.id for post in claimed}


# --- campaigns read back ---------------------------------------------------------------------------
def test_a_campaign_reads_back_as_applied(db, workdir):
    apply(db, workdir, monitoring={"collect_every": "2h", "track_for": "3d", "keywords": ["cek DPT", "hoaks"],
                                   "spike_threshold": 4, "report_period": "daily"},
          blackout=[{"start": datetime(2027, 2, 10, 8), "end": datetime(2027, 2, 10, 12), "reason": "Duka"}])
    campaign = campaigns.get(db, "pantau")
    assert (campaign.id, campaign.name, campaign.owner) == ("pantau", "Kampanye pantau", "Humas")
    assert campaign.timezone == WITA and (campaign.start, campaign.end) == (date(2027, 2, 1), date(2027, 2, 28))
    assert campaign.channels == ("kpu_x", "kpu_telegram")
    assert campaign.goal.objective == "Tujuan"
    [kpi] = campaign.goal.kpis
    assert (kpi.metric, kpi.target, kpi.platform, kpi.deadline) == ("likes", 500, "x", date(2027, 2, 20))
    assert [(a.id, a.platforms) for a in campaign.audiences] == [("muda", ("x",))]
    assert campaign.monitoring == Monitoring(collect_every=timedelta(hours=2), track_for=timedelta(days=3),
                                             keywords=("cek DPT", "hoaks"), spike_threshold=4.0,
                                             report_period="daily")
    assert campaign.blackouts == (Blackout(start=datetime(2027, 2, 10, 0, tzinfo=timezone.utc),
                                           end=datetime(2027, 2, 10, 4, tzinfo=timezone.utc), reason="Duka",
                                           campaign="pantau"),)
    # The stored window is the campaign's own (whole days in its zone).
    start_at = db.execute("SELECT start_at FROM campaigns WHERE id = 'pantau'").fetchone()[0]
    assert utc_iso(campaign.window()[0]) == start_at == "2027-01-31T16:00:00.000Z"
    assert campaigns.get(db, "tidak-ada") is None


def test_a_campaign_applied_by_an_older_version_takes_the_defaults(db):
    """A spec without monitoring, blackouts, audiences or KPI deadlines (as older versions stored it)."""
    spec = {"id": "lama", "name": "Lama", "owner": "", "timezone": "Asia/Jakarta", "start": "2026-03-01",
            "end": "2026-03-31", "channels": ["kpu_x"], "goal": {"objective": "O", "kpis": [
                {"metric": "reach", "target": 10.0, "platform": "all", "deadline": None}]}}
    db.conn.execute("INSERT INTO campaigns (id, name, owner, timezone, start_at, end_at, spec, applied_at) "
                    "VALUES ('lama', 'Lama', '', 'Asia/Jakarta', '2026-02-28T17:00:00.000Z', "
                    "'2026-03-31T16:59:59.999Z', ?, '2026-02-01T00:00:00.000Z')", [json.dumps(spec)])
    campaign = campaigns.get(db, "lama")
    assert campaign.monitoring == Monitoring()
    assert campaign.monitoring.collect_every == timedelta(hours=6)
    assert campaign.monitoring.track_for == timedelta(days=7)
    assert campaign.monitoring.spike_threshold == 3.0 and campaign.monitoring.report_period == "weekly"
    assert campaign.monitoring.keywords == ()
    assert campaign.blackouts == () and campaign.audiences == ()
    [kpi] = campaign.goal.kpis
    assert kpi.deadline is None and campaign.deadline(kpi) == date(2026, 3, 31)



def test_a_campaign_reads_back_its_playbooks(db):
    """`planner respond` matches alerts against AppliedCampaign.playbooks: decoded once, by the store."""
    spec = {"id": "siaga", "name": "Siaga", "owner": "", "timezone": "Asia/Jakarta", "start": "2026-03-01",
            "end": "2026-03-31", "channels": ["kpu_x"], "responses": [
                {"id": "hoaks", "keywords": ["bansos"], "phrases": ["dipungut biaya"], "min_ratio": 2.5,
                 "content": ["klarifikasi", "cadangan"], "channels": ["kpu_x"]},
                {"id": "lain", "phrases": ["palsu"], "content": ["klarifikasi"]}]}
    db.conn.execute("INSERT INTO campaigns (id, name, owner, timezone, start_at, end_at, spec, applied_at) "
                    "VALUES ('siaga', 'Siaga', '', 'Asia/Jakarta', '2026-02-28T17:00:00.000Z', "
                    "'2026-03-31T16:59:59.999Z', ?, '2026-02-01T00:00:00.000Z')", [json.dumps(spec)])
    assert campaigns.get(db, "siaga").playbooks == (
        Playbook(id="hoaks", keywords=("bansos",), phrases=("dipungut biaya",), min_ratio=2.5,
                 content=("klarifikasi", "cadangan"), channels=("kpu_x",)),
        Playbook(id="lain", phrases=("palsu",), content=("klarifikasi",)))


def test_json_settings_round_trip_and_clear(db):
    assert outbox.get_json_setting(db, "uji", {}) == {}
    outbox.set_json_setting(db, "uji", {"b": 1, "a": [2]}, now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert outbox.get_json_setting(db, "uji") == {"b": 1, "a": [2]}
    outbox.set_json_setting(db, "uji", None, now=datetime(2026, 3, 1, tzinfo=timezone.utc))
    assert outbox.get_setting(db, "uji") is None and outbox.get_json_setting(db, "uji", []) == []


def test_a_reapplied_campaign_reads_back_changed(db, workdir):
    apply(db, workdir, monitoring={"keywords": ["lama"]})
    apply(db, workdir, "kedua")
    assert [c.id for c in campaigns.list_all(db)] == ["pantau", "kedua"]  # in the order first applied
    assert campaigns.get(db, "pantau").monitoring.keywords == ("lama",)
    apply(db, workdir, monitoring={"keywords": ["baru"], "report_period": "monthly"})
    assert campaigns.get(db, "pantau").monitoring.keywords == ("baru",)
    assert campaigns.list_all(db)[0].monitoring.report_period == "monthly"
    assert campaigns.ids(db) == ["kedua", "pantau"]
    assert [item["id"] for item in campaigns.content_items(db, "pantau")] == ["satu", "dua"]


# --- metrics ---------------------------------------------------------------------------------------
def test_metrics_keep_history_latest_values_and_totals(db, workdir):
    apply(db, workdir)
    published = publish_all(db, datetime(2027, 2, 3, 2, tzinfo=timezone.utc))
    x1, x2, tg = published["kpu_x:satu"], published["kpu_x:dua"], published["kpu_telegram:satu"]
    first, second = datetime(2027, 2, 4, tzinfo=timezone.utc), datetime(2027, 2, 5, tzinfo=timezone.utc)

    assert metrics.record(db, [x1, x2], [(x1, "likes", 10), (x1, "views", 100), (x2, "likes", 1)], now=first,
                          available=True) == 3
    assert metrics.record(db, [tg], [], now=first, available=False, note="tidak ada") == 0
    metrics.record_totals(db, "pantau", now=first)
    assert metrics.record(db, [x1], [(x1, "likes", 25)], now=second, available=True) == 1
    metrics.record_totals(db, "pantau", now=second)

    assert metrics.latest(db, "pantau") == {x1: {"likes": 25, "views": 100}, x2: {"likes": 1}}
    assert metrics.latest(db, "pantau", until=first + timedelta(hours=1)) == {x1: {"likes": 10, "views": 100},
                                                                               x2: {"likes": 1}}
    assert metrics.latest(db, "lain") == {}
    assert db.execute("SELECT COUNT(*) FROM metric_snapshots").fetchone()[0] == 4  # nothing overwritten
    # Engagements: likes (no own figure); reach: views.
    assert metrics.totals_over_time(db, "pantau") == [
        {"at": utc_iso(first), "engagements": 11, "reach": 100},
        {"at": utc_iso(second), "engagements": 26, "reach": 100}]
    assert metrics.totals_over_time(db, "pantau", start=second) == [
        {"at": utc_iso(second), "engagements": 26, "reach": 100}]
    assert metrics.totals_over_time(db, "pantau", end=second) == [
        {"at": utc_iso(first), "engagements": 11, "reach": 100}]
    assert metrics.platforms_without_metrics(db, "pantau") == {"telegram"}

    status = {p.id: p for p in metrics.collectable(db)}
    assert set(status) == set(published.values())
    assert status[x1].last_collected_at == second and status[x1].available is True
    assert status[tg].available is False and status[x1].ref == f"ref-{x1}"
    assert status[x1].published_at == datetime(2027, 2, 3, 2, tzinfo=timezone.utc)
    assert metrics.collectable(db, campaign="lain") == []
    assert metrics.published_times(db, "kpu_x") == {x1: "2027-02-03T02:00:00.000Z", x2: "2027-02-03T02:00:00.000Z"}


# --- mentions and spikes ---------------------------------------------------------------------------
def _mention(n: int, keyword: str, at: datetime, platform: str = "x") -> Mention:
    return Mention(platform=platform, platform_id=str(n), keyword=keyword, text=f"sebutan {n}", author=f"warga{n}",
                   url=f"https://x.test/{n}", created_at=at)


def test_mentions_are_stored_once_and_counted(db, workdir):
    apply(db, workdir)
    apply(db, workdir, "kedua")
    base = datetime(2027, 2, 5, 10, tzinfo=timezone.utc)
    found = [_mention(i, "cek DPT", base + timedelta(minutes=10 * i)) for i in range(6)]
    assert mentions.newest_time(db, "pantau") is None
    assert mentions.record(db, "pantau", found, now=base + timedelta(hours=2)) == 6
    assert mentions.record(db, "pantau", found[:3], now=base + timedelta(hours=2)) == 0  # stored once
    assert mentions.record(db, "kedua", found[:1], now=base) == 1  # once per campaign
    undated = Mention(platform="mastodon", platform_id="m1", keyword="hoaks", text="tanpa waktu")
    assert mentions.record(db, "pantau", [undated], now=base + timedelta(hours=3)) == 1

    assert mentions.count(db, "pantau") == 7
    assert mentions.newest_time(db, "pantau") == base + timedelta(hours=3)  # dated when seen
    assert mentions.count_since(db, "pantau", "cek DPT", since=base + timedelta(minutes=20),
                                now=base + timedelta(minutes=40)) == 3  # both ends included
    assert mentions.times(db, "pantau", "cek DPT", start=base, end=base + timedelta(minutes=20)) == [
        base, base + timedelta(minutes=10)]  # end excluded
    top = mentions.newest_of_keyword(db, "pantau", "cek DPT", since=base + timedelta(minutes=15), limit=3)
    assert [m["text"] for m in top] == ["sebutan 5", "sebutan 4", "sebutan 3"]
    assert set(top[0]) == {"platform", "author", "text", "url", "created_at"}
    assert sorted(k for k, _ in mentions.keyword_times(db, "pantau", end=base + timedelta(hours=1))) == ["cek DPT"] * 6
    assert [m["keyword"] for m in mentions.newest(db, "pantau", limit=2)] == ["hoaks", "cek DPT"]

    rows = mentions.listing(db, campaign="pantau", since=base + timedelta(minutes=45), limit=10)
    assert [r["platform_id"] for r in rows] == ["m1", "5"]
    grouped = mentions.listing_by_post(db, limit=10)
    assert len(grouped) == 7  # the post found for both campaigns is one line naming both
    assert sorted(next(r for r in grouped if r["text"] == "sebutan 0")["campaigns"].split(",")) == ["kedua", "pantau"]


def test_spikes_are_recorded_and_found_by_time(db, workdir):
    apply(db, workdir)
    at = datetime(2027, 2, 5, 10, tzinfo=timezone.utc)
    assert not mentions.spike_raised_since(db, "pantau", "cek DPT", since=at - timedelta(hours=1))
    mentions.record_spike(db, "pantau", "cek DPT", now=at, count=12, baseline=1.5, detail="12 mentions")
    assert mentions.spike_raised_since(db, "pantau", "cek DPT", since=at - timedelta(hours=1))
    assert not mentions.spike_raised_since(db, "pantau", "cek DPT", since=at + timedelta(seconds=1))
    assert not mentions.spike_raised_since(db, "pantau", "hoaks", since=at - timedelta(hours=1))
    assert mentions.spikes(db, "pantau") == [{"keyword": "cek DPT", "at": utc_iso(at), "window_count": 12,
                                              "baseline": 1.5, "detail": "12 mentions"}]
    assert mentions.spikes(db, "pantau", start=at + timedelta(seconds=1)) == []


# --- the report's reads ----------------------------------------------------------------------------
def test_the_report_reads_posts_outcomes_and_texts(db, workdir):
    apply(db, workdir)
    published = publish_all(db, datetime(2027, 2, 2, 1, 0, 30, tzinfo=timezone.utc))  # only 'satu' was due
    assert set(published) == {"kpu_x:satu", "kpu_telegram:satu"}
    rows = reporting.posts(db, "pantau")
    assert [r["content_id"] for r in rows] == ["satu", "satu", "dua", "dua"]  # by time
    assert [r["state"] for r in rows] == ["published", "published", "queued", "queued"]
    assert list(rows[0]) == ["id", "content_id", "channel", "platform", "state", "due_at", "published_at",
                             "late_ms", "url", "text", "error"]
    assert [r["content_id"] for r in reporting.posts(db, "pantau", start=datetime(2027, 2, 3, tzinfo=timezone.utc))] \
        == ["dua", "dua"]
    outcomes = {o.id: o for o in reporting.outcomes(db, "pantau")}
    x_satu = outcomes[published["kpu_x:satu"]]
    assert (x_satu.platform, x_satu.state, x_satu.late_ms) == ("x", "published", 30_000)
    feb_end = datetime(2027, 2, 28, tzinfo=timezone.utc)
    assert reporting.count_due_by(db, "pantau", states=("queued",), until=feb_end) == 2
    assert reporting.count_due_by(db, "pantau", states=("queued",), until=feb_end, platform="telegram") == 1
    assert reporting.count_due_by(db, "pantau", states=("queued",), until=datetime(2027, 2, 2, tzinfo=timezone.utc)) == 0
    texts = reporting.texts_on(db, "pantau", "x", excluding=("canceled",))
    assert sorted((t["text"], t["link"], t["thread"]) for t in texts) == [
        ("Dua", "https://kpu.go.id/a", []), ("Satu", None, [])]
    assert reporting.texts_on(db, "pantau", "x", excluding=("published", "queued")) == []
    assert reporting.content_tags(db, "pantau") == {"satu": {"issue": "isu", "audiences": ["muda"]},
                                                    "dua": {"issue": "", "audiences": []}}


# --- the end of a blackout hold goes through the lifecycle -----------------------------------------
def test_an_ended_hold_goes_back_to_the_queue_due_at_its_end(db, workdir):
    assert TRANSITIONS[(Action.RELEASE, PostState.HELD)] is PostState.QUEUED
    assert [state for (action, state) in TRANSITIONS if action is Action.RELEASE] == [PostState.HELD]
    apply(db, workdir)
    now = datetime(2027, 2, 2, 1, 5, tzinfo=timezone.utc)
    end = now + timedelta(hours=2)
    held = outbox.hold_due(db, now=now, hold=Hold(HoldKind.BLACKOUT, "Duka"), actor="uji", until=end)
    paused = outbox.hold_due(db, now=now + timedelta(days=1, hours=1), hold=Hold(HoldKind.PAUSE, "rapat"), actor="uji")
    assert len(held) == 2 and len(paused) == 2
    release = dict(kind=HoldKind.BLACKOUT, actor="uji", what=lambda due_at: event(EventCode.BLACKOUT_OVER, due=due_at))
    assert posts.release_ended_holds(db, now=end - timedelta(seconds=1), **release) == []
    assert sorted(posts.release_ended_holds(db, now=end + timedelta(days=3), **release)) == sorted(held)
    for post_id in held:
        row = posts.get(db, post_id)
        assert (row["state"], row["due_at"], row["retry_at"], row["hold_kind"], row["hold_reason"]) == (
            "queued", utc_iso(end), None, None, None)
        last = db.execute("SELECT from_state, to_state, detail, code FROM post_events WHERE post_id = ? "
                           "ORDER BY id DESC LIMIT 1", [post_id]).fetchone()
        assert tuple(last) == ("held", "queued", f"blackout over: rescheduled to {utc_iso(end)}", "blackout_over")
    assert {posts.get(db, i)["state"] for i in paused} == {"held"}  # a pause has no end: not released here
    assert posts.release_ended_holds(db, now=end + timedelta(days=3), **release) == []
