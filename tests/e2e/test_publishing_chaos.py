"""Chaos tests of the publishing engine: kill -9 mid-run, schedulers racing on one database.

The sandbox's record of what it received is the judge: nothing published twice (per account and
text, and per client key), nothing lost (no post left on its way), and the database agrees with
the sandbox post for post.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402

from planner.sandbox import Sandbox  # noqa: E402


def _publishing_now(ws: ph.Workspace) -> int:
    return ws.rows("SELECT COUNT(*) AS n FROM posts WHERE state = 'publishing'")[0]["n"]


# --- 1. kill -9 at random moments, with faults on ------------------------------------------------------------
KILLS = 12
NEVER_SENT = "claimed by a process that is gone, never sent: queued again"
MAYBE_SENT = "claimed by a process that is gone, may have been sent"
TAKEN_BACK = (NEVER_SENT, MAYBE_SENT, "lease expired, never sent: queued again", "lease expired")


def test_kill9_at_random_moments_publishes_everything_exactly_once(make_ws):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    with Sandbox(seed=seed, latency_ms=10) as sb:
        # Lease 3 s: a killed scheduler's claims expire quickly and go to reconciliation.
        ws = make_ws(ph.publishing_toml(lease="3s", grace="6h", rate=8, burst=4, max_in_flight=3), sb=sb)
        start = ph.local_now() + timedelta(seconds=3)
        contents = ph.items("kacau", 52, lambda i: start + timedelta(seconds=i // 3))  # 3 items a second
        ws.apply("kacau", contents, channels=ph.RECONCILABLE)
        total = len(ws.posts())
        assert total == 208

        sb.state.random_fault_rate = 0.05  # 429s, 5xx and dropped answers on every kind of request
        killed_mid_send = 0
        for _ in range(KILLS):
            run = ws.start("run")
            ph.wait_for_start(run)
            time.sleep(rng.uniform(0.2, 1.5))
            deadline = time.monotonic() + 1.5  # prefer a moment when something is being sent
            while time.monotonic() < deadline and not _publishing_now(ws):
                time.sleep(0.01)
            killed_mid_send += bool(_publishing_now(ws))
            run.kill9()
            assert run.popen.returncode == -9

        # Then let it finish: faults off, retry waits cut short (this test judges losses and duplicates).
        sb.state.random_fault_rate = 0.0
        final = ws.start("run")
        deadline = time.monotonic() + 60
        while ws.open_count() and time.monotonic() < deadline:
            ws.skip_retry_waits()
            time.sleep(0.5)
        assert final.stop() == 0, final.output()

        context = f"seed {seed}, kills mid-send {killed_mid_send}: {ws.states()}"
        assert ws.states() == {"published": total}, context
        summary = sb.posts()
        published = ph.assert_exactly_once(ws, summary)
        assert len(published) == summary["total"] == total, context
        assert killed_mid_send >= 3, context
        # The killed schedulers' claims were taken back by the next one (on this host, at its start).
        interrupted = ws.rows("SELECT COUNT(DISTINCT post_id) AS n FROM post_events WHERE from_state = 'publishing' "
                              "AND to_state IN ('queued', 'unknown') AND detail IN (?, ?, ?, ?)", TAKEN_BACK)
        assert interrupted[0]["n"] >= 1, context


# --- 2. two schedulers (--ignore-lock) and a publish pass on one database -------------------------------------------
def test_two_schedulers_and_a_publish_pass_never_publish_twice(make_ws):
    with Sandbox(seed=21, latency_ms=5) as sb:
        # Slow pacing per process, posts falling due over 6 s: a backlog builds up that all three share.
        ws = make_ws(ph.publishing_toml(lease="30s", rate=1, burst=1, max_in_flight=2), sb=sb)
        at = ph.local_now() + timedelta(seconds=5)
        ws.apply("bersama", ph.items("bersama", 26, lambda i: at + timedelta(seconds=i % 6)),
                 channels=ph.RECONCILABLE)
        total = len(ws.posts())
        assert total == 104

        first, second = ws.start("run", "--ignore-lock"), ws.start("run", "--ignore-lock")
        ph.wait_for_start(first)
        ph.wait_for_start(second)
        said = first.output() + second.output()
        assert "running anyway" in said or "tetap berjalan" in said, "one of them must have found the lock taken"
        time.sleep(max(0.0, (ph.at_utc(at) - datetime.now(timezone.utc)).total_seconds() + 1.0))
        one_pass = ws.start("publish", "--due")
        ph.wait_for(lambda: not one_pass.alive(), 60, "publish --due to finish", procs=[one_pass])
        assert one_pass.popen.returncode == 0, one_pass.output()
        ph.wait_for(lambda: ws.open_count() == 0, 60, "everything published", procs=[first, second])
        assert first.stop() == 0 and second.stop() == 0

        assert ws.states() == {"published": total}
        summary = sb.posts()
        ph.assert_exactly_once(ws, summary)
        assert summary["total"] == total
        claimers = ws.rows("SELECT actor, COUNT(*) AS n FROM post_events WHERE to_state = 'publishing' GROUP BY actor")
        assert len(claimers) == 3, f"the two schedulers and the pass did not all take part: {claimers}"
        assert sum(c["n"] for c in claimers) == total, "each post claimed exactly once"


# --- 3. kill -9: the next scheduler on this host takes the dead one's claims back at once ----------------------
def test_kill9_restart_takes_back_the_dead_schedulers_claims_at_once(make_ws):
    with Sandbox(seed=31, slow_seconds=3) as sb:
        # A 10-minute lease: waiting for it to run out, nothing the dead process held would move for 10 minutes.
        # One token per account every 4 s: each account's second post is claimed, then waits for a token.
        ws = make_ws(ph.publishing_toml(lease="10m", rate=0.25, burst=1, max_in_flight=2), sb=sb)
        sb.add_fault("slow", platform="mastodon", path=r"^/api/v1/statuses$", method="POST", count=1)
        at = ph.local_now() + timedelta(seconds=4)
        ws.apply("pulih", ph.items("pulih", 3, at), channels=ph.RECONCILABLE)
        total = len(ws.posts())

        run = ws.start("run")
        # The slow Mastodon post is stored on the platform, its answer not back yet; the second posts wait for tokens.
        ph.wait_for(lambda: any(p["platform"] == "mastodon" for p in sb.posts()["posts"]), 30,
                    "the slow Mastodon post to arrive", interval=0.02, procs=[run])
        run.kill9()
        held = ws.posts("state = 'publishing'")
        marked = [p for p in held if p["send_started_at"] is not None]
        unmarked = [p for p in held if p["send_started_at"] is None]
        assert "kpu_mastodon" in {p["channel"] for p in marked} and unmarked, held

        ws.set_publishing(ph.publishing_toml(lease="10m"))
        again = ws.start("run")
        ph.wait_for(lambda: ws.open_count() == 0, 60, "everything published", procs=[again])
        assert again.stop() == 0, again.output()
        assert ws.states() == {"published": total}
        ph.assert_exactly_once(ws, sb.posts())

        for post in held:
            path = [(e["from_state"], e["to_state"], e["detail"]) for e in ws.events(post["id"])]
            taken = next(e for e in ws.events(post["id"]) if e["detail"] in (NEVER_SENT, MAYBE_SENT))
            assert ph.event_time(taken) < ph.parse_utc(post["lease_until"]), "taken back only when the lease ran out"
            if post in unmarked:
                # Never sent: straight back to the queue, no question to the platform, sent once afterwards.
                assert ("publishing", "queued", NEVER_SENT) in path and "unknown" not in {p[1] for p in path}, path
                assert ws.posts("id = ?", [post["id"]])[0]["attempt"] == 1, path
            else:
                # The request may have left: the platform is asked first.
                assert ("publishing", "unknown", MAYBE_SENT) in path, path
            if post["channel"] == "kpu_mastodon" and post in marked:
                # The platform has it: found, never sent again.
                assert path[-1][:2] == ("unknown", "published"), path
                assert ws.posts("id = ?", [post["id"]])[0]["attempt"] == 1, path
