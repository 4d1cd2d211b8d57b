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

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402

from planner.sandbox import Sandbox  # noqa: E402


@pytest.fixture
def cleanup():
    made: list[ph.Workspace] = []
    yield made.append
    for ws in made:
        ws.cleanup()


def _publishing_now(ws: ph.Workspace) -> int:
    return ws.rows("SELECT COUNT(*) AS n FROM posts WHERE state = 'publishing'")[0]["n"]


# --- 1. kill -9 at random moments, with faults on ------------------------------------------------------------
KILLS = 12


def test_kill9_at_random_moments_publishes_everything_exactly_once(tmp_path, cleanup):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    with Sandbox(seed=seed, latency_ms=10) as sb:
        # Lease 3 s: a killed scheduler's claims expire quickly and go to reconciliation.
        ws = ph.Workspace(tmp_path / "ws", sb.base_url,
                          publishing=ph.publishing_toml(lease="3s", grace="6h", rate=8, burst=4, max_in_flight=3))
        cleanup(ws)
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
        interrupted = ws.rows("SELECT COUNT(DISTINCT post_id) AS n FROM post_events WHERE detail = 'lease expired'")
        assert interrupted[0]["n"] >= 1, context


# --- 2. two schedulers (--ignore-lock) and a publish pass on one database -------------------------------------------
def test_two_schedulers_and_a_publish_pass_never_publish_twice(tmp_path, cleanup):
    with Sandbox(seed=21, latency_ms=5) as sb:
        # Slow pacing per process, posts falling due over 6 s: a backlog builds up that all three share.
        ws = ph.Workspace(tmp_path / "ws", sb.base_url,
                          publishing=ph.publishing_toml(lease="30s", rate=1, burst=1, max_in_flight=2))
        cleanup(ws)
        at = ph.local_now() + timedelta(seconds=5)
        ws.apply("bersama", ph.items("bersama", 26, lambda i: at + timedelta(seconds=i % 6)),
                 channels=ph.RECONCILABLE)
        total = len(ws.posts())
        assert total == 104

        first, second = ws.start("run", "--ignore-lock"), ws.start("run", "--ignore-lock")
        ph.wait_for_start(first)
        ph.wait_for_start(second)
        assert "running anyway" in first.output() + second.output(), "one of them must have found the lock taken"
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
