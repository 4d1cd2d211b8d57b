"""Target: a report over a campaign with 100,000 posts and 3,000,000 metric snapshots in <= 5 s and
<= 500 MB peak memory.

Builds the synthetic database with plain SQL (the schema is the product's own, made by its
migrations), then times `python -m planner report ID --format json|html|csv|xlsx` as
subprocesses, reading each one's peak RSS from the kernel. Run: python benchmarks/report_scale.py [--keep]
"""

from __future__ import annotations

import json
import random
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, finish, header, planner_env, workspace  # noqa: E402

POSTS = 100_000
COLLECTIONS = 5
PLATFORMS = {"x": ("likes", "reposts", "replies", "quotes", "impressions", "clicks"),
             "facebook": ("likes", "reposts", "replies", "views", "reach", "clicks"),
             "mastodon": ("likes", "reposts", "replies", "quotes", "saves", "views")}
TARGET_S, TARGET_MB = 5.0, 500


def build(directory: Path) -> Path:
    from planner.sandbox.workspace import write_sandbox_config
    from planner.store import metrics
    from planner.store.db import open_db, utc_iso

    config = write_sandbox_config(directory, "http://127.0.0.1:9")
    db = open_db(directory / "planner.db", create=True)
    conn = db.conn
    rng = random.Random(1)
    start = datetime(2027, 2, 1, tzinfo=timezone.utc)
    spec = {"id": "skala", "name": "Uji skala", "owner": "Humas", "timezone": "Asia/Jakarta",
            "start": "2027-02-01", "end": "2027-04-30", "channels": ["kpu_x", "kpu_fb", "kpu_mastodon"],
            "goal": {"objective": "Uji", "kpis": [
                {"metric": "reach", "target": 5e7, "platform": "all", "deadline": "2027-04-30"},
                {"metric": "engagements", "target": 1e7, "platform": "all", "deadline": "2027-04-30"},
                {"metric": "engagement_rate", "target": 4, "platform": "all", "deadline": "2027-04-30"},
                {"metric": "on_time_rate", "target": 95, "platform": "all", "deadline": "2027-04-30"}]},
            "audiences": [{"id": f"a{i}", "description": "d", "platforms": []} for i in range(5)],
            "content": [], "monitoring": {"collect_every": 21600, "track_for": 604800, "keywords": ["cek DPT"],
                                          "spike_threshold": 3.0, "report_period": "weekly"}}
    conn.execute("BEGIN")
    conn.execute("INSERT INTO campaigns (id, name, owner, timezone, start_at, end_at, spec, applied_at) "
                 "VALUES ('skala', 'Uji skala', 'Humas', 'Asia/Jakarta', ?, ?, ?, ?)",
                 [utc_iso(start), utc_iso(start + timedelta(days=88)), json.dumps(spec), utc_iso(start)])
    items = POSTS // 3
    conn.executemany("INSERT INTO content (campaign_id, id, issue, audiences, text, spec) VALUES (?, ?, ?, ?, ?, '{}')",
                     [("skala", f"c{i}", f"isu {i % 12}", json.dumps([f"a{i % 5}"]), f"Konten {i}") for i in range(items + 1)])
    channels = [("kpu_x", "x"), ("kpu_fb", "facebook"), ("kpu_mastodon", "mastodon")]
    posts = []
    for n in range(POSTS):
        channel, platform = channels[n % 3]
        due = start + timedelta(minutes=n)
        posts.append((n + 1, "skala", f"c{n // 3}", channel, platform, f"skala:c{n // 3}:{channel}:{n}", utc_iso(due),
                      "published", f"Konten {n // 3} untuk {channel}", "fp", str(10**9 + n), utc_iso(due),
                      rng.randint(0, 90_000), utc_iso(due), utc_iso(due)))
    conn.executemany(
        """INSERT INTO posts (id, campaign_id, content_id, channel, platform, idempotency_key, due_at, state, text,
                              fingerprint, platform_post_id, published_at, late_ms, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", posts)
    # Five collections, written the way the collector writes them: snapshots, latest values, totals.
    bases = [(post_id, {m: rng.randint(10, 2000) for m in PLATFORMS[platform]})
             for post_id, _c, _i, _ch, platform, *_rest in posts]
    conn.execute("COMMIT")
    for c in range(COLLECTIONS):
        at = utc_iso(start + timedelta(days=60, hours=6 * c))
        rows = [(post_id, at, metric, value * (c + 1)) for post_id, base in bases for metric, value in base.items()]
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO metric_snapshots (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?)", rows)
        conn.executemany("INSERT INTO metric_latest (post_id, collected_at, metric, value) VALUES (?, ?, ?, ?) "
                         "ON CONFLICT (post_id, metric) DO UPDATE SET value = excluded.value, "
                         "collected_at = excluded.collected_at", rows)
        conn.execute("COMMIT")
        metrics.record_totals(db, "skala", now=start + timedelta(days=60, hours=6 * c))
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO mentions (campaign_id, platform, platform_id, keyword, text, created_at, seen_at) "
                     "VALUES ('skala', 'x', ?, 'cek DPT', 'sebutan', ?, ?)",
                     [(str(i), utc_iso(start + timedelta(minutes=7 * i)), utc_iso(start)) for i in range(20_000)])
    conn.execute("COMMIT")
    count = conn.execute("SELECT COUNT(*) FROM metric_snapshots").fetchone()[0]
    print(f"   built: {POSTS:,} posts, {count:,} snapshots, 20,000 mentions")
    conn.close()
    return config


def timed(config: Path, *args: str) -> tuple[float, float]:
    """Wall time and this child's own peak RSS (wait4 gives the one process's usage)."""
    started = time.perf_counter()
    child = subprocess.Popen([PYTHON, "-m", "planner", *args], env=planner_env(config), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    output = child.stdout.read()
    _pid, status, usage = os.wait4(child.pid, 0)
    elapsed = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        print(output[-4000:])
        raise SystemExit(f"planner {' '.join(args)} failed")
    return elapsed, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    header("report over 100,000 posts and 3,000,000 snapshots")
    directory = workspace("report")
    config = build(directory)
    ok = True
    for fmt in ("json", "html", "csv", "xlsx"):
        out = directory / f"laporan.{fmt}"
        elapsed, peak = timed(config, "report", "skala", "--format", fmt, "--out", str(out))
        passed = elapsed <= TARGET_S and peak <= TARGET_MB
        ok &= passed
        print(f"   --format {fmt:4}: {elapsed:5.2f} s, peak RSS {peak:5.0f} MB "
              f"(target <= {TARGET_S} s, <= {TARGET_MB} MB) {'PASS' if passed else 'FAIL'}")
    finish(directory, ok, keep="--keep" in sys.argv)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
