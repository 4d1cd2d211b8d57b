"""Issue 15: throughput of `planner worker` processes on PostgreSQL, with 1, 2 and 4 workers.

2,000 posts due at once across 100 Mastodon accounts, sandbox latency 200 ms. For each worker count: a fresh
database on a throwaway PostgreSQL server (tests/pg.py: initdb into a temporary folder, a unix socket), the
campaign applied (which defers one job per post), the workers started and warm before the posts fall due.
Measured from the first claim to the last published_at, both written by the workers. Target: each doubling
of workers at least 1.7x the posts per second, until the accounts' pacing is the limit.

Pacing as benchmarks/throughput.py: rate 10/s, burst 20, 2 in flight per account (so 100 accounts leave
the workers as the limit).

    python benchmarks/workers_throughput.py [--posts 2000] [--accounts 100] [--latency-ms 200]
                                            [--concurrency 8] [--workers 1,2,4] [--profile FILE]

BENCH_LOCK_HOLDERS=1 also prints what the holder of the write lock was last doing, sampled.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))
from _common import (  # noqa: E402
    PYTHON,
    campaign_toml,
    finish,
    header,
    local_now,
    mastodon_accounts,
    planner_env,
    stop_run,
    tree_cpu_seconds,
    verdict,
    workspace,
    write_config,
)

LEAD_SECONDS = 15
SPEEDUP = 1.7


def _apply(config_path: Path, url: str, campaign: Path) -> None:
    """`campaign apply` through the service function the command calls, on PostgreSQL."""
    os.environ["PLANNER_DATABASE_URL"] = url
    from planner.config import load_config
    from planner.services.apply import apply_checked, check_files
    from planner.store.backend import connect_database
    from planner.workers.run import prepare

    config = load_config(config_path)
    prepare(config)  # procrastinate's schema, so that apply defers the jobs itself
    db = connect_database(url)
    try:
        apply_checked(db, config, check_files(config, [campaign]), actor="bench")
    finally:
        db.close()


def _rows(url: str, sql: str, params=()) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, list(params)).fetchall()


def run_once(server, sandbox, args, workers: int) -> tuple[float, dict, int]:
    directory = workspace(f"workers{workers}")
    accounts_toml, accounts = mastodon_accounts(sandbox.base_url, args.accounts)
    config = write_config(directory, sandbox.base_url, extra_accounts=accounts_toml, publishing=(
        'grace = "2h"\n[publishing.pacing]\nrate = 10\nburst = 20\nmax_in_flight = 2\n'))
    url = server.create_database()
    due = (local_now() + timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    items = [(f"serentak-{i:05d}", f"Pengumuman serentak nomor {i}: cek DPT di situs resmi KPU.", due,
              accounts[i % len(accounts)]) for i in range(args.posts)]
    campaign = directory / "serentak.toml"
    campaign.write_text(campaign_toml("serentak", accounts, items, due.date(), due.date() + timedelta(days=1)),
                        "utf-8")
    _apply(config, url, campaign)
    env = {**planner_env(config), "PLANNER_DATABASE_URL": url}
    procs = [subprocess.Popen([PYTHON, "-m", "planner", "worker", "--concurrency", str(args.concurrency),
                               "--no-monitoring"], env=env, stdout=(directory / f"worker{n}.log").open("w"),
                              stderr=subprocess.STDOUT) for n in range(workers)]
    left = (due - local_now()).total_seconds()
    print(f"   {workers} worker(s) x {args.concurrency}: posts due in {left:.1f} s")
    deadline = time.monotonic() + left + args.posts * args.latency_ms / 1000 + 60
    time.sleep(max(0.0, left - 1))  # the workers are warm and idle by now: CPU counted from here
    before = _cpu(server, procs)
    spy = None
    if args.profile:  # the first worker's Python CPU (--gil: samples of the thread holding the GIL)
        spy = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(procs[0].pid),
                                "--gil", "--threads", "--rate", "200", "--format", "raw", "--output",
                                f"{args.profile}.{workers}", "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sampler = WaitSampler(url)
    sampler.start()
    try:
        while time.monotonic() < deadline:
            done = _rows(url, "SELECT COUNT(*) FROM posts WHERE state = 'published'")[0][0]
            if done >= args.posts or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.5)
        after = _cpu(server, procs)
    finally:
        sampler.stop()
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        codes = [stop_run(p) for p in procs]
    print("   database sessions, mean over the run: " + sampler.summary())
    if os.environ.get("BENCH_LOCK_HOLDERS"):
        for text, count in sorted(sampler.holders.items(), key=lambda kv: -kv[1])[:12]:
            print(f"     {count / max(sampler.samples, 1):.2f}  {text}")
    cpu_ms = {part: (after[part] - before[part]) * 1000 / args.posts for part in before}
    print("   CPU per post: " + ", ".join(f"{part} {ms:.1f} ms" for part, ms in cpu_ms.items())
          + f"; all {sum(cpu_ms.values()):.1f} ms")
    first_claim, last_published = _rows(url, """
        SELECT (SELECT MIN(at) FROM post_events WHERE to_state = 'publishing'), (SELECT MAX(published_at) FROM posts)
    """)[0]
    span = (_ts(last_published) - _ts(first_claim)).total_seconds()
    states = dict(_rows(url, "SELECT state, COUNT(*) FROM posts GROUP BY state"))
    print(f"   exit codes {codes}; states {states}; first claim -> last published {span:.2f} s "
          f"= {args.posts / span:.1f} posts/s")
    finish(directory, states.get("published") == args.posts, args.keep)
    return args.posts / span, states, max(codes), cpu_ms


class WaitSampler(threading.Thread):
    """What the database's client sessions are doing, sampled from pg_stat_activity every 20 ms: how many
    run a statement, wait for the write lock (an advisory lock), wait for another lock, or wait for the
    client (idle in a transaction: a Python thread holding a transaction open between statements)."""

    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.samples, self.counts, self.holders = url, 0, {}, {}
        self._stop_event = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self._stop_event.wait(0.02):
                self.samples += 1
                for state, wait_type, wait in conn.execute(
                        "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()").fetchall():
                    if state == "active" and wait == "advisory":
                        key = "waiting for the write lock"
                    elif state == "active" and wait_type == "Lock":
                        key = f"waiting for a {wait} lock"
                    elif state == "active":
                        key = "running a statement"
                    elif state == "idle in transaction":
                        key = "in a transaction, waiting for its client"
                    else:
                        continue
                    self.counts[key] = self.counts.get(key, 0) + 1
                for (query,) in conn.execute(
                        "SELECT a.query FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                        "WHERE l.locktype = 'advisory' AND l.granted").fetchall():
                    text = " ".join(query.split())[:70]
                    self.holders[text] = self.holders.get(text, 0) + 1

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def summary(self) -> str:
        n = max(self.samples, 1)
        return ", ".join(f"{key} {count / n:.2f}" for key, count in
                         sorted(self.counts.items(), key=lambda kv: -kv[1])) or "nothing"


def _cpu(server, procs) -> dict[str, float]:
    """CPU seconds so far of the workers, of the PostgreSQL server (every backend it ran) and of this process
    (the sandbox answering, plus a count query every 0.5 s)."""
    postmaster = int((server.data / "postmaster.pid").read_text().split()[0])
    return {"workers": sum(tree_cpu_seconds(p.pid) for p in procs), "postgresql": tree_cpu_seconds(postmaster),
            "sandbox": sum(os.times()[:2])}


def _ts(text: str):
    from planner.store.db import parse_utc

    return parse_utc(text)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspaces")
    parser.add_argument("--profile", metavar="FILE", help="record the first worker's CPU with py-spy into "
                        "FILE.<workers> (raw format; pip install py-spy)")
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    header(f"workers throughput: {args.posts} posts due at once, {args.accounts} accounts, latency "
           f"{args.latency_ms:g} ms, workers {counts} x concurrency {args.concurrency}")

    import pg
    from planner.sandbox import Sandbox

    bindir = pg.find_bindir()
    if bindir is None:
        raise SystemExit(pg.NOT_INSTALLED)
    server = pg.PostgresServer(bindir).start()
    rates, ceiling = {}, {}
    ok = True
    try:
        for n in counts:
            with Sandbox(latency_ms=args.latency_ms, seed=5) as sandbox:  # a fresh one: the texts repeat per run
                rate, states, code, cpu_ms = run_once(server, sandbox, args, n)
                ceiling[n] = os.cpu_count() * 1000 / sum(cpu_ms.values())
                summary = sandbox.posts()
                rates[n] = rate
                ok &= (states.get("published") == args.posts == summary["total"] and not summary["duplicates"]
                       and code == 0)
    finally:
        server.stop()
    for n in counts:
        print(f"   {n} worker(s): {rates[n]:.1f} posts/s; this machine's {os.cpu_count()} cores could serve "
              f"{ceiling[n]:.0f} posts/s at that CPU per post")
    for smaller, larger in zip(counts, counts[1:]):
        gain = rates[larger] / rates[smaller]
        print(f"   {smaller} -> {larger} workers: {gain:.2f}x (target >= {SPEEDUP}x per doubling)")
        ok &= gain >= SPEEDUP ** math.log2(larger / smaller)
    return verdict(ok, "workers throughput")


if __name__ == "__main__":
    sys.exit(main())
