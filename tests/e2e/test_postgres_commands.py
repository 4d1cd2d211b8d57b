"""Every everyday command on PostgreSQL as on SQLite (issue 15): real `planner` processes on the sandbox.

The same office day runs twice, once on the SQLite file and once with PLANNER_DATABASE_URL pointing at a
fresh PostgreSQL database (no SQLite file may appear): init, campaign apply, review and approve, publish
--due, status, post show, queue, pause and resume, metrics, listen, mentions, report, audit --verify. The
JSON outputs must be the same once the values that differ between any two runs (times, platform ids and
links) are masked; the sandbox must have received each post once.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import publishing_helpers as ph
from planner.sandbox import Sandbox
from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.db import utc_iso

TEAM = """
[approval]
required = true
[users.budi]
role = "staff"
[users.sari]
role = "approver"
"""

# Fixed wall times (Asia/Jakarta) far enough ahead that both runs plan the same posts: two go out today
# (their time is then moved to now), one stays in the queue.
START = (datetime.now(ph.ZONE) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0,
                                                              tzinfo=None)
CHANNELS = ["kpu_x", "kpu_mastodon", "kpu_telegram"]


def campaign_file(folder: Path) -> Path:
    contents = [ph.Item(id="info-dpt", text="Cek DPT online: pastikan namamu terdaftar.", at=START),
                ph.Item(id="tps", text="Datang ke TPS dengan KTP-el dan undangan.", at=START + timedelta(hours=1),
                        thread=["Jam buka TPS 07.00 sampai 13.00 WIB."]),
                ph.Item(id="nanti", text="Hitung cepat tidak sama dengan hasil resmi.", at=START + timedelta(days=3))]
    text = ph.campaign_toml("uji-pg", contents, channels=CHANNELS)
    text += '\n[monitoring]\nkeywords = ["cek DPT"]\n'
    path = folder / "uji-pg.toml"
    path.write_text(text, "utf-8")
    return path


class Office:
    """One workspace on the sandbox, on SQLite or (with ``url``) on PostgreSQL, driven by `planner` processes."""

    def __init__(self, root: Path, base_url: str, url: str | None):
        self.root, self.url = root, url
        self.config = write_sandbox_config(root, base_url, extra=TEAM, publishing=ph.publishing_toml())
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HUMAS_SANDBOX_", "PLANNER_"))}
        self.env = export_sandbox_secrets(env)
        self.env.update({"PLANNER_CONFIG": str(self.config), "COLUMNS": "250", "PYTHONDONTWRITEBYTECODE": "1"})
        if url:
            self.env["PLANNER_DATABASE_URL"] = url

    def run(self, *args: str, user: str | None = None, ok: bool = True) -> subprocess.CompletedProcess:
        full = [sys.executable, "-m", "planner", *(["--as", user] if user else []), *args]
        done = subprocess.run(full, env=self.env, cwd=self.root, capture_output=True, text=True, timeout=120)
        if ok:
            assert done.returncode == 0, f"planner {' '.join(args)} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
        assert "Traceback" not in done.stderr, done.stderr
        return done

    def json(self, *args: str) -> object:
        return json.loads(self.run(*args, "--json").stdout)

    def make_due(self) -> None:
        """The posts of today's two content items fall due now (moved, rather than waited for)."""
        sql = "UPDATE posts SET due_at = ? WHERE content_id IN ('info-dpt', 'tps')"
        now = utc_iso(datetime.now(timezone.utc) - timedelta(seconds=5))
        if self.url:
            import psycopg

            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql.replace("?", "%s"), [now])
        else:
            with sqlite3.connect(self.root / "planner.db") as conn:
                conn.execute(sql, [now])


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_OWNER = re.compile(r"^[^:\s]+:\d+:[0-9a-f]+:\d+:[0-9a-f]+$")  # a scheduler's owner id (host:pid:uuid:start:machine)
_VARYING = {"platform_id", "url", "owner", "lease_owner", "hash", "prev_hash", "thread_ids", "id_on_platform",
            "head", "os_user", "source_file", "file", "path", "age_s", "pid", "host", "platform_ids",
            "p50_s", "p99_s", "worst_s", "heartbeat_age_s"}


