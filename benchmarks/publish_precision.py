"""Target 4: publishing precision. 500 posts due over 60 s, sandbox latency 50 ms, `planner run` as a
subprocess: lateness (published_at - due_at, the posts table's late_ms) p50 <= 100 ms, p99 <= 1 s.

Due times come from a campaign file, whose `at` has whole seconds: post i is due at
T0 + floor(i x 60 / 500) s, so 8 or 9 posts fall due together every second for 60 s. The posts go
round-robin to 20 Mastodon accounts (distinct tokens, so distinct sandbox users): 25 posts per
account, one every 2.4 s, well inside the default pacing (1 post/s sustained, burst 5, 2 in flight),
so pacing does not shape the result. Default workers (8). The campaign is validated and applied,
then `planner run` starts about 20 s before the first post is due.

late_ms includes the publish itself (one HTTP request with 50 ms of sandbox latency), because
published_at is taken when the platform has answered. The claim delay (the 'publishing' event's
time - due_at) and the sending time (published_at - that event) are shown too, to tell scheduling
delay from sending time, and how late this machine wakes a sleeping thread during the run (a
machine whose timers overshoot makes both the scheduler's wake-up and the sandbox's 50 ms sleep late).

    python benchmarks/publish_precision.py [--posts 500] [--seconds 60] [--accounts 20]

--coincide: "publishing first". The periodic jobs (metrics collection of every published post, listening,
the readiness check, a database backup) are forced to run together at T0 + 15, 30 and 45 s (--coincide-every),
and each of those seconds also brings a burst of --burst extra posts (one per account) on top of the stream.
The campaign collects metrics every second (so each run collects every post published so far) and listens
for two keywords; the backup's "once a day" is reset before each run, and the database carries --pad-mb of
filler (a table of its own) so that each copy has real work to do. The scheduler is `planner run` with
only the jobs' times changed (this script, started with --scheduler). Its log shows each job's start and
end (lines "bench-job"), so one can see that they really overlapped the burst. --control runs the same
posts and bursts with the jobs moved out of the window, to tell what the bursts cost by themselves.

    python benchmarks/publish_precision.py --coincide [--burst 20] [--coincide-every 15] [--pad-mb 64] [--control]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    PYTHON,
    campaign_toml,
    finish,
    db_rows,
    header,
    local_now,
    mastodon_accounts,
    percentile,
    planner,
    planner_env,
    start_run,
    stop_run,
    verdict,
    workspace,
    write_config,
)

LEAD_SECONDS = 20
TARGET_P50_MS = 100
TARGET_P99_MS = 1000


def stats(values: list[float]) -> str:
    return (f"p50 {percentile(values, 50):7.1f}  p90 {percentile(values, 90):7.1f}  "
            f"p99 {percentile(values, 99):7.1f}  max {max(values):7.1f}  min {min(values):7.1f} ms")


ZONE = ZoneInfo("Asia/Jakarta")


def run_scheduler(jobs_at: str, every: float) -> None:
    """`planner run` (this process), with the periodic jobs' first runs at ``jobs_at`` (UTC, ISO) and then
    every ``every`` seconds, each logging its start and end; the backup's once-a-day is reset each time."""
    import planner.cli.main
    from planner.monitoring import jobs
    from planner.publishing import backup_job, preflight
    from planner.store import outbox

    first = datetime.fromisoformat(jobs_at)

    def timed(name, func):
        def job(config, dispatcher):
            if name == "backup":
                outbox.set_setting(dispatcher.db, backup_job.LAST_BACKUP_KEY, None, now=datetime.now(timezone.utc))
            print(f"bench-job {name} start {time.time():.3f}", flush=True)
            try:
                func(config, dispatcher)
            finally:
                print(f"bench-job {name} end {time.time():.3f}", flush=True)
        return job

    def forced(entry):
        return (entry[0], every, timed(entry[0], entry[2]), first)

    jobs.MONITORING_JOBS = [forced(j) if j[0] in ("metrics", "listen") else j for j in jobs.MONITORING_JOBS]
    backup_job.BACKUP_JOB = forced(backup_job.BACKUP_JOB)
    preflight.PREFLIGHT_JOB = forced(preflight.PREFLIGHT_JOB)
    sys.argv = ["planner", "run"]
    planner.cli.main.run()


