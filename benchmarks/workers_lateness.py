"""Issue 15: publishing lateness with `planner worker` processes on PostgreSQL.

The PostgreSQL twin of benchmarks/publish_precision.py: 500 posts due over 60 s (post i due at
T0 + floor(i x 60 / 500) s, campaign `at` has whole seconds), round-robin over 20 Mastodon accounts,
sandbox latency 50 ms, default pacing. 3 `planner worker` processes on a throwaway PostgreSQL server
(tests/pg.py), started and warm before the first post falls due. Lateness is the posts table's late_ms
(published_at - due_at, the publish's own HTTP request included). Target as on SQLite: p99 <= 1 s.

Database growth: the sum of pg_total_relation_size over every table of the database (planner's tables and
procrastinate's, indexes and TOAST included), measured after `prepare` and again after every post is
published; the difference divided by the posts is the bytes per post, multiplied by 10^6 for a million.

"National day" compression: --posts 5000 --seconds 300 --accounts 100.

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

TABLES_BYTES = """SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema')"""


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
    empty_bytes = _rows(url, TABLES_BYTES)[0][0]
    _apply(config, url, campaign)
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
    full_bytes = _rows(url, TABLES_BYTES)[0][0]
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
