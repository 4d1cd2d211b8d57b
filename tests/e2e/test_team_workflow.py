"""Team workflow: four-eyes approval, the audit chain, posting slots, link tagging."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.domain.links import tag_link
from planner.domain.slots import Slot, next_free, parse_slot, slot_times

runner = CliRunner()


def planner(workspace: Path, *args: str, user: str | None = None):
    prefix = ["--config", str(workspace / "config.toml"), "--lang", "en"]
    if user:
        prefix += ["--as", user]
    return runner.invoke(build_app(), [*prefix, *args], catch_exceptions=False)


CONFIG = """
database = "planner.db"
timezone = "Asia/Jakarta"

[approval]
required = true

[users.budi]
role = "staff"
[users.sari]
role = "approver"
[users.admin]
role = "admin"

[accounts.kpu_x]
platform = "x"
handle = "kpudemak"
slots = ["mon-fri 08:00", "mon-fri 19:00"]
[accounts.kpu_x.credentials]
bearer_token = "env:KPU_X_TOKEN"

[utm]
source = "{platform}"
medium = "social"
campaign = "{campaign}"
"""


def campaign(texts: list[str], *, slot_items: int = 0) -> str:
    start = date.today() + timedelta(days=2)
    blocks = [f'''
[[content]]
id = "c{i}"
text = "{text}"
link = "https://kab-demak.kpu.go.id/info"
at = {start.isoformat()}T09:{i:02d}:00
''' for i, text in enumerate(texts)]
    blocks += [f'''
[[content]]
id = "s{i}"
text = "Slot {i}"
slot = "next"
''' for i in range(slot_items)]
    return f"""
[campaign]
id = "uji"
name = "Uji alur kerja"
timezone = "Asia/Jakarta"
start = {start}
end = {start + timedelta(days=30)}
channels = ["kpu_x"]