def pad(database: Path, megabytes: int) -> None:
    """``megabytes`` of incompressible filler in a table the planner never reads (the backup copies it)."""
    import sqlite3

    conn = sqlite3.connect(database)
    with conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_padding (id INTEGER PRIMARY KEY, filler BLOB NOT NULL)")
        conn.executemany("INSERT INTO bench_padding (filler) VALUES (?)",
                         ((os.urandom(4000),) for _ in range(megabytes * 1024 * 1024 // 4096)))
    conn.close()


def job_spans(log_text: str) -> dict[str, list[tuple[float, float]]]:
    """Job name -> [(start, end)] in epoch seconds, from the scheduler's "bench-job" lines."""
    spans: dict[str, list[tuple[float, float]]] = {}
    started: dict[str, float] = {}
    for name, what, at in re.findall(r"bench-job (\w+) (start|end) (\d+\.\d+)", log_text):
        if what == "start":
            started[name] = float(at)
        elif name in started:
            spans.setdefault(name, []).append((started.pop(name), float(at)))
    return spans


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    parser.add_argument("--coincide", action="store_true",
                        help="periodic jobs forced to run together with bursts of due posts")
    parser.add_argument("--coincide-every", type=int, default=15)
    parser.add_argument("--burst", type=int, default=20, help="extra posts due at each coinciding second")
    parser.add_argument("--pad-mb", type=int, default=64, help="filler in the database (with --coincide)")
    parser.add_argument("--control", action="store_true", help="with --coincide: the jobs outside the window")
    parser.add_argument("--scheduler", metavar="JOBS_AT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scheduler:
        run_scheduler(args.scheduler, args.coincide_every)
        return 0
    header(f"publishing precision: {args.posts} posts over {args.seconds} s, sandbox latency {args.latency_ms:g} ms"
           + (f"; periodic jobs forced every {args.coincide_every} s with bursts of {args.burst} posts"
              if args.coincide else ""))

    from planner.sandbox import Sandbox

    with Sandbox(latency_ms=args.latency_ms, seed=4) as sandbox:
        directory = workspace("precision")
        accounts_toml, accounts = mastodon_accounts(sandbox.base_url, args.accounts)
        config = write_config(directory, sandbox.base_url, publishing='grace = "2h"', extra_accounts=accounts_toml)
        if args.coincide and args.pad_mb:
            pad(directory / "planner.db", args.pad_mb)
        first_due = (local_now() + timedelta(seconds=LEAD_SECONDS + 1)).replace(microsecond=0)
        items = [(f"tepat-{i:04d}", f"Pengumuman tepat waktu nomor {i}: cek DPT di situs resmi KPU.",
                  first_due + timedelta(seconds=i * args.seconds // args.posts), accounts[i % len(accounts)])
                 for i in range(args.posts)]
        coincide = [first_due + timedelta(seconds=s) for s in range(args.coincide_every, args.seconds,
                                                                    args.coincide_every)] if args.coincide else []
        for k, moment in enumerate(coincide):
            items += [(f"serentak-{k}-{a:02d}", f"Pengumuman serentak {k}-{a}: cek DPT di situs resmi KPU.", moment,
                       account) for a, account in enumerate(accounts[:args.burst])]
        campaign = directory / "campaigns" / "tepat-waktu.toml"
        campaign.parent.mkdir(exist_ok=True)
        text = campaign_toml("tepat-waktu", accounts, items, first_due.date(), first_due.date() + timedelta(days=1))
        if args.coincide:  # every run of the metrics job collects every published post; listening has work
            text += '\n[monitoring]\ncollect_every = "1s"\nkeywords = ["DPT", "pemilu"]\n'
        campaign.write_text(text, "utf-8")
        total = len(items)
        planner("campaign", "validate", str(campaign), config=config)
        planner("campaign", "apply", str(campaign), config=config)
        seconds_left = (first_due - local_now()).total_seconds()
        print(f"   {len(accounts)} Mastodon accounts, workers 8 (default), pacing default (rate 1/s, burst 5, "
              f"2 in flight); first post due in {seconds_left:.1f} s")
        if seconds_left < 3:
            raise SystemExit("apply took too long: the first post is (nearly) due before `planner run` starts")
        db = directory / "planner.db"
        if coincide:
            jobs_first = coincide[0] + (timedelta(days=1) if args.control else timedelta(0))
            jobs_at = jobs_first.replace(tzinfo=ZONE).astimezone(timezone.utc).isoformat()
            handle = (directory / "run.log").open("w")
            proc = subprocess.Popen([PYTHON, os.path.abspath(__file__), "--scheduler", jobs_at, "--coincide-every",
                                     str(args.coincide_every)], env=planner_env(config), stdout=handle,
                                    stderr=subprocess.STDOUT)
        else:
            proc = start_run(config, directory / "run.log")
        deadline = time.monotonic() + seconds_left + args.seconds + 60
        overshoot = []  # how late this machine wakes a sleeping thread (a 1 s sleep each round)
        try:
            while time.monotonic() < deadline:
                done = db_rows(db, "SELECT COUNT(*) FROM posts WHERE state = 'published'")[0][0]
                if done >= total or proc.poll() is not None:
                    break
                start = time.perf_counter()
                time.sleep(1)
                overshoot.append((time.perf_counter() - start - 1) * 1000)
        finally:
            code = stop_run(proc)
        rows = db_rows(db, """SELECT p.late_ms, (julianday(p.published_at) - julianday(p.due_at)) * 86400000.0,
                                     (SELECT (julianday(MIN(e.at)) - julianday(p.due_at)) * 86400000.0
                                      FROM post_events e WHERE e.post_id = p.id AND e.to_state = 'publishing'),
                                     (SELECT (julianday(p.published_at) - julianday(MAX(e.at))) * 86400000.0
                                      FROM post_events e WHERE e.post_id = p.id AND e.to_state = 'publishing'),
                                     p.due_at
                              FROM posts p WHERE p.state = 'published'""")
        states = dict(db_rows(db, "SELECT state, COUNT(*) FROM posts GROUP BY state"))
        summary = sandbox.posts()
    print(f"   planner run exit code {code}; post states {states}; sandbox received {summary['total']} posts, "
          f"duplicates {len(summary['duplicates'])}")
    if not rows:
        print((directory / "run.log").read_text()[-3000:])
        finish(directory, False)
        return verdict(False, "publish_precision")
    late = [r[0] for r in rows]
    exact = [r[1] for r in rows]
    claim = [r[2] for r in rows]
    sending = [r[3] for r in rows]
    print(f"   late_ms (published_at - due_at, clamped at 0): {stats(late)}")
    print(f"   published_at - due_at, unclamped:              {stats(exact)}")
    print(f"   claim delay ('publishing' event - due_at):     {stats(claim)}")
    print(f"   sending (published_at - 'publishing' event):   {stats(sending)}")
    print(f"   this machine's wake-up overshoot of a 1 s sleep during the run: median "
          f"{percentile(overshoot, 50):.2f} ms, max {max(overshoot):.2f} ms")
    if coincide:
        spans = job_spans((directory / "run.log").read_text("utf-8", "replace"))
        for moment in coincide:
            due_s = moment.replace(tzinfo=ZONE).astimezone(timezone.utc)
            at = due_s.timestamp()
            same = [r[0] for r in rows if r[4] == due_s.strftime("%Y-%m-%dT%H:%M:%S.000Z")]
            ran = ", ".join(f"{name} {start - at:+.2f}..{end - at:+.2f} s" for name, runs in sorted(spans.items())
                            for start, end in runs if start < at + args.coincide_every / 2 and end > at - 1)
            print(f"   T0+{(moment - first_due).total_seconds():.0f} s: {len(same)} posts due, late_ms max "
                  f"{max(same, default=float('nan')):.0f}; jobs (start..end from that second): {ran or 'none'}")
        missing = {"metrics", "listen", "preflight", "backup"} - set(spans)
        if missing and not args.control:
            print(f"   jobs that never ran: {sorted(missing)}")
    p50, p99 = percentile(late, 50), percentile(late, 99)
    print(f"   target: p50 <= {TARGET_P50_MS} ms, p99 <= {TARGET_P99_MS} ms; published {len(rows)} of {total}")
    ok = p50 <= TARGET_P50_MS and p99 <= TARGET_P99_MS and len(rows) == total and not summary["duplicates"]
    finish(directory, ok, args.keep)
    return verdict(ok, "publish_precision")


if __name__ == "__main__":
    sys.exit(main())
