"""Issue 15: publishing lateness with `planner worker` processes on PostgreSQL.

The PostgreSQL twin of benchmarks/publish_precision.py: 500 posts due over 60 s (post i due at
T0 + floor(i x 60 / 500) s, campaign `at` has whole seconds), round-robin over 20 Mastodon accounts,
sandbox latency 50 ms, default pacing. 3 `planner worker` processes on a throwaway PostgreSQL server
(tests/pg.py), started and warm before the first post falls due. Lateness is the posts table's late_ms
(published_at - due_at, the publish's own HTTP request included). Target as on SQLite: p99 <= 1 s.

Database growth: pg_total_relation_size of every table (indexes and TOAST included) after `prepare`, then
at later points, split into planner's tables (posts, post_events, audit_log, content...) and
procrastinate's (procrastinate_jobs, _events, _periodic_defers, _workers); the difference from `prepare`
divided by the posts is the bytes per post, x 10^6 for a million:

0. after `campaign apply`, before the first post falls due: every post waiting with its job (the job queue at
   its largest: procrastinate's files keep this size afterwards, reused for later jobs);
1. after publishing: the files as the run leaves them (dead rows not yet vacuumed included);
2. after the cluster's clean-up and a plain VACUUM: procrastinate's events moved back by `keep_jobs` + 1 day
   (as the daily clean-up finds them that much later), the clean-up task the workers register
   (planner/workers/app.py) run once, then VACUUM. Still file sizes: VACUUM makes dead rows' space reusable
   but gives back only empty pages at a table's end (indexes never shrink);
3. live data: after VACUUM FULL (every table rewritten), what the rows themselves take.

Every table rounds up to whole pages, and VACUUM adds each table's and index's free space and visibility
maps (a few pages each): a small run overstates all of these; the larger the run, the better the estimate.

The first line ("tables: ... bytes per post") is stage 1 for all tables together, as before.

"National day" compression: --posts 5000 --seconds 300 --accounts 100; issue 15's example (1,000,000 posts
over 24 h, compressed): --posts 20000 --seconds 600 --accounts 200.

    python benchmarks/workers_lateness.py [--posts 500] [--seconds 60] [--accounts 20] [--workers 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    campaign_toml,
    finish,
    header,
    local_now,
    mastodon_accounts,
    percentile,
    planner_env,
    stop_run,
    verdict,
    workspace,
    write_config,
)
from workers_throughput import _apply, _rows  # noqa: E402

LEAD_SECONDS = 20
P99_TARGET_MS = 1000

TABLE_BYTES = """SELECT c.relname, pg_total_relation_size(c.oid)::bigint FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"""
GROUPS = ("planner", "procrastinate")


def _execute(url: str, sql: str, params=()) -> None:
    """A statement without rows (UPDATE, VACUUM), outside a transaction."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql, list(params))


def _sizes(url: str) -> dict[str, int]:
    """Bytes per table (indexes and TOAST included)."""
    return dict(_rows(url, TABLE_BYTES))


def _group(table: str) -> str:
    return "procrastinate" if table.startswith("procrastinate_") else "planner"


def _per_post(before: dict[str, int], after: dict[str, int], posts: int) -> dict[str, float]:
    """Growth per post by table, and by group ('planner', 'procrastinate', 'all')."""
    grown = {name: (after.get(name, 0) - before.get(name, 0)) / posts for name in set(before) | set(after)}
    for group in GROUPS:
        grown[group] = sum(v for name, v in grown.items() if name not in GROUPS and _group(name) == group)
    grown["all"] = grown["planner"] + grown["procrastinate"]
    return grown


def _cleanup(config_path: Path, url: str) -> tuple[dict, dict]:
    """The daily clean-up as it finds procrastinate's jobs `keep_jobs` + 1 day later: (jobs by status before,
    after)."""
    import asyncio

    from planner.config import load_config
    from planner.workers import jobs
    from planner.workers.app import register_cleanup

    config = load_config(config_path)
    by_status = "SELECT status::text, COUNT(*) FROM procrastinate_jobs GROUP BY status"
    before = dict(_rows(url, by_status))
    _execute(url, "UPDATE procrastinate_events SET at = at - %s::interval",
             [f"{int((config.keep_jobs + timedelta(days=1)).total_seconds())} seconds"])
    app = jobs.procrastinate_app(url)
    task = register_cleanup(app, config.keep_jobs)

    async def once() -> None:
        async with app.open_async():
            await task.defer_async(timestamp=0)
            await app.run_worker_async(queues=["periodic"], wait=False, concurrency=1, delete_jobs="successful",
                                       install_signal_handlers=False)

    asyncio.run(once())
    return before, dict(_rows(url, by_status))


