"""Target 2: validate + apply a campaign of 10,000 content items x 3 channels (30,000 posts)
in <= 3 s and <= 200 MB peak memory.

The campaign file has 10,000 [[content]] blocks with distinct texts, each at its own second-precision
time in the future (from tomorrow, one minute apart, inside the campaign window), going to kpu_x,
kpu_mastodon and kpu_telegram. `python -m planner campaign validate FILE` and then
`python -m planner campaign apply FILE` run as subprocesses on a fresh database (made by
`planner init`); wall time is measured around each, peak RSS of each child with os.wait4.
A second apply of the same file (nothing changes) is shown for information.

    python benchmarks/campaign_apply.py [--items 10000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (PYTHON, campaign_toml, db_rows, finish, header, planner_env, verdict, workspace,  # noqa: E402
                     write_config)

TARGET_SECONDS = 3.0
TARGET_MB = 200
CHANNELS = ["kpu_x", "kpu_mastodon", "kpu_telegram"]


def run_measured(args: list[str], config: Path) -> tuple[float, float, int, str]:
    """(wall seconds, peak RSS MB, exit code, output) of `python -m planner ARGS`."""
    # BENCH_PLANNER_SCRIPT=path runs that script instead of `-m planner` (experiments with patched code).
    entry = [os.environ["BENCH_PLANNER_SCRIPT"]] if os.environ.get("BENCH_PLANNER_SCRIPT") else ["-m", "planner"]
    start = time.perf_counter()
    proc = subprocess.Popen([PYTHON, *entry, *args], env=planner_env(config), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    output = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss / 1024, proc.returncode, output.decode("utf-8", "replace")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary workspace")
    args = parser.parse_args()
    header(f"campaign validate + apply: {args.items:,} content items x {len(CHANNELS)} channels")
    directory = workspace("apply")
    config = write_config(directory, "http://127.0.0.1:9", publishing='grace = "2h"')
    zone = ZoneInfo("Asia/Jakarta")
    first = (datetime.now(zone) + timedelta(days=1)).replace(hour=6, minute=0, second=0, microsecond=0,
                                                              tzinfo=None)
    items = [(f"konten-{i:05d}",
              f"Informasi pemilu nomor {i}: cek DPT Anda di cekdptonline.kpu.go.id sebelum tanggal {i % 28 + 1}. "
              f"Kode pengumuman {i * 7919 % 100003:05d}.",
              first + timedelta(minutes=i, seconds=i % 60))
             for i in range(args.items)]
    end = items[-1][2].date() + timedelta(days=1)
    campaign = directory / "campaigns" / "besar.toml"
    campaign.parent.mkdir(exist_ok=True)
    campaign.write_text(campaign_toml("kampanye-besar", CHANNELS, items, first.date(), end), "utf-8")
    print(f"   file {campaign.stat().st_size / 1e6:.1f} MB, window {first.date()} .. {end}")

    results = {}
    for name, cmd in (("validate", ["campaign", "validate", str(campaign)]),
                      ("apply", ["campaign", "apply", str(campaign)]),
                      ("re-apply (unchanged)", ["campaign", "apply", str(campaign)])):
        elapsed, peak, code, output = run_measured(cmd, config)
        if code != 0:
            print(output[-3000:])
            raise SystemExit(f"{name} failed with exit code {code}")
        results[name] = (elapsed, peak)
        print(f"   {name:22s} {elapsed:6.2f} s   peak RSS {peak:6.1f} MB")
    posts = db_rows(directory / "planner.db", "SELECT COUNT(*) FROM posts WHERE state = 'queued'")[0][0]
    expected = args.items * len(CHANNELS)
    print(f"   queued posts in the database: {posts:,} (expected {expected:,})")
    total = results["validate"][0] + results["apply"][0]
    peak = max(results["validate"][1], results["apply"][1])
    print(f"   validate + apply      {total:6.2f} s   (target <= {TARGET_SECONDS} s)")
    print(f"   peak RSS (max of both) {peak:5.1f} MB  (target <= {TARGET_MB} MB)")
    ok = total <= TARGET_SECONDS and peak <= TARGET_MB and posts == expected
    finish(directory, ok, args.keep)
    return verdict(ok, "campaign_apply")


if __name__ == "__main__":
    sys.exit(main())
