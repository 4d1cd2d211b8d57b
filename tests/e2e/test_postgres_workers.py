"""`planner worker` processes on one PostgreSQL database (issue 15), judged by the sandbox.

Approval, pause and resume gate the workers as they gate `planner run`; a job run again never sends again;
the periodic work runs once per cluster. The chaos test with SIGKILLs is in test_postgres_workers_chaos.py.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import publishing_helpers as ph  # noqa: E402
import worker_helpers as wh  # noqa: E402

pytest.importorskip("procrastinate")

APPROVAL = """
[approval]
required = true

[users.budi]
role = "staff"
[users.sari]
role = "approver"
"""


def test_approval_pause_and_resume_gate_the_workers(postgres_url, tmp_path, sandbox):
    from planner.services.approval import approve
    from planner.services.pausing import pause, resume
    from planner.clock import now as now_utc

    ws = wh.PgWorkspace(tmp_path / "ws", sandbox.base_url, postgres_url)
    ws.set_config(extra=APPROVAL)
    try:
        worker = ws.start("worker", "--concurrency", "2")  # with the periodic work registered
        wh.wait_for_worker(worker)
        at = ph.local_now() + timedelta(seconds=8)  # more than an apply takes on a loaded machine
        ws.apply("gerbang", ph.items("gerbang", 2, at), channels=["kpu_x", "kpu_mastodon"], actor="budi")
        assert ws.states() == {"pending_approval": 4}
        assert ws.jobs("task_name = 'publish_post'") == [], "no job for a post waiting for an approver"

        # Due and past: nothing goes out without an approval.
        time.sleep(max(0.0, (ph.at_utc(at) - ph.at_utc(ph.local_now())).total_seconds()) + 3)
        assert ws.states() == {"pending_approval": 4}
        assert sandbox.posts()["total"] == 0

        config, db = ws.library()
        try:
            # `planner status` on PostgreSQL: the live worker, holding no post now.
            said = ws.planner("status").stdout
            assert "Pekerja aktif: 1" in said and "sedang menerbitkan: -" in said, said
            listed = json.loads(ws.planner("status", "--json", check=True).stdout)["workers"]
            assert [(len(listed), listed[0]["posts"])] == [(1, [])], listed

            pause(db, "uji jeda", actor="sari", now=now_utc())
            approved = approve(db, campaign="gerbang", actor="sari", role="approver", now=now_utc())
            assert len(approved.done) == 4
            # Approved while paused: the sweep gives them jobs, and the jobs hold them.
            ph.wait_for(lambda: ws.states() == {"held": 4}, 30, "the approved posts held by the pause",
                        procs=[worker])
            time.sleep(3)  # more upkeep rounds: still nothing sent
            assert sandbox.posts()["total"] == 0

            resumed = resume(db, actor="sari", now=now_utc())
            assert len(resumed.released) == 4
        finally:
            db.close()
        ph.wait_for(lambda: ws.states() == {"published": 4}, 30, "everything published after resume",
                    procs=[worker])
        ph.assert_exactly_once(ws, sandbox.posts())
        assert worker.stop() == 0, worker.output()[-3000:]
    finally:
        ws.cleanup()


def test_worker_on_sqlite_says_planner_run_is_the_scheduler_there(kantor):
    from helpers import cli

    result = cli("worker", env={"PLANNER_CONFIG": str(kantor / "config.toml"), "PLANNER_DATABASE_URL": None})
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "hanya untuk basis data PostgreSQL" in said and "planner run" in said, result.output


def test_a_job_run_again_never_sends_again(postgres_url, tmp_path, sandbox, monkeypatch):
    """A job procrastinate runs twice (a stalled worker's, retried) finds its post published and does nothing,
    or held by another owner and waits for that lease, or maybe sent and asks the platform first."""
    from planner.clock import now
    from planner.sandbox.workspace import SANDBOX_SECRETS
    from planner.store import outbox
    from planner.workers.publish import WorkerDispatcher
    from planner.workers.run import prepare

    for key, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(key, value)
    ws = wh.PgWorkspace(tmp_path / "ws", sandbox.base_url, postgres_url)
    # A time the apply cannot overtake on a loaded machine, then moved to now (no worker runs here).
    ws.apply("ulang", ph.items("ulang", 2, ph.local_now() + timedelta(hours=1)), channels=["kpu_mastodon"])
    ws.due_now()
    first, second = (p["id"] for p in ws.posts())
    config, db = ws.library()
    prepare(config)
    try:
        assert WorkerDispatcher(config).run_post(first).at is None
        assert ws.states("id = ?", [first]) == {"published": 1} and sandbox.posts()["total"] == 1
        # Run again, by another worker: published already, nothing sent.
        assert WorkerDispatcher(config).run_post(first).at is None
        assert sandbox.posts()["total"] == 1

        # Held by a worker on another machine (not known to be gone): the job waits for its lease.
        [held] = outbox.claim_due(db, owner="elsewhere:1:abcd", now=now(), lease=timedelta(minutes=1), limit=1,
                                  only_ids=[second])
        again = WorkerDispatcher(config).run_post(second)
        lease_until = ph.parse_utc(ws.posts("id = ?", [second])[0]["lease_until"])
        assert again.at is not None and again.at > lease_until
        assert ws.states("id = ?", [second]) == {"publishing": 1} and sandbox.posts()["total"] == 1
        # It may have been sent, then its lease ran out: the platform is asked before anything is sent.
        assert outbox.mark_send_started(db, second, "elsewhere:1:abcd", now=now(),
                                        lease_until=now() + timedelta(minutes=1))
        ws.execute("UPDATE posts SET lease_until = ? WHERE id = ?",
                   [outbox.utc_iso(now() - timedelta(seconds=1)), second])
        worker = WorkerDispatcher(config)
        waiting = worker.run_post(second)
        assert ws.states("id = ?", [second]) == {"unknown": 1} and waiting.at is not None
        ph.wait_for(lambda: worker.run_post(second).at is None, 20, "reconciled, then published")
        assert ws.states() == {"published": 2}
        path = [(e["from_state"], e["to_state"]) for e in ws.events(second)]
        assert ("publishing", "unknown") in path and ("unknown", "queued") in path, path
        ph.assert_exactly_once(ws, sandbox.posts())
    finally:
        db.close()
        ws.cleanup()


def test_the_periodic_work_runs_on_postgres(postgres_url, tmp_path, sandbox, monkeypatch):
    """What the workers run once per cluster is what `planner run` runs, on the PostgreSQL store."""
    from planner.sandbox.workspace import SANDBOX_SECRETS
    from planner.workers.app import periodic_work
    from planner.workers.publish import WorkerDispatcher
    from planner.workers.run import prepare

    for key, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(key, value)
    ws = wh.PgWorkspace(tmp_path / "ws", sandbox.base_url, postgres_url)
    ws.apply("berkala", ph.items("berkala", 2, ph.local_now() + timedelta(hours=1)), channels=["kpu_mastodon", "kpu_x"])
    ws.due_now()
    config, db = ws.library()
    db.close()
    prepare(config)
    dispatcher = WorkerDispatcher(config)
    for post in ws.posts():
        dispatcher.run_post(post["id"])
    assert ws.states() == {"published": 4}
    names = []
    for name, _seconds, func, *_first in periodic_work(config):
        func(config, dispatcher)  # raises on any trouble with the store
        names.append(name)
    assert {"metrics", "listen", "reports", "preflight"} <= set(names)
    assert ws.rows("SELECT COUNT(*) AS n FROM metric_snapshots")[0]["n"] > 0, "metrics collected from PostgreSQL"
    ws.cleanup()


REFUSE_CLAIMS = """
CREATE FUNCTION refuse_claims() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'claims refused by the test'; END $$;
CREATE TRIGGER refuse_claims BEFORE UPDATE ON posts FOR EACH ROW WHEN (NEW.state = 'publishing')
    EXECUTE FUNCTION refuse_claims();
"""


def test_a_job_that_keeps_raising_backs_off_and_publishes_once_the_cause_is_gone(postgres_url, tmp_path, sandbox,
                                                                                monkeypatch, caplog):
    """The database refuses every claim (a trigger): each job raises inside the task. The post's next job
    waits 2 s, 4 s, 8 s...; the upkeep's sweep leaves that wait alone; once the claims are accepted again the
    post goes out, once."""
    import logging
    from datetime import datetime, timezone

    from planner.sandbox.workspace import SANDBOX_SECRETS
    from planner.workers import jobs
    from planner.workers.app import build_app, sweep
    from planner.workers.publish import WorkerDispatcher
    from planner.workers.run import prepare

    for key, value in SANDBOX_SECRETS.items():
        monkeypatch.setenv(key, value)
    ws = wh.PgWorkspace(tmp_path / "ws", sandbox.base_url, postgres_url)
    ws.apply("mogok", ph.items("mogok", 1, ph.local_now() + timedelta(hours=1)), channels=["kpu_mastodon"])
    ws.due_now()
    [post] = ws.posts()
    config, db = ws.library()
    prepare(config)
    app = build_app(config, WorkerDispatcher(config), monitoring=False)

    def post_jobs(status: str) -> list[dict]:
        return ws.jobs(f"task_name = 'publish_post' AND status = '{status}'")

    def run_due_jobs() -> tuple[datetime, datetime]:
        before = datetime.now(timezone.utc)
        app.run_worker(queues=[jobs.PUBLISH_QUEUE], wait=False, install_signal_handlers=False)
        return before, datetime.now(timezone.utc)

    caplog.set_level(logging.DEBUG, logger="planner.worker")
    ws.execute(REFUSE_CLAIMS)
    try:
        with app.open():
            assert sweep(app, db) == 1, "the sweep gives the post its job"
        for failures in (1, 2, 3):
            before, after = run_due_jobs()
            [job] = post_jobs("todo")
            assert job["args"] == {"post_id": post["id"], "failures": failures}
            wait = jobs.backoff(failures)
            assert wait == timedelta(seconds=2 ** failures)
            assert before + wait <= job["scheduled_at"] <= after + wait, "the next try waits longer each time"
            with app.open():
                assert sweep(app, db) == 0, "the sweep leaves a backoff where it is"
            assert post_jobs("todo") == [job]
            said = [r.getMessage() for r in caplog.records
                    if r.levelno == logging.WARNING and f"#{post['id']}" in r.getMessage()]
            assert len(said) == failures and "RaiseException" in said[-1] and f"ke-{failures}" in said[-1], said
            assert not [r for r in caplog.records if "refused by the test" in r.getMessage() + str(r.exc_text)], \
                "the error's text is never logged (it may carry a secret), the traceback's frames only at debug"
            assert ws.states() == {"queued": 1} and sandbox.posts()["total"] == 0
            ws.execute("UPDATE procrastinate_jobs SET scheduled_at = now() WHERE id = ?", [job["id"]])  # time passes
        assert post_jobs("failed") == [], "no job ends failed: each raise became a later try"
        assert jobs.backoff(20) == timedelta(minutes=5), "the wait stops growing at 5 minutes"

        ws.execute("DROP TRIGGER refuse_claims ON posts")  # the cause is gone
        run_due_jobs()
        assert ws.states() == {"published": 1} and post_jobs("todo") == []
        ph.assert_exactly_once(ws, sandbox.posts())
    finally:
        db.close()
        ws.cleanup()