def _report_growth(stages: list[tuple[str, dict[str, float]]]) -> None:
    columns = (*GROUPS, "all")
    print("   growth per post (per million posts), indexes and TOAST included:")
    print(f"     {'':38}" + "".join(f"{g:>24}" for g in columns))
    for title, grown in stages:
        print(f"     {title:38}" + "".join(f"{grown[g]:>9,.0f} B ({grown[g] / 1e3:5.2f} GB)" for g in columns))
    tables = sorted(name for name in stages[0][1] if name not in columns
                    and any(abs(grown.get(name, 0)) >= 0.5 for _t, grown in stages))
    print(f"     by table, bytes per post at stages {', '.join(t.split('.')[0] for t, _g in stages)}:")
    for name in tables:
        print(f"       {name:36}" + "".join(f"{grown.get(name, 0):>10,.0f}" for _t, grown in stages))


def run(server, sandbox, args) -> bool:
    directory = workspace("workers-lateness")
    accounts_toml, accounts = mastodon_accounts(sandbox.base_url, args.accounts)
    config = write_config(directory, sandbox.base_url, extra_accounts=accounts_toml, publishing='grace = "2h"\n')
    url = server.create_database()
    t0 = (local_now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    items = [(f"hari-{i:05d}", f"Pengumuman nomor {i}: cek DPT di situs resmi KPU.",
              t0 + timedelta(seconds=i * args.seconds // args.posts), accounts[i % len(accounts)])
             for i in range(args.posts)]
    campaign = directory / "hari.toml"
    campaign.write_text(campaign_toml("hari", accounts, items, t0.date(), (t0 + timedelta(seconds=args.seconds)).date()
                                      + timedelta(days=1)), "utf-8")
    import os

    os.environ["PLANNER_DATABASE_URL"] = url
    from planner.config import load_config
    from planner.workers.run import prepare

    prepare(load_config(config))
    empty = _sizes(url)
    empty_bytes = sum(empty.values())
    _apply(config, url, campaign)
    applied = _sizes(url)  # every post waiting with its job: the job queue at its largest
    env = {**planner_env(config), "PLANNER_DATABASE_URL": url}
    procs = [subprocess.Popen([PYTHON, "-m", "planner", "worker", "--no-monitoring"], env=env,
                              stdout=(directory / f"worker{n}.log").open("w"), stderr=subprocess.STDOUT)
             for n in range(args.workers)]
    left = (t0 - local_now()).total_seconds()
    print(f"   {args.workers} workers; first post due in {left:.1f} s")
    deadline = time.monotonic() + left + args.seconds + 120
    try:
        while time.monotonic() < deadline:
            done = _rows(url, "SELECT COUNT(*) FROM posts WHERE state = 'published'")[0][0]
            if done >= args.posts or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.5)
    finally:
        codes = [stop_run(p) for p in procs]
    late = sorted(float(r[0]) for r in _rows(url, "SELECT late_ms FROM posts WHERE late_ms IS NOT NULL"))
    states = dict(_rows(url, "SELECT state, COUNT(*) FROM posts GROUP BY state"))
    published = _sizes(url)
    full_bytes = sum(published.values())
    summary = sandbox.posts()
    print(f"   exit codes {codes}; states {states}; sandbox total {summary['total']}, "
          f"duplicates {summary['duplicates']}")
    ok = states.get("published") == args.posts == summary["total"] and not summary["duplicates"]
    if late:
        p99 = percentile(late, 99)
        print(f"   lateness ms: p50 {percentile(late, 50):.1f}  p90 {percentile(late, 90):.1f}  p99 {p99:.1f}  "
              f"max {max(late):.1f}  (target p99 <= {P99_TARGET_MS})")
        ok &= p99 <= P99_TARGET_MS
    per_post = (full_bytes - empty_bytes) / args.posts
    print(f"   tables: {empty_bytes / 1e6:.2f} MB after prepare, {full_bytes / 1e6:.2f} MB after publishing; "
          f"{per_post:.0f} bytes per post = {per_post * 1e6 / 1e9:.2f} GB per million posts")
    jobs_before, jobs_after = _cleanup(config, url)
    print(f"   procrastinate jobs left by status: {jobs_before or 'none'} after publishing, "
          f"{jobs_after or 'none'} after the daily clean-up")
    _execute(url, "VACUUM")
    vacuumed = _sizes(url)
    _execute(url, "VACUUM FULL")
    live = _sizes(url)
    _report_growth([("0. applied, jobs waiting (files)", _per_post(empty, applied, args.posts)),
                    ("1. after publishing (files)", _per_post(empty, published, args.posts)),
                    ("2. after clean-up + VACUUM (files)", _per_post(empty, vacuumed, args.posts)),
                    ("3. live data (after VACUUM FULL)", _per_post(empty, live, args.posts))])
    finish(directory, ok, args.keep)
    return ok and max(codes) == 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    header(f"workers lateness: {args.posts} posts over {args.seconds} s, {args.accounts} accounts, "
           f"{args.workers} workers, sandbox latency {args.latency_ms:g} ms")

    import pg
    from planner.sandbox import Sandbox

    bindir = pg.find_bindir()
    if bindir is None:
        raise SystemExit(pg.NOT_INSTALLED)
    server = pg.PostgresServer(bindir).start()
    try:
        with Sandbox(latency_ms=args.latency_ms, seed=4) as sandbox:
            ok = run(server, sandbox, args)
    finally:
        server.stop()
    return verdict(ok, "workers lateness")


if __name__ == "__main__":
    sys.exit(main())
