"""Three `planner worker` processes on one PostgreSQL database (issue 15), judged by the sandbox: posts fall
due over some seconds while faults are on and workers are killed with SIGKILL and started again. Every post
arrives once, none is lost, none twice. (Its own file so that the parallel suite runs it beside the others.)
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402
import worker_helpers as wh  # noqa: E402

from planner.sandbox import Sandbox  # noqa: E402

pytest.importorskip("procrastinate")

RETRIED = "dijalankan ulang oleh pekerja lain"
NEVER_SENT = "claimed by a process that is gone, never sent: queued again"
MAYBE_SENT = "claimed by a process that is gone, may have been sent"


def _owners_sending(ws: wh.PgWorkspace) -> set[int]:
    """The pids of the workers holding a post in 'publishing' now (lease owner: host:pid:...)."""
    return {int(r["lease_owner"].split(":")[1]) for r in ws.rows(
        "SELECT lease_owner FROM posts WHERE state = 'publishing' AND lease_owner IS NOT NULL")}


def test_three_workers_killed_at_random_publish_everything_exactly_once(postgres_url, tmp_path):
    seed = random.randrange(1_000_000)
    rng = random.Random(seed)
    with Sandbox(seed=seed, latency_ms=100) as sb:
        ws = wh.PgWorkspace(tmp_path / "ws", sb.base_url, postgres_url,
                            publishing=ph.publishing_toml(lease="5s", grace="6h", rate=6, burst=3, max_in_flight=2))
        try:
            workers = [ws.start("worker", "--concurrency", "3", "--no-monitoring") for _ in range(3)]
            for worker in workers:
                wh.wait_for_worker(worker)
            start = ph.local_now() + timedelta(seconds=3)
            ws.apply("kacau", ph.items("kacau", 45, lambda i: start + timedelta(seconds=i // 3)),
                     channels=ph.RECONCILABLE)
            total = len(ws.posts())
            assert total == 180
            assert len(ws.jobs("task_name = 'publish_post'")) == total, "campaign apply defers one job per post"

            sb.state.random_fault_rate = 0.05  # 429s, 5xx and dropped answers
            kills = killed_mid_send = 0
            deadline = time.monotonic() + 25
            while time.monotonic() < deadline and ws.open_count():
                time.sleep(rng.uniform(0.5, 2.5))
                sending = _owners_sending(ws)
                look_until = time.monotonic() + 1.5  # a send lasts moments: wait for one to kill its worker mid-send
                while not sending and time.monotonic() < look_until and ws.open_count():
                    time.sleep(0.02)
                    sending = _owners_sending(ws)
                candidates = [w for w in workers if w.alive() and w.pid in sending] or [w for w in workers if w.alive()]
                victim = rng.choice(candidates)
                killed_mid_send += victim.pid in sending
                victim.kill9()
                assert victim.popen.returncode == -9
                kills += 1
                workers[workers.index(victim)] = replacement = ws.start("worker", "--concurrency", "3",
                                                                        "--no-monitoring")
                wh.wait_for_worker(replacement)

            sb.state.random_fault_rate = 0.0
            finish = time.monotonic() + 150  # a budget on a loaded machine, not a measurement
            while ws.open_count() and time.monotonic() < finish:
                ws.skip_retry_waits()
                time.sleep(0.5)
            context = f"seed {seed}, kills {kills}, mid-send {killed_mid_send}: {ws.states()}"
            logs = "".join(w.output() for w in ws.procs)
            if ws.open_count():
                context += (f"\njobs: {ws.rows('SELECT task_name, status, worker_id, COUNT(*) AS n FROM procrastinate_jobs GROUP BY 1, 2, 3')}"
                            f"\nworkers: {ws.rows('SELECT * FROM procrastinate_workers')}"
                            f"\nopen: {ws.rows('SELECT id, state, lease_owner, lease_until, updated_at FROM posts WHERE state <> %s', ['published'])}"
                            f"\n{workers[0].output()[-4000:]}")
            for worker in workers:
                assert worker.stop() == 0, worker.output()[-3000:]

            assert ws.states() == {"published": total}, context
            summary = sb.posts()
            published = ph.assert_exactly_once(ws, summary)
            assert len(published) == summary["total"] == total, context
            assert kills >= 5 and killed_mid_send >= 2, context
            # Killed workers' claims were taken back (their owner is gone: at once on this host).
            taken = ws.rows("SELECT COUNT(DISTINCT post_id) AS n FROM post_events WHERE from_state = 'publishing' "
                            "AND to_state IN ('queued', 'unknown') AND detail IN (?, ?)", [NEVER_SENT, MAYBE_SENT])
            assert taken[0]["n"] >= 1, context
            # ... and their running jobs were run again by the others once their heartbeats stopped.
            assert RETRIED in logs, context
            claimers = ws.rows("SELECT COUNT(DISTINCT actor) AS n FROM post_events WHERE to_state = 'publishing'")
            assert claimers[0]["n"] >= 3, context
        finally:
            ws.cleanup()
