"""End-to-end: X's 24-hour cap holds a post until the cap's reset, then it is published once."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402

from planner.sandbox import Sandbox  # noqa: E402


@pytest.fixture
def sandbox():
    with Sandbox(seed=17) as sb:
        yield sb


def test_x_24_hour_cap_holds_the_post_then_it_publishes(make_ws, sandbox):
    ws = make_ws(ph.publishing_toml(lease="30s"))
    # Met at the first try, the cap holds for 4 s; each 429 also says the 15-minute window resets in 1 s.
    sandbox.add_fault("daily_cap", platform="x", path=r"^/2/tweets$", method="POST", reset_in=4)
    at = ph.local_now() + timedelta(seconds=3)
    ws.apply("batas", ph.items("batas", 1, at), channels=["kpu_x"])
    run = ws.start("run")
    # The arrival time is read at the sandbox, then the outcome in the database.
    ph.wait_for(lambda: sandbox.posts()["total"] >= 1, 45, "the tweet at the sandbox", interval=0.05, procs=[run])
    published_at = time.time()
    ph.wait_for(lambda: ws.states() == {"published": 1}, 30, "the tweet recorded as published", procs=[run])
    assert run.stop() == 0

    cap = next(rule for rule in sandbox.state.faults if rule.kind == "daily_cap")
    assert published_at >= cap.capped_until, "nothing may go out before the cap's reset"
    tries = [r for r in sandbox.state.requests if r["method"] == "POST" and r["path"] == "/2/tweets"]
    assert len(tries) == 2, "one try that met the cap, one at its reset: no retry every 15-minute window"
    assert sandbox.posts()["total"] == 1
    [post] = ws.posts()
    assert post["state"] == "published" and post["attempt"] == 2, post
    path = [(e["from_state"], e["to_state"]) for e in ws.events(post["id"])]
    assert path == [(None, "queued"), ("queued", "publishing"), ("publishing", "failed_retryable"),
                    ("failed_retryable", "publishing"), ("publishing", "published")], path
    shown = ws.planner("post", "show", str(post["id"]), check=True).stdout
    assert "batas 24 jam akun ini untuk publish sudah habis" in shown, shown


def test_mastodon_limit_is_the_instance_s_once_the_account_is_checked(tmp_path, sandbox):
    mastodon = next(e for e in sandbox.emulators if e.name == "mastodon")
    mastodon.max_characters = 1000  # this instance allows more than Mastodon's default 500
    ws = ph.Workspace(tmp_path / "ws", sandbox.base_url)
    try:
        text = "Info resmi KPU: " + "pemutakhiran data pemilih berlangsung sampai akhir bulan. " * 12  # ~700
        at = ph.local_now() + timedelta(days=1)
        path = ws.root / "panjang.toml"
        path.write_text(ph.campaign_toml("panjang", [ph.Item(id="panjang-1", text=text, at=at)],
                                         channels=["kpu_mastodon"]), "utf-8")

        before = ws.planner("campaign", "validate", str(path))
        assert before.returncode != 0 and "500" in before.stdout + before.stderr, before.stdout

        checked = ws.planner("account", "check", "kpu_mastodon", check=True).stdout
        assert "Batas teks dari instans: 1000 karakter" in checked, checked

        ws.planner("campaign", "validate", str(path), check=True)
        preview = ws.planner("campaign", "preview", str(path), check=True).stdout
        assert f"{len(text)}/1000 karakter" in preview, preview
        # ...and the instance takes it, as validation now says it will.
        from planner.platforms import make_adapter
        from planner.platforms.base import Account, OutgoingPost

        adapter = make_adapter(Account("kpu_mastodon", "mastodon", api_base_url=sandbox.base_url,
                                       credentials={"access_token": "sandbox-mastodon-token-0001"}))
        adapter.publish(OutgoingPost(post_id=1, idempotency_key="panjang-1", text=text))
        assert sandbox.posts()["total"] == 1
    finally:
        ws.cleanup()


def test_preview_warns_of_a_bluesky_mention_no_one_has(tmp_path, sandbox):
    ws = ph.Workspace(tmp_path / "ws", sandbox.base_url)
    try:
        text = "Terima kasih @kpu.go.id, salam untuk @tidakada.bsky.social"
        path = ws.root / "sebut.toml"
        path.write_text(ph.campaign_toml("sebut", [ph.Item(id="sebut-1", text=text,
                                                           at=ph.local_now() + timedelta(days=1))],
                                         channels=["kpu_bluesky", "kpu_x"]), "utf-8")
        preview = ws.planner("campaign", "preview", str(path), check=True).stdout
        assert "@tidakada.bsky.social tidak dikenal Bluesky" in preview, preview
        assert "@kpu.go.id tidak dikenal" not in preview, preview
        assert preview.count("tidak dikenal Bluesky") == 1, preview  # said for the Bluesky channel only
    finally:
        ws.cleanup()


def test_validate_warns_of_a_bluesky_mention_no_one_has_and_says_when_it_could_not_check(tmp_path, sandbox):
    ws = ph.Workspace(tmp_path / "ws", sandbox.base_url)
    try:
        text = "Terima kasih @kpu.go.id, salam untuk @tidakada.bsky.social"
        path = ws.root / "sebut.toml"
        path.write_text(ph.campaign_toml("sebut", [ph.Item(id="sebut-1", text=text,
                                                           at=ph.local_now() + timedelta(days=1))],
                                         channels=["kpu_bluesky", "kpu_x"]), "utf-8")
        checked = ws.planner("campaign", "validate", str(path), check=True).stdout  # a warning, not a failure
        assert "sebut-1 (kpu_bluesky): @tidakada.bsky.social tidak dikenal Bluesky" in " ".join(checked.split())
        assert "@kpu.go.id tidak dikenal" not in checked and checked.count("tidak dikenal Bluesky") == 1, checked
        asked = [r for r in sandbox.state.requests if r["path"].endswith("resolveHandle")]
        assert len(asked) == 2 and not [r for r in sandbox.state.requests if r["path"].endswith("createSession")]

        offline = ws.planner("campaign", "validate", "--offline", str(path), check=True).stdout
        assert "tidak diperiksa (--offline)" in offline and "tidak dikenal" not in offline, offline
        assert len([r for r in sandbox.state.requests if r["path"].endswith("resolveHandle")]) == 2

        # The account's server does not answer: validation still passes, and says the handles were not checked.
        config = ws.config.read_text("utf-8").replace(sandbox.base_url, "http://127.0.0.1:9")
        ws.config.write_text(config, "utf-8")
        unanswered = ws.planner("campaign", "validate", str(path), check=True).stdout
        said = " ".join(unanswered.split())
        assert "@handle Bluesky untuk akun kpu_bluesky tidak bisa diperiksa: server http://127.0.0.1:9 tidak bisa" \
            " dihubungi" in said, said
        assert "tidak dikenal" not in unanswered, unanswered
    finally:
        ws.cleanup()


def test_apply_dry_run_shows_the_campaign_s_estimated_x_cost(tmp_path, sandbox):
    ws = ph.Workspace(tmp_path / "ws", sandbox.base_url)
    try:
        at = ph.local_now() + timedelta(days=1)
        items = [ph.Item(id="biaya-1", text="Cek DPT di https://cekdptonline.kpu.go.id sekarang", at=at),
                 ph.Item(id="biaya-2", text="Utas pemilih pemula (1/3)", at=at + timedelta(hours=1),
                         thread=["Bagian dua (2/3)", "Bagian tiga: kpu.go.id (3/3)"])]
        path = ws.root / "biaya.toml"
        path.write_text(ph.campaign_toml("biaya", items, channels=["kpu_x", "kpu_mastodon"]), "utf-8")
        # 4 posts on X (a thread's parts are posts); 2 hold a URL (a bare domain counts, as on X).
        shown = ws.planner("campaign", "apply", "--dry-run", str(path), check=True).stdout
        assert "Perkiraan biaya X: US$ 0,43 untuk 4 kiriman (2 di antaranya bertautan)" in shown, shown
        assert ws.posts() == [], "a dry run writes nothing"

        with open(ws.config, "a", encoding="utf-8") as handle:
            handle.write("\n[costs.x]\npost = 0.01\npost_with_link = 0.1\n")
        shown = ws.planner("--lang", "en", "campaign", "apply", "--dry-run", str(path), check=True).stdout
        assert "Estimated X cost: US$ 0.22 for 4 posts (2 of them with a link)" in shown, shown

        with open(ws.config, "a", encoding="utf-8") as handle:
            handle.write("post_read = -1\n")
        refused = ws.planner("campaign", "apply", "--dry-run", str(path))
        assert refused.returncode != 0 and "post_read = -1" in refused.stdout + refused.stderr
    finally:
        ws.cleanup()