[goal]
objective = "Menguji"
{''.join(blocks)}
"""


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / "config.toml").write_text(CONFIG, "utf-8")
    (tmp_path / "config.toml").chmod(0o600)
    assert planner(tmp_path, "init", str(tmp_path)).exit_code == 0
    return tmp_path


def apply(workspace: Path, text: str, user: str = "budi"):
    file = workspace / "campaigns" / "uji.toml"
    file.write_text(text, "utf-8")
    return planner(workspace, "campaign", "apply", str(file), user=user)


def states(workspace: Path) -> dict[int, tuple]:
    with sqlite3.connect(workspace / "planner.db") as conn:
        return {r[0]: r[1:] for r in conn.execute("SELECT id, state, author, approved_by FROM posts")}


def test_four_eyes_cannot_be_bypassed(workspace):
    assert apply(workspace, campaign(["Satu", "Dua"])).exit_code == 0
    assert {s for s, _, _ in states(workspace).values()} == {"pending_approval"}

    own = planner(workspace, "approve", "1", user="budi")  # the author, and only staff
    assert own.exit_code == 1 and "approver role" in own.output
    assert states(workspace)[1][0] == "pending_approval"

    # An approver who applied the content themselves cannot approve it either.
    assert apply(workspace, campaign(["Satu (sari)", "Dua"]), user="sari").exit_code == 0
    self_approval = planner(workspace, "approve", "1", user="sari")
    assert self_approval.exit_code == 1 and "own content" in self_approval.output
    assert states(workspace)[1][:1] == ("pending_approval",)

    stranger = planner(workspace, "approve", "2", user="mallory")  # not in [users]: staff
    assert stranger.exit_code == 1

    not_admin = planner(workspace, "approve", "2", "--override-four-eyes", user="sari")
    assert not_admin.exit_code == 1 and "Only admins" in not_admin.output

    ok = planner(workspace, "approve", "2", user="sari")  # post 2 was written by budi
    assert ok.exit_code == 0
    assert states(workspace)[2] == ("queued", "budi", "sari")


def test_editing_an_approved_post_sends_it_back(workspace):
    apply(workspace, campaign(["Satu", "Dua"]))
    assert planner(workspace, "approve", "--campaign", "uji", user="sari").exit_code == 0
    assert [s for s, _, _ in states(workspace).values()] == ["queued", "queued"]
    apply(workspace, campaign(["Satu diubah", "Dua"]))
    after = states(workspace)
    assert after[1] == ("pending_approval", "budi", None)  # approval voided by the edit
    assert after[2] == ("queued", "budi", "sari")          # untouched


def test_admin_override_is_explicit_and_recorded(workspace):
    apply(workspace, campaign(["Satu"]), user="admin")
    assert planner(workspace, "approve", "1", user="admin").exit_code == 1  # no flag: four-eyes holds
    assert planner(workspace, "approve", "1", "--override-four-eyes", user="admin").exit_code == 0
    with sqlite3.connect(workspace / "planner.db") as conn:
        detail = conn.execute("SELECT detail FROM audit_log WHERE action = 'post.approve'").fetchone()[0]
        event = conn.execute("SELECT detail FROM post_events WHERE post_id = 1 ORDER BY id DESC").fetchone()[0]
    assert '"override": true' in detail and "override" in event


def test_reject_needs_an_approver_and_returns_a_draft(workspace):
    apply(workspace, campaign(["Satu"]))
    assert planner(workspace, "reject", "1", "--reason", "tautan salah", user="budi").exit_code == 1
    assert planner(workspace, "reject", "1", "--reason", "tautan salah", user="sari").exit_code == 0
    assert states(workspace)[1][0] == "draft"
    apply(workspace, campaign(["Satu, tautan diperbaiki"]))
    assert states(workspace)[1][0] == "pending_approval"


def test_audit_chain_detects_an_edited_or_removed_row(workspace):
    apply(workspace, campaign(["Satu", "Dua"]))
    planner(workspace, "approve", "1", "2", user="sari")
    assert planner(workspace, "audit", "--verify").exit_code == 0
    listing = planner(workspace, "audit")
    assert "campaign.apply" in listing.output and "post.approve" in listing.output

    db = workspace / "planner.db"
    with sqlite3.connect(db) as conn:
        with pytest.raises(sqlite3.DatabaseError):  # the triggers refuse edits outright
            conn.execute("UPDATE audit_log SET actor = 'x' WHERE id = 2")
    with sqlite3.connect(db) as conn:  # someone who drops the trigger is still caught by the chain
        conn.execute("DROP TRIGGER audit_log_no_update")
        conn.execute("UPDATE audit_log SET actor = 'budi' WHERE id = 2")
    broken = planner(workspace, "audit", "--verify")
    assert broken.exit_code == 1 and "#2" in broken.output

    with sqlite3.connect(db) as conn:
        conn.execute("DROP TRIGGER audit_log_no_delete")
        conn.execute("UPDATE audit_log SET actor = 'sari' WHERE id = 2")  # undo the edit ...
        conn.execute("DELETE FROM audit_log WHERE id = 2")                # ... and remove the row instead
    removed = planner(workspace, "audit", "--verify")
    assert removed.exit_code == 1 and "#3" in removed.output


def test_slots_are_given_once_and_kept_on_reapply(workspace):
    text = campaign(["Satu"], slot_items=3)
    assert apply(workspace, text).exit_code == 0
    with sqlite3.connect(workspace / "planner.db") as conn:
        first = dict(conn.execute("SELECT content_id, due_at FROM posts"))
    slot_times_ = [first[f"s{i}"] for i in range(3)]
    assert len(set(slot_times_)) == 3 and slot_times_ == sorted(slot_times_)
    for value in slot_times_:
        local = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(ZoneInfo("Asia/Jakarta"))
        assert local.weekday() < 5 and local.time() in (time(8), time(19))
    assert apply(workspace, text).exit_code == 0
    with sqlite3.connect(workspace / "planner.db") as conn:
        assert dict(conn.execute("SELECT content_id, due_at FROM posts")) == first


def test_no_free_slot_writes_nothing(workspace):
    (workspace / "config.toml").write_text(CONFIG.replace('["mon-fri 08:00", "mon-fri 19:00"]', '["sun 08:00"]'))
    start = date.today() + timedelta(days=2)
    short = campaign([], slot_items=3).replace(f"end = {start + timedelta(days=30)}", f"end = {start + timedelta(days=8)}")
    before = (workspace / "planner.db").read_bytes()
    result = apply(workspace, short)
    assert result.exit_code == 1 and "No free slot" in result.output
    with sqlite3.connect(workspace / "planner.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM posts").fetchone()[0] == 0
    assert before  # the file exists and still holds no posts


def test_links_are_tagged_per_platform(workspace):
    apply(workspace, campaign(["Satu"]))
    with sqlite3.connect(workspace / "planner.db") as conn:
        link = conn.execute("SELECT link FROM posts").fetchone()[0]
    assert link == "https://kab-demak.kpu.go.id/info?utm_source=x&utm_medium=social&utm_campaign=uji"


def test_validation_counts_the_tagged_link(workspace):
    """Bluesky counts a link in full: the utm_ parameters can push a text over 300 graphemes."""
    config = workspace / "config.toml"
    config.write_text(CONFIG + '\n[accounts.kpu_bsky]\nplatform = "bluesky"\nhandle = "kpu.bsky.social"\n'
                      '[accounts.kpu_bsky.credentials]\napp_password = "env:KPU_BSKY_PASSWORD"\n', "utf-8")
    text = campaign(["a" * 257]).replace('channels = ["kpu_x"]', 'channels = ["kpu_bsky"]')
    file = workspace / "campaigns" / "uji.toml"
    file.write_text(text, "utf-8")
    result = planner(workspace, "campaign", "validate", str(file))
    assert result.exit_code == 1 and "345" in result.output and "300" in result.output, result.output
    file.write_text(text.replace('channels = ["kpu_bsky"]', 'channels = ["kpu_bsky"]\nutm = false'), "utf-8")
    assert planner(workspace, "campaign", "validate", str(file)).exit_code == 0  # 291 untagged: fits


def test_tagging_keeps_the_links_own_parameters():
    tagged = tag_link("https://a.id/p?utm_source=poster&x=1", {"source": "{platform}", "medium": "social"},
                      platform="x", campaign="c", content="i")
    assert tagged == "https://a.id/p?utm_source=poster&x=1&utm_medium=social"


# --- slots, property-tested across month and year ends and zones --------------------------------
ZONES = ["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura", "Europe/Berlin", "America/Sao_Paulo"]
slot_strategy = st.builds(lambda days, hour, minute: Slot(frozenset(days), time(hour, minute)),
                          st.sets(st.integers(0, 6), min_size=1), st.integers(0, 23), st.integers(0, 59))


@given(slots=st.lists(slot_strategy, min_size=1, max_size=4), zone=st.sampled_from(ZONES),
       after=st.datetimes(min_value=datetime(2026, 11, 20), max_value=datetime(2028, 1, 10),
                          timezones=st.just(timezone.utc)),
       taken_count=st.integers(0, 6))
@settings(max_examples=200, deadline=None)
def test_next_free_slot_properties(slots, zone, after, taken_count):
    zone = ZoneInfo(zone)
    until = (after + timedelta(days=40)).date()
    moments = list(slot_times(slots, zone, after, until))
    assert moments == sorted(moments) and len(moments) == len(set(moments))
    for moment in moments:
        assert moment > after
        local = moment.astimezone(zone)
        assert any(local.weekday() in s.weekdays and (local.hour, local.minute) == (s.at.hour, s.at.minute)
                   or _skipped_by_dst(s, local, zone) for s in slots)
    taken = set(moments[:taken_count])
    chosen = next_free(slots, zone, after=after, until=until, taken=taken)
    expected = next((m for m in moments if m not in taken), None)
    assert chosen == expected


def _skipped_by_dst(slot: Slot, local: datetime, zone) -> bool:
    """A wall time that does not exist (spring forward) lands an hour later: accept that shift."""
    shifted = (local - timedelta(hours=1)).replace(tzinfo=None)
    return local.weekday() in slot.weekdays and (shifted.hour, shifted.minute) == (slot.at.hour, slot.at.minute)


@pytest.mark.parametrize("spec, days, at", [
    ("mon-fri 08:00", {0, 1, 2, 3, 4}, time(8)),
    ("sat,sun 09.30", {5, 6}, time(9, 30)),
    ("daily 19:00", set(range(7)), time(19)),
    ("fri-mon 07:15", {4, 5, 6, 0}, time(7, 15)),
])
def test_parse_slot(spec, days, at):
    assert parse_slot(spec) == Slot(frozenset(days), at)


@pytest.mark.parametrize("spec", ["", "monday", "mon 25:00", "xyz 08:00", "mon-fri", "mon-fri 8"])
def test_bad_slot_specs(spec):
    with pytest.raises(ValueError):
        parse_slot(spec)
