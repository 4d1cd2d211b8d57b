"""Readiness check (`planner check`, and hourly in `planner run`) against the sandbox.

A workspace with posts due in the next hours on X, Instagram and Mastodon; each test breaks one thing
the way it breaks in an office (a token revoked, an image deleted, an approval forgotten...) and
expects the check to name it, with the posts it concerns, before their due time.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.config import load_config
from planner.publishing import preflight
from planner.publishing.dispatcher import Dispatcher
from planner.publishing.preflight import check_readiness
from planner.publishing.service import Service
from planner.sandbox import graph_api
from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config
from planner.store import outbox
from planner.store.db import open_db

REPO = Path(__file__).resolve().parents[2]
JAKARTA = ZoneInfo("Asia/Jakarta")
STAFF_CHAT = "-1009876543210"


def cli(config: Path, *args: str):
    return CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "id", *args], catch_exceptions=False)


@pytest.fixture
def office(sandbox, tmp_path, monkeypatch):
    for name, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(name, value)
    alerts = f'[alerts]\ntelegram_account = "kpu_telegram"\nchat_id = "{STAFF_CHAT}"\n'
    config = write_sandbox_config(tmp_path, sandbox.base_url, extra=alerts)
    (tmp_path / "media").mkdir(exist_ok=True)
    # The office's web server, which Instagram fetches the images from, hosts the media folder.
    config.write_text(config.read_text("utf-8").replace("https://kab-demak.kpu.go.id/media",
                                                        sandbox.serve_media(tmp_path / "media")), "utf-8")
    assert cli(config, "init", str(tmp_path)).exit_code == 0
    image = tmp_path / "media" / "poster.jpg"
    image.write_bytes((REPO / "campaigns" / "media" / next(
        p.name for p in (REPO / "campaigns" / "media").glob("*.jpg"))).read_bytes())
    soon = datetime.now(JAKARTA).replace(tzinfo=None, microsecond=0, second=0) + timedelta(hours=2)
    campaign = tmp_path / "campaigns" / "siaga.toml"
    campaign.write_text(f"""
[campaign]
id = "siaga"
name = "Siaga hari pemungutan suara"
timezone = "Asia/Jakarta"
start = {(soon - timedelta(days=1)).date()}
end = {(soon + timedelta(days=3)).date()}
channels = ["kpu_x", "kpu_ig", "kpu_mastodon"]

[goal]
objective = "Pemilih datang ke TPS."

[[content]]
id = "tps-buka"
text = "TPS buka pukul 07.00 WIB. Bawa KTP-el dan surat pemberitahuan."
media = ["../media/poster.jpg"]
at = {soon.isoformat()}

