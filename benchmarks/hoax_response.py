"""Issue 16: from a hoax spike to the published clarification, measured.

Each run: a fresh workspace whose campaign holds one standby clarification (not approved: approval is
required) for X, Mastodon and Telegram and a playbook for the keyword; `planner run` runs as a subprocess
(its Telegram job long-polls the sandbox's getUpdates). This process raises the spike the way `planner run`'s
listen job does (a burst of mentions in the sandbox, then the job), finds the alert with its buttons in the
sandbox's staff chat, and injects an approver's tap on "Terbitkan klarifikasi" as a Telegram update at once
(no human reaction time is simulated). It then waits until the three posts are published and reads the
response's times from the database: spike detected -> alert sent -> approved -> first / last channel published.

    python benchmarks/hoax_response.py [--runs 5] [--latency-ms 50]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PYTHON, finish, header, planner_env, workspace  # noqa: E402

STAFF_CHAT = "-1009876543210"
APPROVER = 111
CONFIG_EXTRA = f"""
[approval]
required = true
[users.sari]
role = "approver"
telegram_id = {APPROVER}
[users.rina]
role = "approver"
[alerts]
telegram_account = "kpu_telegram"
chat_id = "{STAFF_CHAT}"
"""


def campaign(start) -> str:
    return f"""
[campaign]
id = "siaga-hoaks"
name = "Siaga hoaks pemilu"
timezone = "Asia/Jakarta"
start = {start}
end = {start + timedelta(days=20)}
channels = ["kpu_x", "kpu_mastodon", "kpu_telegram"]
[goal]
objective = "Menjawab hoaks dalam hitungan menit"
[[content]]
id = "klarifikasi-dpt"
text = "KLARIFIKASI: kabar bahwa DPT bisa diubah lewat tautan WhatsApp adalah hoaks. Cek di cekdptonline.kpu.go.id"
standby = true
[monitoring]
keywords = ["hoaks DPT"]
[[response]]
id = "hoaks-dpt"
keywords = ["hoaks DPT"]
content = ["klarifikasi-dpt"]
channels = ["kpu_x", "kpu_mastodon", "kpu_telegram"]
"""


def seconds(a: str, b: str) -> float:
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(b) - parse(a)).total_seconds()


def one_run(latency_ms: float, keep: bool) -> dict:
    from planner.config import load_config
    from planner.monitoring.jobs import listen_job
    from planner.monitoring.listen import listen
    from planner.publishing.dispatcher import Dispatcher
    from planner.response.respond import response_times
    from planner.sandbox import Sandbox
    from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
    from planner import clock
    from planner.store.db import open_db

    export_sandbox_secrets()  # this process searches and alerts as `planner run` would

    directory = workspace("hoax")
    ok = False
    with Sandbox(seed=7, latency_ms=latency_ms) as sandbox:
        sandbox.state.natural_burst_rate = 0
        path = write_sandbox_config(directory, sandbox.base_url, extra=CONFIG_EXTRA)
        env = planner_env(path)
        subprocess.run([PYTHON, "-m", "planner", "init", str(directory)], env=env, capture_output=True, check=True)
        file = directory / "siaga.toml"
        file.write_text(campaign(datetime.now().date() - timedelta(days=1)), "utf-8")
        subprocess.run([PYTHON, "-m", "planner", "--as", "rina", "campaign", "apply", str(file)], env=env,
                       capture_output=True, check=True)
        config = load_config(path)
        db = open_db(config.database)
        log = (directory / "run.log").open("w")
        run = subprocess.Popen([PYTHON, "-m", "planner", "run", "--no-monitoring"], env=env, stdout=log, stderr=log)
        try:
            time.sleep(3)  # the scheduler is up and long-polling
            telegram = next(e for e in sandbox.emulators if e.name == "telegram")
            listen(config, db, now=clock.now())
            sandbox.state.add_burst("hoaks DPT", 40)
            listen_job(config, Dispatcher(config))
            if not db.execute("SELECT COUNT(*) FROM alerts").fetchone()[0]:
                raise SystemExit("no spike alert was raised; see " + str(directory / "run.log"))
            alert = telegram.messages_to(STAFF_CHAT)[-1]
            alert_id = db.execute("SELECT MAX(id) FROM alerts").fetchone()[0]
            telegram.press(alert, f"r:{alert_id}:p", user_id=APPROVER, first_name="Sari")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                done = db.execute("SELECT COUNT(*) FROM posts WHERE state = 'published'").fetchone()[0]
                if done == 3:
                    break
                time.sleep(0.05)
            response = db.execute("SELECT id FROM responses").fetchone()
            times = response_times(db, response[0]) if response else {}
            ok = times.get("published") == 3
        finally:
            run.terminate()
            run.wait(30)
            log.close()
            db.conn.close()
    finish(directory, ok, keep)
    if not ok:
        raise SystemExit("the clarification was not published on every channel within 60 s")
    return {
        "alert": seconds(times["detected_at"], times["alert_sent_at"]),
        "approved": seconds(times["detected_at"], times["approved_at"]),
        "first": seconds(times["detected_at"], times["first_published_at"]),
        "last": seconds(times["detected_at"], times["last_published_at"]),
    }


def main() -> None:
    import logging

    logging.disable(logging.WARNING)  # the alert text itself is not what is measured
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    header(f"hoax response: spike -> published clarification, {args.runs} runs, sandbox latency {args.latency_ms:g} ms")
    results = [one_run(args.latency_ms, args.keep) for _ in range(args.runs)]
    for key, label in (("alert", "alert sent"), ("approved", "approved (tap read)"),
                       ("first", "first channel published"), ("last", "last channel published")):
        values = [r[key] for r in results]
        print(f"   spike -> {label:<26} median {statistics.median(values):6.2f} s, worst {max(values):6.2f} s")


if __name__ == "__main__":
    main()
