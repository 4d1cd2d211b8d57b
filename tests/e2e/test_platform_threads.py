"""End-to-end: a thread on Facebook and Instagram, whose later parts become comments on the post.

Real `planner` processes publish through facebook-sdk to the sandbox's Graph emulator; the sandbox
is the judge of what arrived, in which order, and how often.
"""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402

from planner.sandbox import Sandbox  # noqa: E402


@pytest.fixture
def sandbox():
    with Sandbox(seed=13) as sb:
        yield sb


def test_thread_on_facebook_and_instagram_becomes_comments_once_each_in_order(make_ws, sandbox):
    ws = make_ws(ph.publishing_toml(lease="30s"))
    thread = ["Langkah 1: buka cekdptonline.kpu.go.id (2/4)", "Langkah 2: masukkan NIK (3/4)",
              "Belum terdaftar? Lapor ke PPS terdekat (4/4)"]
    # The third part (the 2nd comment) fails after parts one and two are live: on Facebook a 5xx (retried),
    # on Instagram the comment is stored but its answer is lost (reconciled, then the 4th part follows).
    sandbox.add_fault("server_error", platform="graph", path=r"^/v[0-9.]+/[0-9]+_[0-9]+/comments$",
                      method="POST", after=1, count=1)
    sandbox.add_fault("drop", platform="graph", path=r"^/v[0-9.]+/179[0-9]+/comments$", method="POST",
                      after=1, count=1)
    at = ph.local_now() + timedelta(hours=1)
    item = ph.Item(id="utas-meta", text="Sudah cek DPT? Ikuti langkahnya di komentar (1/4)", at=at,
                   thread=thread, media=["cek-dpt-poster.jpg"])
    campaign = ws.apply("utas-meta", [item], channels=["kpu_fb", "kpu_ig"])

    preview = ws.planner("campaign", "preview", str(campaign), check=True).stdout
    assert preview.count("komentar 2") == 2 and preview.count("komentar 4") == 2, preview
    assert "bagian utas" not in preview, preview

    ws.due_now()  # its time comes now, not in an hour
    run = ws.start("run")

    def settled() -> bool:
        # Facebook's retry goes at once: its backoff is the retry policy's (tests/unit/test_retry.py); this
        # test judges how the thread goes on, not when.
        ws.skip_retry_waits()
        return ws.open_count() == 0

    ph.wait_for(settled, 60, "both threads finished", procs=[run])
    assert run.stop() == 0
    assert not sandbox.state.faults, "both faults must have happened"

    summary = sandbox.posts()
    assert summary["duplicates"] == {} and summary["total"] == 8, summary  # 4 parts x 2 platforms, once each
    for post in ws.posts():
        assert post["state"] == "published", post
        parts = [p for p in summary["posts"] if p["platform"] == post["platform"]]
        assert [p["text"].split("\n")[0] for p in parts] == [item.text, *thread]  # in order
        ids = json.loads(post["thread_ids"])
        assert ids == [p["id"] for p in parts] and post["platform_post_id"] == ids[0]
        assert [p["extra"].get("comment_on") for p in parts] == [None, ids[0], ids[0], ids[0]]  # comments on it
        shown = ws.planner("post", "show", str(post["id"]), check=True).stdout
        assert "4 dari 4 bagian sudah terbit" in shown, shown
        assert f"4. komentar 4 · sudah terbit ({ids[3]})" in shown, shown
    path = {p["channel"]: [(e["from_state"], e["to_state"]) for e in ws.events(p["id"])] for p in ws.posts()}
    assert ("publishing", "failed_retryable") in path["kpu_fb"], path
    assert ("publishing", "unknown") in path["kpu_ig"] and ("unknown", "queued") in path["kpu_ig"], path
