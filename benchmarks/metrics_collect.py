"""Target: collecting metrics for 10,000 published posts against the sandbox at 50 ms latency in <= 30 s.

10,000 posts are first published for real through the dispatcher (sandbox at 0 ms, so this part is
quick and not measured): 2,500 each on X, a Facebook Page, Mastodon and Bluesky. Then the sandbox
answers every request 50 ms late and `python -m planner metrics collect --force` runs as a
subprocess; its wall time is the figure. Run: python benchmarks/metrics_collect.py [--keep]
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, finish, header, planner_env, workspace  # noqa: E402

PER_CHANNEL = 2_500
CHANNELS = ["kpu_x", "kpu_fb", "kpu_mastodon", "kpu_bluesky"]
TARGET_S = 30.0


def main() -> int:
    from planner.campaign_files import desired_posts, load_campaign
    from planner.config import load_config
    from planner.publishing.dispatcher import Dispatcher
    from planner.sandbox import Sandbox
    from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
    from planner.store.campaigns import apply_campaigns
    from planner.store.db import open_db

    header(f"metrics collection for {PER_CHANNEL * len(CHANNELS):,} published posts, sandbox latency 50 ms")
    directory = workspace("metrics")
    export_sandbox_secrets(os.environ)
    with Sandbox(seed=5) as sandbox:
        config_path = write_sandbox_config(
            directory, sandbox.base_url,
            publishing='grace = "2h"\nworkers = 32\n[publishing.pacing]\nrate = 1000.0\nburst = 1000\nmax_in_flight = 16')
        config = load_config(config_path)
        db = open_db(config.database, create=True)
        first = datetime.now(config.timezone) + timedelta(seconds=5)
        items = "\n".join(f'[[content]]\nid = "c{i}"\ntext = "Info pemilu nomor {i}: cek DPT di cekdptonline.kpu.go.id"\n'
                          f'at = {first.strftime("%Y-%m-%dT%H:%M:%S")}\n' for i in range(PER_CHANNEL))
        file = directory / "besar.toml"
        file.write_text(f'[campaign]\nid = "besar"\nname = "Besar"\ntimezone = "Asia/Jakarta"\n'
                        f'start = {first.date()}\nend = {first.date() + timedelta(days=5)}\nchannels = {CHANNELS!r}\n'
                        f'[goal]\nobjective = "Uji"\n{items}\n'.replace("'", '"'), "utf-8")
        loaded = load_campaign(file, config)
        assert loaded.ok, loaded.problems[:3]
        apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                        approval_required=False, actor="bench")
        time.sleep(max(0.0, (first - datetime.now(config.timezone)).total_seconds()) + 0.5)
        started = time.perf_counter()
        dispatcher = Dispatcher(config)
        dispatcher.run_once()
        dispatcher.shutdown(5)
        published = db.execute("SELECT COUNT(*) FROM posts WHERE state = 'published'").fetchone()[0]
        print(f"   published {published:,} posts in {time.perf_counter() - started:.1f} s (setup, not measured)")

        sandbox.latency = 0.050
        before = len(sandbox.state.requests)
        started = time.perf_counter()
        run = subprocess.run([PYTHON, "-m", "planner", "metrics", "collect", "--force"], env=planner_env(config_path),
                             capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        requests = len(sandbox.state.requests) - before
        posts = db.execute("SELECT COUNT(DISTINCT post_id) FROM metric_latest").fetchone()[0]
    print(run.stdout.strip()[-400:])
    if run.returncode != 0:
        print(run.stderr[-3000:])
    ok = run.returncode == 0 and posts == published and elapsed <= TARGET_S
    print(f"   {requests:,} platform requests; posts with metrics {posts:,} of {published:,}")
    print(f"   metrics collect: {elapsed:.2f} s (target <= {TARGET_S} s) {'PASS' if ok else 'FAIL'}")
    finish(directory, ok, keep="--keep" in sys.argv)
    print(f"RESULT metrics_collect: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
