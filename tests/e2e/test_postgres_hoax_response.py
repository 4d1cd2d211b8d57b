"""The hoax-response loop on PostgreSQL with `planner worker` processes (issue 15), judged by the sandbox.

Standby content waits (approved, with no job) while the workers publish the ordinary posts; a keyword burst in
the sandbox's mentions, heard by `planner listen`, raises an alert; `planner respond ALERT_ID` releases the
playbook's standby posts, and the workers publish each once on every channel of the playbook. Answered while
paused, the answer is held by the workers until `planner resume`.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402
import worker_helpers as wh  # noqa: E402

pytest.importorskip("procrastinate")

CAMPAIGN = "siaga-pg"
DPT_CHANNELS = ["kpu_x", "kpu_mastodon", "kpu_telegram"]
TPS_CHANNELS = ["kpu_x", "kpu_mastodon"]
DPT_TEXT = "KLARIFIKASI: kabar bahwa DPT bisa diubah lewat tautan WhatsApp adalah hoaks."
TPS_TEXT = "KLARIFIKASI: kabar bahwa TPS dipindah mendadak adalah hoaks."

# rina writes and applies the campaign; sari (another approver) approves: four eyes. budi (staff) responds.
CONFIG_EXTRA = """
[approval]
required = true

[users.rina]
role = "approver"
[users.sari]
role = "approver"
[users.budi]
role = "staff"
"""


def campaign_toml(ordinary_at) -> str:
    """One ordinary post (on Mastodon) at ``ordinary_at``, and two standby answers with their playbooks."""
    start = ordinary_at.date() - timedelta(days=1)
    return f"""
[campaign]
id = "{CAMPAIGN}"
name = "Siaga hoaks di PostgreSQL"
timezone = "Asia/Jakarta"
start = {start}
end = {start + timedelta(days=20)}
channels = {DPT_CHANNELS!r}

[goal]
objective = "Menjawab hoaks dalam hitungan menit"

[[content]]
id = "info-biasa"
text = "Info resmi KPU: cek namamu di DPT."
at = {ordinary_at.isoformat()}
channels = ["kpu_mastodon"]

[[content]]
id = "klarifikasi-dpt"
text = "{DPT_TEXT} Cek data Anda hanya di cekdptonline.kpu.go.id"
standby = true

[[content]]
id = "klarifikasi-tps"
text = "{TPS_TEXT} Lokasi TPS resmi ada di cekdptonline.kpu.go.id"
standby = true
channels = {TPS_CHANNELS!r}

[monitoring]
keywords = ["hoaks DPT", "hoaks TPS"]
spike_threshold = 3

[[response]]
id = "hoaks-dpt"
keywords = ["hoaks DPT"]
content = ["klarifikasi-dpt"]
channels = {DPT_CHANNELS!r}

