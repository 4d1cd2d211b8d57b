"""Blackout windows from a campaign file: held inside the window, published after it, never dropped."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from planner.campaign_files import desired_posts, load_campaign
from planner.clock import FakeClock
from planner.config import load_config
from planner.publishing.dispatcher import Dispatcher
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db


def _campaign(campaign_id: str, first: datetime, window: tuple[datetime, datetime] | None) -> str:
    fmt = "%Y-%m-%dT%H:%M:%S"
    blackout = (f'\n[[blackout]]\nstart = {window[0].strftime(fmt)}\nend = {window[1].strftime(fmt)}\n'
                f'reason = "Hari berkabung"\n') if window else ""
    return f"""
[campaign]
id = "{campaign_id}"
name = "Uji"
timezone = "Asia/Jakarta"
start = {first.date() - timedelta(days=1)}
end = {first.date() + timedelta(days=2)}
channels = ["kpu_mastodon"]
[goal]
objective = "Uji"
[[content]]
id = "a"
text = "Pengumuman {campaign_id}"
at = {first.strftime(fmt)}
{blackout}"""


def test_a_campaign_blackout_holds_only_that_campaign_then_releases(tmp_path, sandbox):
    export_sandbox_secrets(os.environ)
    config = load_config(write_sandbox_config(tmp_path, sandbox.base_url))
    db = open_db(config.database, create=True)
    now = datetime.now(config.timezone).replace(microsecond=0)
    first = now + timedelta(seconds=2)
    batch = []
    for campaign_id, window in (("sunyi", (now - timedelta(minutes=1), now + timedelta(seconds=6))), ("biasa", None)):
        file = tmp_path / f"{campaign_id}.toml"
        file.write_text(_campaign(campaign_id, first, window), "utf-8")
        loaded = load_campaign(file, config)
        assert loaded.ok, loaded.problems
        batch.append((loaded.campaign, desired_posts(loaded.campaign, file, config), str(file)))
    apply_campaigns(db, batch, approval_required=False, actor="uji")

    clock = FakeClock(first + timedelta(seconds=0.5))  # both posts due, the blackout still on
    dispatcher = Dispatcher(config, clock=clock)
    dispatcher.run_once()
    states = dict(db.execute("SELECT campaign_id, state FROM posts").fetchall())
    assert states == {"sunyi": "held", "biasa": "published"}
    assert [p["text"] for p in sandbox.posts()["posts"]] == ["Pengumuman biasa"]
    reason = db.execute("SELECT hold_reason FROM posts WHERE campaign_id = 'sunyi'").fetchone()[0]
    assert "Hari berkabung" in reason

    clock.set(now + timedelta(seconds=6.5))  # the window is over
    dispatcher.run_once()
    dispatcher.shutdown(0)
    row = db.execute("SELECT state, due_at FROM posts WHERE campaign_id = 'sunyi'").fetchone()
    assert row[0] == "published"
    assert sandbox.posts()["total"] == 2 and not sandbox.posts()["duplicates"]
    history = [r[0] for r in db.execute("SELECT to_state FROM post_events p JOIN posts q ON q.id = p.post_id "
                                        "WHERE q.campaign_id = 'sunyi' ORDER BY p.id")]
    assert history == ["queued", "held", "queued", "publishing", "published"]
