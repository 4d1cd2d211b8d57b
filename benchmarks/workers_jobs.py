"""Issue 15: the cost of keeping procrastinate's jobs in step with the posts on PostgreSQL.

1. sync: a campaign of --posts posts (one channel, one minute apart from tomorrow) is applied while
   procrastinate's schema is absent (so no job is deferred), then the schema is applied and the step
   `campaign apply` runs after its transaction (planner/workers/jobs.py::sync, the App opened included) is
   timed: one job deferred per post. A second sync (nothing to do) is timed too.
2. sweep (--explain): the query of the upkeep's sweep (store/worker_jobs.py::needing_jobs) and of sync
   (``timing``) under EXPLAIN (ANALYZE, BUFFERS), with --junk finished jobs (failed / cancelled / succeeded,
   as a cluster keeps them) added beside the live ones.

Throwaway PostgreSQL server (tests/pg.py); no sandbox, no worker process.

    python benchmarks/workers_jobs.py [--posts 5000] [--explain --junk 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from _common import campaign_toml, finish, header, mastodon_accounts, verdict, workspace, write_config  # noqa: E402


def _apply_without_jobs(config_path: Path, campaign: Path):
    from planner.config import load_config
    from planner.services.apply import apply_checked, check_files
    from planner.store.backend import connect_database

    config = load_config(config_path)
    db = connect_database(config.database_url)
    apply_checked(db, config, check_files(config, [campaign]), actor="bench")  # no schema yet: no job
    return config, db


def _timed_sync(db, campaign_id: str) -> tuple[float, int]:
    from planner.workers import jobs

    start = time.perf_counter()
    app = jobs.procrastinate_app(db.url)
    with app.open():
        deferred = jobs.sync(app, db, campaigns=[campaign_id])
    return time.perf_counter() - start, deferred


def _junk(db, count: int) -> None:
    """Finished jobs of earlier posts (ids above the real ones), as a long-lived cluster keeps them."""
    db.execute(
        """INSERT INTO procrastinate_jobs (queue_name, task_name, queueing_lock, args, status, scheduled_at)
           SELECT 'publish', 'publish_post', 'post:' || (1000000 + g),
                  jsonb_build_object('post_id', 1000000 + g),
                  (ARRAY['failed', 'cancelled', 'succeeded'])[1 + g % 3]::procrastinate_job_status, now()
           FROM generate_series(1, ?) AS g""", [count])
    db.execute("ANALYZE procrastinate_jobs")
    db.execute("ANALYZE posts")


class _Plans:
    """EXPLAIN ANALYZE of every statement the store runs on ``db`` while inside (auto_explain, as notices)."""

    def __init__(self, db):
        self.db, self.plans = db, []

    def __enter__(self):
        self.db.raw.add_notice_handler(self._notice)
        for sql in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0", "SET auto_explain.log_analyze = on",
                    "SET auto_explain.log_buffers = on", "SET auto_explain.log_level = notice"):
            self.db.execute(sql)
        return self

    def _notice(self, diag) -> None:
        self.plans.append(diag.message_primary or "")

    def __exit__(self, *exc) -> None:
        self.db.execute("SET auto_explain.log_min_duration = -1")
        self.db.raw.remove_notice_handler(self._notice)


def _explained(db, label: str, fn) -> None:
    with _Plans(db) as plans:
        fn()
    print(f"   -- {label}")
    for plan in plans.plans:
        for line in plan.splitlines():
            print(f"      {line}")
    runs = []
    for _ in range(5):
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)
    print(f"   {label}: best of 5 {min(runs) * 1000:.1f} ms, median {sorted(runs)[2] * 1000:.1f} ms")


def run(server, args) -> bool:
    directory = workspace("workers-jobs")
    accounts_toml, accounts = mastodon_accounts("http://127.0.0.1:9", 1)
    config_path = write_config(directory, "http://127.0.0.1:9", extra_accounts=accounts_toml, publishing="")
    os.environ["PLANNER_DATABASE_URL"] = server.create_database()
    zone = ZoneInfo("Asia/Jakarta")
    first = (datetime.now(zone) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    items = [(f"k-{i:05d}", f"Pengumuman nomor {i}: cek DPT.", first + timedelta(minutes=i)) for i in range(args.posts)]
    campaign = directory / "sinkron.toml"
    campaign.write_text(campaign_toml("sinkron", accounts, items, first.date(),
                                      (first + timedelta(minutes=args.posts)).date() + timedelta(days=1)), "utf-8")
    config, db = _apply_without_jobs(config_path, campaign)
    try:
        from planner.workers.run import prepare

        prepare(config)
        seconds, deferred = _timed_sync(db, "sinkron")
        jobs_now = db.execute("SELECT COUNT(*) FROM procrastinate_jobs WHERE status = 'todo'").fetchone()[0]
        print(f"   sync of {args.posts:,} posts without jobs: {seconds:.3f} s, {deferred:,} deferred, "
              f"{jobs_now:,} waiting jobs")
        again, deferred_again = _timed_sync(db, "sinkron")
        print(f"   sync again (nothing to do): {again:.3f} s, {deferred_again} deferred")
        ok = deferred == args.posts == jobs_now and deferred_again == 0
        if args.explain:
            from planner.store import worker_jobs

            _junk(db, args.junk)
            counts = dict(db.execute("SELECT status::text, COUNT(*) FROM procrastinate_jobs GROUP BY 1").fetchall())
            print(f"   procrastinate_jobs by status: {counts}")
            _explained(db, "needing_jobs (the upkeep's sweep, every 2 s)", lambda: worker_jobs.needing_jobs(db))
            _explained(db, "timing of the campaign's posts (sync after apply)",
                       lambda: worker_jobs.timing(db, campaigns=["sinkron"]))
    finally:
        db.close()
    print(f"   load average at end {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finish(directory, ok, args.keep)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN the sweep's query after the sync")
    parser.add_argument("--junk", type=int, default=100_000, help="finished jobs added for --explain")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    header(f"workers jobs: sync of {args.posts:,} posts" + (f", sweep EXPLAIN with {args.junk:,} finished jobs"
                                                            if args.explain else ""))
    import pg

    bindir = pg.find_bindir()
    if bindir is None:
        raise SystemExit(pg.NOT_INSTALLED)
    server = pg.PostgresServer(bindir).start()
    try:
        ok = run(server, args)
    finally:
        server.stop()
    return verdict(ok, "workers jobs")


if __name__ == "__main__":
    sys.exit(main())