def masked(value, key: str = ""):
    """The JSON with what differs between any two runs replaced by a marker: times, platform ids, links."""
    if isinstance(value, dict):
        return {k: masked(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [masked(v, key) for v in value]
    if key in _VARYING and value is not None:
        return "<varies>"
    if isinstance(value, str) and _TIME.match(value):
        return "<time>"
    if isinstance(value, str) and _OWNER.match(value):
        return "<owner>"
    return value


def numbers_masked(value):
    """The report with its figures masked (the sandbox's engagement grows with time) and its lists in a
    fixed order (top posts are ranked by those figures); a bool stays a bool, so True for 1 still shows."""
    if isinstance(value, dict):
        return {k: numbers_masked(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((numbers_masked(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return "<n>"
    return value


def office_day(office: Office) -> dict:
    """The everyday flow; returns each JSON answer by name, masked."""
    out: dict[str, object] = {}
    init = office.run("init", str(office.root))
    file = campaign_file(office.root)
    office.run("campaign", "validate", str(file))
    office.run("campaign", "apply", str(file), user="budi")
    out["review"] = office.json("review")
    office.run("approve", "--campaign", "uji-pg", user="sari")
    office.make_due()
    office.run("publish", "--due")
    out["status"] = office.json("status")
    out["queue"] = office.json("queue")
    out["campaigns"] = office.json("campaign", "list")
    shown = office.run("post", "show", "1").stdout
    assert "info-dpt" in shown and "kpu_x" in shown
    office.run("pause", "--reason", "Masa tenang")
    out["paused"] = office.json("status")
    office.run("resume")
    out["resumed"] = office.json("status")
    office.run("metrics", "collect", "--force")
    office.run("listen")
    out["mentions_found"] = bool(office.json("mentions")["mentions"])
    listed = office.run("mentions").stdout  # one line per platform post (mentions grouped by post)
    assert ("cek DPT" in listed) == out["mentions_found"], listed
    report = json.loads(office.run("report", "uji-pg", "--format", "json").stdout)
    out["report_posts"] = sorted((p["id"], p["channel"]) for p in report["top_posts"])
    # The sandbox makes mentions in real time: of those parts, only their shape is the same in both runs.
    report["mentions_over_time"] = sorted(report["mentions_over_time"])  # the keywords
    for name in ("top_mentions", "spikes"):
        report[name] = sorted({key for entry in report[name] for key in entry})
    out["report"] = numbers_masked(report)
    # The other commands of an office day: each runs to its end on the backend (no traceback, exit 0).
    office.run("campaign", "show", "uji-pg")
    office.run("campaign", "preview", str(file))
    office.run("calendar", "--campaign", "uji-pg", "--date", START.date().isoformat())
    office.run("calendar", "--ics", str(office.root / "uji.ics"))
    office.run("check", "--no-accounts")
    office.run("account", "check", "kpu_mastodon")  # remembers the instance's text limit in the database
    office.run("post", "cancel", "9", user="sari")
    out["after_cancel"] = office.json("queue")
    out["final_status"] = office.json("status")
    verify = office.run("audit", "--verify")
    audit = office.json("audit")
    # Posts published at once are audited in the order their workers finish: compare without that order.
    audit["entries"] = sorted(({k: v for k, v in e.items() if k != "id"} for e in masked(audit["entries"])),
                              key=lambda e: json.dumps(e, sort_keys=True))
    out["audit"] = audit
    out["_texts"] = {"init": init.stdout, "verify": verify.stdout}
    return masked(out)


@pytest.mark.timeout(600)
def test_the_office_day_answers_the_same_on_postgresql_and_sqlite(tmp_path, sandbox, postgres_url, postgres_server):
    sqlite_office = Office(tmp_path / "sqlite", sandbox.base_url, None)
    on_sqlite = office_day(sqlite_office)
    # A sandbox of its own, seeded alike: X refuses a text it already received on the account.
    with Sandbox(seed=1) as pg_sandbox:
        pg_office = Office(tmp_path / "pg", pg_sandbox.base_url, postgres_url)
        on_pg = office_day(pg_office)
        received = pg_sandbox.posts()

    assert not list(pg_office.root.glob("*.db*")), "a command opened an SQLite file instead of PostgreSQL"
    assert "PostgreSQL" in on_pg["_texts"]["init"]
    import psycopg

    with psycopg.connect(postgres_url) as conn:  # `account check` kept the instance's limit in PostgreSQL
        assert conn.execute("SELECT value FROM settings WHERE key = 'text_limit:kpu_mastodon'").fetchone()
    # `workers` differs by design: null on SQLite (`planner run` is its scheduler), the live workers on PostgreSQL
    for name in ("status", "paused", "resumed", "final_status"):
        assert on_sqlite[name].pop("workers") is None and on_pg[name].pop("workers") == [], name
    for name in ("review", "status", "queue", "campaigns", "paused", "resumed", "report", "report_posts", "audit",
                 "mentions_found", "after_cancel", "final_status"):
        assert on_pg[name] == on_sqlite[name], name
    # Two content items due on three channels (one of them a thread): each post arrived once.
    assert on_pg["status"]["counts"] == {"published": 6, "queued": 3}
    assert not received["duplicates"]
    assert received["total"] == len(sandbox.posts()["posts"]) > 0

    # `planner backup` has no file to copy on PostgreSQL: it says so and names pg_dump.
    refused = pg_office.run("backup", ok=False)
    assert refused.returncode == 2 and "pg_dump" in refused.stderr, refused.stderr

    # The SQLite office moved with `planner db migrate-to` answers as it did on its file.
    moved_to = postgres_server.create_database()
    sqlite_office.run("db", "migrate-to", moved_to)
    sqlite_office.env["PLANNER_DATABASE_URL"] = moved_to
    moved = masked(sqlite_office.json("status"))
    assert moved.pop("workers") == [] and moved == on_sqlite["final_status"]
    assert "Rantai audit utuh" in sqlite_office.run("audit", "--verify").stdout


def test_an_unreachable_server_or_a_missing_driver_is_said_plainly(tmp_path, sandbox):
    office = Office(tmp_path / "kantor", sandbox.base_url, f"postgresql://planner:rahasia@/planner?host={tmp_path}&port=1")
    down = office.run("status", ok=False)
    assert down.returncode == 2
    assert "Tidak dapat tersambung ke PostgreSQL" in down.stderr and "rahasia" not in down.stderr, down.stderr

    # Without psycopg installed (the [postgres] extra), the way to install it.
    shadow = tmp_path / "no-psycopg"
    (shadow / "psycopg").mkdir(parents=True)
    (shadow / "psycopg" / "__init__.py").write_text("raise ImportError('psycopg is not installed')\n", "utf-8")
    office.env["PYTHONPATH"] = os.pathsep.join(p for p in (str(shadow), os.environ.get("PYTHONPATH")) if p)
    missing = office.run("queue", ok=False)
    assert missing.returncode == 2 and 'humas-planner[postgres]' in missing.stderr, missing.stderr


def test_the_scheduler_publishes_from_postgresql_and_a_second_one_is_refused(tmp_path, sandbox, postgres_url):
    office = Office(tmp_path / "kantor", sandbox.base_url, postgres_url)
    office.run("init", str(office.root))
    office.run("campaign", "apply", str(campaign_file(office.root)), user="budi")
    office.run("approve", "--campaign", "uji-pg", user="sari")
    office.make_due()
    log = office.root / "run.log"
    with open(log, "wb") as handle:
        first = subprocess.Popen([sys.executable, "-m", "planner", "run", "--no-monitoring"], env=office.env,
                                 cwd=office.root, stdout=handle, stderr=subprocess.STDOUT)
    try:
        ph.wait_for(lambda: office.json("status")["counts"].get("published") == 6, 60,
                    "the scheduler publishing the six due posts from PostgreSQL")
        status = office.json("status")
        assert status["scheduler"]["running"] is True and status["scheduler"]["pid"] == first.pid
        # The lock lives in the database, so it holds for a scheduler started on any machine.
        second = office.run("run", "--no-monitoring", ok=False)
        assert second.returncode == 2 and "Penjadwal lain sudah berjalan" in second.stderr, second.stderr
        assert "PostgreSQL" in second.stderr
        # Workers and the scheduler never publish side by side: each paces the accounts on its own.
        worker = office.run("worker", "--no-monitoring", ok=False)
        assert worker.returncode == 2 and "Hentikan 'planner run' dulu" in worker.stderr, worker.stderr
    finally:
        first.terminate()
        assert first.wait(40) == 0, log.read_text("utf-8", "replace")
    with open(office.root / "worker.log", "wb") as handle:
        worker = subprocess.Popen([sys.executable, "-m", "planner", "worker", "--no-monitoring"], env=office.env,
                                  cwd=office.root, stdout=handle, stderr=subprocess.STDOUT)
    try:
        ph.wait_for(lambda: office.json("status").get("workers"), 60, "the worker to be up")
        refused = office.run("run", "--no-monitoring", ok=False)
        assert refused.returncode == 2 and "Proses 'planner worker' sedang menerbitkan" in refused.stderr, \
            refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        worker.terminate()
        assert worker.wait(40) == 0, (office.root / "worker.log").read_text("utf-8", "replace")
    assert not list(office.root.glob("*.db*"))
    said = log.read_text("utf-8", "replace")
    assert "Traceback" not in said
    assert "pg_dump" in said  # the daily file copy is skipped on PostgreSQL, and the log says what to use
    assert (office.root / "audit.head").exists()  # the audit chain's head, in the workspace folder
    assert not sandbox.posts()["duplicates"]