[[response]]
id = "hoaks-tps"
keywords = ["hoaks TPS"]
content = ["klarifikasi-tps"]
channels = {TPS_CHANNELS!r}
""".replace("'", '"')


def arrived(sandbox, text: str) -> list[str]:
    """The platforms on which ``text`` arrived, once per arrival (sorted)."""
    return sorted(p["platform"] for p in sandbox.posts()["posts"] if text in p["text"])


def test_respond_releases_standby_content_through_the_workers(postgres_url, tmp_path, sandbox):
    from planner.clock import now as now_utc
    from planner.services.pausing import pause, resume

    sandbox.state.natural_burst_rate = 0  # a quiet day: only the injected bursts are spikes
    ws = wh.PgWorkspace(tmp_path / "ws", sandbox.base_url, postgres_url)
    ws.set_config(extra=CONFIG_EXTRA)
    try:
        # Listening is `planner listen` here (below): the workers' own listening could hear a burst first.
        worker = ws.start("worker", "--concurrency", "2", "--no-monitoring")
        # An hour ahead, so the apply cannot overtake it on a loaded machine; moved to now below.
        file = tmp_path / "ws" / f"{CAMPAIGN}.toml"
        file.write_text(campaign_toml(ph.local_now() + timedelta(hours=1)), "utf-8")
        ws.planner("--as", "rina", "campaign", "apply", str(file), check=True)
        standby = {r["id"]: r["content_id"] for r in ws.posts("standby = 1")}
        dpt = [i for i, c in standby.items() if c == "klarifikasi-dpt"]
        tps = [i for i, c in standby.items() if c == "klarifikasi-tps"]
        assert (len(dpt), len(tps)) == (3, 2) and ws.states() == {"pending_approval": 6}
        wh.wait_for_worker(worker)
        ws.due_now("standby = 0")

        approved = ws.planner("--as", "sari", "approve", "--campaign", CAMPAIGN)
        assert approved.returncode == 0, approved.stdout + approved.stderr
        assert ws.states("standby = 1") == {"queued": 5}  # the ordinary post may be on its way already
        # The sweep gave the approved ordinary post a job and the workers published it; the approved standby
        # posts got none and stay as they were, however often the sweep ran meanwhile.
        ph.wait_for(lambda: ws.states("standby = 0") == {"published": 1}, 30, "the ordinary post published",
                    procs=[worker])
        time.sleep(2.5)  # another upkeep round
        lock = "queueing_lock IN ({})".format(", ".join(f"'post:{i}'" for i in standby))
        assert ws.jobs(lock) == []
        assert ws.states("standby = 1") == {"queued": 5}
        assert sandbox.posts()["total"] == 1

        # A burst in the sandbox's mentions, heard by `planner listen`: the alert names the command.
        sandbox.state.add_burst("hoaks DPT", 40)
        heard = ws.planner("listen", check=True).stdout
        assert "LONJAKAN 'hoaks DPT'" in heard and "hoaks TPS" not in heard, heard
        alert_id = int(re.search(r"planner respond (\d+)", heard).group(1))
        assert ws.rows("SELECT keyword FROM alerts WHERE id = ?", [alert_id]) == [{"keyword": "hoaks DPT"}]

        said = ws.planner("--as", "budi", "respond", str(alert_id), check=True).stdout
        assert f"peringatan #{alert_id}: 3 unggahan segera terbit" in " ".join(said.split()), said
        ph.wait_for(lambda: ws.states("id IN ({})".format(",".join(map(str, dpt)))) == {"published": 3}, 30,
                    "the clarification published on its three channels", procs=[worker])
        assert arrived(sandbox, DPT_TEXT) == ["mastodon", "telegram", "x"]
        again = ws.planner("--as", "budi", "respond", str(alert_id), check=True).stdout
        assert "sudah dijawab" in again, again
        # The other answer is still standby, with no job: nothing of it went out.
        assert ws.states("standby = 1") == {"queued": 2} and arrived(sandbox, TPS_TEXT) == []

        # Answered while paused: released, given jobs by the sweep, and held by them until resume.
        config, db = ws.library()
        try:
            pause(db, "uji jeda", actor="sari", now=now_utc())
            sandbox.state.add_burst("hoaks TPS", 40)
            heard = ws.planner("listen", check=True).stdout
            paused_alert = int(re.search(r"planner respond (\d+)", heard).group(1))
            assert "LONJAKAN 'hoaks TPS'" in heard and paused_alert != alert_id, heard
            ws.planner("--as", "budi", "respond", str(paused_alert), check=True)
            tps_in = "id IN ({})".format(",".join(map(str, tps)))
            ph.wait_for(lambda: ws.states(tps_in) == {"held": 2}, 30, "the paused answer held", procs=[worker])
            time.sleep(2.5)  # another upkeep round: still nothing sent
            assert arrived(sandbox, TPS_TEXT) == []
            assert sorted(resume(db, actor="sari", now=now_utc()).released) == sorted(tps)
        finally:
            db.close()
        ph.wait_for(lambda: ws.states(tps_in) == {"published": 2}, 30, "the held answer published after resume",
                    procs=[worker])
        assert arrived(sandbox, TPS_TEXT) == ["mastodon", "x"]

        # Exactly once everywhere, approved by sari (not the author), and both alerts recorded as answered.
        ph.assert_exactly_once(ws, sandbox.posts())
        assert ws.states() == {"published": 6}
        assert {r["approved_by"] for r in ws.posts()} == {"sari"}
        answers = ws.rows("SELECT r.alert_id, r.requested_by, COUNT(*) AS posts, "
                          "SUM(CASE WHEN p.state = 'published' THEN 1 ELSE 0 END) AS published "
                          "FROM responses r JOIN response_posts rp ON rp.response_id = r.id "
                          "JOIN posts p ON p.id = rp.post_id GROUP BY r.id, r.alert_id, r.requested_by "
                          "ORDER BY r.alert_id")
        assert answers == [{"alert_id": alert_id, "requested_by": "budi", "posts": 3, "published": 3},
                           {"alert_id": paused_alert, "requested_by": "budi", "posts": 2, "published": 2}]
        assert worker.stop() == 0, worker.output()[-3000:]
    finally:
        ws.cleanup()