[[content]]
id = "tps-tutup"
text = "TPS tutup pukul 13.00 WIB. Masih antre? Anda tetap dilayani."
media = ["../media/poster.jpg"]
at = {(soon + timedelta(hours=1)).isoformat()}
""", "utf-8")
    result = cli(config, "campaign", "apply", str(campaign))
    assert result.exit_code == 0, result.output
    return config, image


def check(config: Path, **kw):
    loaded = load_config(config)
    return check_readiness(loaded, open_db(loaded.database), now=datetime.now(timezone.utc),
                           scheduler_running=kw.pop("scheduler_running", True), **kw)


def codes(result) -> dict[str, tuple]:
    return {f.code: (f.level, f.channel, f.post_ids) for f in result.findings}


def test_a_ready_office_has_nothing_to_report(office):
    config, _ = office
    result = check(config)
    assert result.posts == 6 and result.accounts_checked == 3
    assert result.findings == []
    dispatcher = Dispatcher(load_config(config), workers=1)
    Service(load_config(config), dispatcher=dispatcher).heartbeat()  # as `planner run` does every few seconds
    dispatcher.shutdown(timeout=1)
    shown = cli(config, "check")
    assert shown.exit_code == 0 and "Siap: tidak ada masalah." in shown.output, shown.output


def test_each_breakage_is_named_before_the_due_time(office, monkeypatch):
    config, image = office
    db = open_db(load_config(config).database)
    ids = dict(db.execute("SELECT channel || ':' || content_id, id FROM posts").fetchall())
    monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", "expired-token-dicabut")  # the sandbox refuses "expired-*"
    monkeypatch.delenv("HUMAS_SANDBOX_X_TOKEN")                          # secret gone from the service
    image.unlink()                                                       # poster deleted from the folder
    db.conn.execute("UPDATE posts SET state = 'pending_approval' WHERE id IN (?, ?)",
                    [ids["kpu_x:tps-tutup"], ids["kpu_mastodon:tps-buka"]])

    result = check(config, scheduler_running=False)
    found = codes(result)
    assert found["credentials"][:2] == ("problem", "kpu_mastodon")
    assert found["secret_missing"][:2] == ("problem", "kpu_x")
    assert found["no_scheduler"][0] == "problem"
    assert found["awaiting_approval"] == ("warning", None, (ids["kpu_x:tps-tutup"],))  # due in 3 hours
    assert found["approval_urgent"] == ("problem", None, (ids["kpu_mastodon:tps-buka"],))  # due in 2 hours
    missing = sorted(f.post_ids[0] for f in result.findings if f.code == "media_missing")
    assert missing == sorted(ids.values())  # every post carries the poster
    level, channel, posts = found["ig_image_missing"]  # and Instagram could not fetch it from the web server
    assert (level, channel, sorted(posts)) == ("problem", "kpu_ig", sorted([ids["kpu_ig:tps-buka"],
                                                                           ids["kpu_ig:tps-tutup"]]))
    assert "token-dicabut" not in json.dumps([f.params for f in result.findings])

    shown = cli(config, "check")
    assert shown.exit_code == 1, shown.output
    text = " ".join(shown.output.split())
    assert "Penjadwal tidak berjalan" in text and "Akun kpu_mastodon ditolak platform" in text
    assert "HUMAS_SANDBOX_X_TOKEN" in text  # which secret is missing, never its value
    assert "berkas media" in text and "belum disetujui" in text and "WIB" in text
    assert "token-dicabut" not in shown.output


def test_instagram_quota_that_will_not_cover_the_plan(office, sandbox, monkeypatch):
    config, _ = office
    monkeypatch.setattr(graph_api, "PUBLISH_QUOTA", 2)
    from planner.accounts.resolve import resolve_account
    from planner.platforms import make_adapter
    from planner.platforms.base import OutgoingPost

    adapter = make_adapter(resolve_account(load_config(config), "kpu_ig"))
    image = Path(load_config(config).database).parent / "media" / "poster.jpg"
    adapter.publish(OutgoingPost(post_id=99, idempotency_key="k99", text="Sudah terbit", media=(image,)))
    level, channel, posts = codes(check(config))["ig_quota"]
    assert (level, channel, len(posts)) == ("warning", "kpu_ig", 2)  # 1 published + 2 planned > 2


def test_the_scheduler_tells_the_staff_chat_once_per_change(office, sandbox, monkeypatch):
    config, _ = office
    loaded = load_config(config)
    dispatcher = Dispatcher(loaded, workers=1)

    def staff_messages():
        return [p["text"] for p in sandbox.posts()["posts"] if p["platform"] == "telegram"
                and p["account"] == STAFF_CHAT]

    def run_job():  # one hourly run of `planner run`'s readiness job
        preflight.preflight_job(loaded, dispatcher)

    try:
        run_job()
        assert staff_messages() == []  # nothing wrong: nothing sent
        monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", "expired-token-dicabut")
        run_job()
        run_job()  # the same problem an hour later: not sent again
        [alert] = staff_messages()
        assert alert.startswith("Pemeriksaan kesiapan humas-planner: 1 masalah") and "kpu_mastodon" in alert
        from planner.store.audit import head
        assert alert.endswith(f"kepala {head(dispatcher.db).short()}")  # the audit head, kept off the machine
        monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", SANDBOX_SECRETS["HUMAS_SANDBOX_MASTODON_TOKEN"])
        run_job()
        assert outbox.get_setting(dispatcher.db, preflight.ALERTED_KEY) is None  # fixed: forgotten
        monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", "expired-token-dicabut-lagi")
        run_job()
        assert len(staff_messages()) == 2  # broken again: told again
        assert all("token-dicabut" not in m for m in staff_messages())
    finally:
        dispatcher.shutdown(timeout=1)


def test_a_reconnected_account_is_used_without_restarting_the_scheduler(office, sandbox, monkeypatch):
    config, _ = office
    loaded = load_config(config)
    dispatcher = Dispatcher(loaded, workers=1)
    db = dispatcher.db
    [(post_id, due)] = db.execute("SELECT id, due_at FROM posts WHERE channel = 'kpu_mastodon' "
                                  "ORDER BY due_at LIMIT 1").fetchall()
    at = datetime.fromisoformat(due.replace("Z", "+00:00"))

    def send_once():
        [claimed] = outbox.claim_due(db, owner=dispatcher.owner, now=at, lease=timedelta(minutes=2), limit=1,
                                     only_ids=[post_id])
        dispatcher.send(db, claimed)
        return db.execute("SELECT state, error_kind FROM posts WHERE id = ?", [post_id]).fetchone()

    try:
        monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", "expired-token-lama")
        assert send_once() == ("held", None)  # refused for good: held for reconnection (issue 12), not failed
        assert db.execute("SELECT hold_reason FROM posts WHERE id = ?", [post_id]).fetchone()[0] == \
            "reconnect needed: kpu_mastodon"
        # Staff put a new token where the config points (here the environment; a keyring works alike) and
        # the account is checked or connected again, which releases the post: the running scheduler must read
        # the new token, not reuse the refused one.
        monkeypatch.setenv("HUMAS_SANDBOX_MASTODON_TOKEN", SANDBOX_SECRETS["HUMAS_SANDBOX_MASTODON_TOKEN"])
        from planner.store.account_holds import release_reconnected

        assert release_reconnected(db, "kpu_mastodon", now=at, actor="test") == [post_id]
        assert send_once() == ("published", None)
    finally:
        dispatcher.shutdown(timeout=1)


def test_an_image_server_that_does_not_answer_is_a_warning(office, monkeypatch):
    config, _ = office
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    text = config.read_text("utf-8")
    start = text.index("media_base_url = ")
    end = text.index("\n", start)
    config.write_text(text[:start] + f'media_base_url = "http://127.0.0.1:{closed}/media"' + text[end:], "utf-8")
    level, channel, posts = codes(check(config))["ig_image_unreachable"]
    assert (level, channel, len(posts)) == ("warning", "kpu_ig", 2)
