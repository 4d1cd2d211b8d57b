"""Right before a request leaves: the media are the files validation saw, and an approval still holds."""

from __future__ import annotations

import shutil
import sqlite3
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from helpers import cli  # noqa: E402
from test_approval_property import REPO, ZONE, campaign_text  # noqa: E402

from planner.clock import OffsetClock  # noqa: E402
from planner.config import load_config  # noqa: E402
from planner.publishing.dispatcher import Dispatcher  # noqa: E402
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config  # noqa: E402


@pytest.fixture
def office(tmp_path, sandbox, monkeypatch):
    for key, value in export_sandbox_secrets({}).items():
        monkeypatch.setenv(key, value)
    (tmp_path / "media").mkdir()
    shutil.copy(REPO / "campaigns" / "media" / "cek-fakta.jpg", tmp_path / "media" / "poster.jpg")

    def make(extra: str = ""):
        config = write_sandbox_config(tmp_path, sandbox.base_url, extra=extra)
        return config

    config = make()
    assert cli("--config", str(config), "init", str(tmp_path)).exit_code == 0
    at = (datetime.now(ZONE) + timedelta(minutes=10)).replace(tzinfo=None, second=0, microsecond=0)
    (tmp_path / "uji.toml").write_text(campaign_text({"a": 0, "b": 0, "c": 0}, at), "utf-8")
    assert cli("--config", str(config), "campaign", "apply", str(tmp_path / "uji.toml")).exit_code == 0
    return tmp_path, make


def publish(config: Path) -> None:
    dispatcher = Dispatcher(load_config(config), workers=2,
                            clock=OffsetClock(timedelta(minutes=20)))
    try:
        dispatcher.run_once()
    finally:
        dispatcher.shutdown(timeout=5)


def states(root: Path) -> dict[str, str]:
    with sqlite3.connect(root / "planner.db") as conn:
        return {f"{c}@{ch}": s for c, ch, s in conn.execute("SELECT content_id, channel, state FROM posts")}


def test_a_media_file_swapped_for_a_link_after_validation_is_never_uploaded(office, sandbox):
    root, make = office
    outside = root.parent / f"{root.name}-luar" / "lain.jpg"  # a real image, outside the workspace
    outside.parent.mkdir()
    shutil.copy(REPO / "campaigns" / "media" / "pemilih-pemula.jpg", outside)
    (root / "media" / "poster.jpg").unlink()
    (root / "media" / "poster.jpg").symlink_to(outside)
    publish(root / "config.toml")
    after = states(root)
    assert after["c@kpu_mastodon"] == after["c@kpu_telegram"] == "failed"
    assert after["a@kpu_mastodon"] == "published"  # the others go out as usual
    received = [p["text"] for p in sandbox.posts()["posts"]]
    assert not any("Info c" in text for text in received)


def test_approval_switched_on_later_sends_nothing_unapproved(office, sandbox):
    root, make = office
    make('[approval]\nrequired = true\n[users.sari]\nrole = "approver"\n')
    publish(root / "config.toml")
    assert set(states(root).values()) == {"pending_approval"}
    assert sandbox.posts()["posts"] == []


def test_the_scheduler_keeps_the_audit_head_outside_the_database(office):
    import json

    from planner.publishing.service import Service

    root, _make = office
    (root / "audit.head").unlink(missing_ok=True)
    service = Service(load_config(root / "config.toml"))
    service.dispatcher.db  # noqa: B018  (open this thread's connection)
    service.heartbeat()
    head = json.loads((root / "audit.head").read_text())
    with sqlite3.connect(root / "planner.db") as conn:
        assert head["hash"] == conn.execute("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
    service.dispatcher.shutdown(timeout=1)
