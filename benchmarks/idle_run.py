"""Target 6: an idle `planner run` holding 10,000 future posts: CPU <= 1 % and resident memory <= 100 MB.

A campaign of 10,000 content items (one channel, kpu_mastodon), due from tomorrow one minute apart,
is applied; `planner run` starts against the sandbox, warms up for 15 s, then /proc/PID/stat
(utime + stime) and /proc/PID/status (VmRSS) are sampled every second for 60 s.
CPU % is of one core: CPU seconds used / wall seconds x 100.

    python benchmarks/idle_run.py [--posts 10000] [--warmup 15] [--seconds 60]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (  # noqa: E402
    campaign_toml,
    finish,
    db_rows,
    header,
    local_now,
    planner,
    proc_cpu_seconds,
    proc_rss_mb,
    start_run,
    stop_run,
    verdict,
    workspace,
    write_config,
)

TARGET_CPU_PERCENT = 1.0
TARGET_RSS_MB = 100


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--warmup", type=float, default=15)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    header(f"idle planner run holding {args.posts:,} future posts")

    from planner.sandbox import Sandbox

    with Sandbox(latency_ms=0, seed=6) as sandbox:
        directory = workspace("idle")
        config = write_config(directory, sandbox.base_url, publishing='grace = "2h"')
        first = (local_now() + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0)
        items = [(f"nanti-{i:05d}", f"Pengumuman terjadwal nomor {i}: cek DPT di situs resmi KPU.",
                  first + timedelta(minutes=i)) for i in range(args.posts)]
        end = items[-1][2].date() + timedelta(days=1)
        campaign = directory / "campaigns" / "nanti.toml"
        campaign.parent.mkdir(exist_ok=True)
        campaign.write_text(campaign_toml("nanti", ["kpu_mastodon"], items, first.date(), end), "utf-8")
        planner("campaign", "apply", str(campaign), config=config)
        queued = db_rows(directory / "planner.db", "SELECT COUNT(*) FROM posts WHERE state = 'queued'")[0][0]
        proc = start_run(config, directory / "run.log")
        try:
            time.sleep(args.warmup)
            if proc.poll() is not None:
                print((directory / "run.log").read_text()[-3000:])
                raise SystemExit("planner run stopped during the warm-up")
            cpu0, wall0 = proc_cpu_seconds(proc.pid), time.monotonic()
            rss, per_second = [], []
            last_cpu, last_wall = cpu0, wall0
            while time.monotonic() - wall0 < args.seconds:
                time.sleep(1)
                cpu, now = proc_cpu_seconds(proc.pid), time.monotonic()
                per_second.append((cpu - last_cpu) / (now - last_wall) * 100)
                last_cpu, last_wall = cpu, now
                rss.append(proc_rss_mb(proc.pid))
            cpu_percent = (last_cpu - cpu0) / (last_wall - wall0) * 100
            threads = len(list(Path(f"/proc/{proc.pid}/task").iterdir()))
        finally:
            code = stop_run(proc)
    print(f"   {queued:,} queued posts, first due {first:%Y-%m-%d %H:%M} (Asia/Jakarta); warm-up {args.warmup:g} s, "
          f"sampled {args.seconds:g} s every second; {threads} threads; exit code {code}")
    print(f"   CPU {cpu_percent:.2f} % of one core over the window (target <= {TARGET_CPU_PERCENT} %); "
          f"busiest second {max(per_second):.1f} %")
    print(f"   RSS max {max(rss):.1f} MB, last {rss[-1]:.1f} MB (target <= {TARGET_RSS_MB} MB)")
    ok = cpu_percent <= TARGET_CPU_PERCENT and max(rss) <= TARGET_RSS_MB
    finish(directory, ok, args.keep)
    return verdict(ok, "idle_run")


if __name__ == "__main__":
    sys.exit(main())
