"""Shared helpers for the publishing engine's end-to-end and chaos tests.

Real processes (`python -m planner ...`) against the sandbox; the sandbox's record of what it
received is the judge of "exactly once". Imported as ``publishing_helpers`` (not a conftest).
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from planner.sandbox.workspace import export_sandbox_secrets, write_sandbox_config
from planner.store.db import parse_utc, utc_iso

REPO = Path(__file__).resolve().parents[2]
MEDIA = REPO / "campaigns" / "media"
ZONE = ZoneInfo("Asia/Jakarta")

# Channels of the sandbox config (planner.sandbox.workspace).
RECONCILABLE = ["kpu_x", "kpu_fb", "kpu_mastodon", "kpu_bluesky"]  # Telegram cannot be looked up afterwards
PLAIN = [*RECONCILABLE, "kpu_telegram"]                             # no media needed
ALL_SIX = [*PLAIN, "kpu_ig"]                                        # Instagram needs a JPEG on every post
PLATFORM_OF = {"kpu_x": "x", "kpu_fb": "facebook", "kpu_mastodon": "mastodon", "kpu_bluesky": "bluesky",
               "kpu_telegram": "telegram", "kpu_ig": "instagram"}

# States in which a post is still on its way: none may remain when a test is over.
OPEN_STATES = ("queued", "publishing", "unknown", "failed_retryable")


def local_now() -> datetime:
    """Now as a wall time in Asia/Jakarta, whole seconds, naive (the way campaign files write times)."""
    return datetime.now(ZONE).replace(tzinfo=None, microsecond=0)


def publishing_toml(*, lease: str = "30s", grace: str = "2h", workers: int = 8, rate: float = 20.0,
                    burst: int = 10, max_in_flight: int = 4) -> str:
    """The body of config.toml's [publishing] table (pacing loosened so tests run quickly)."""
    return (f'grace = "{grace}"\nlease = "{lease}"\nworkers = {workers}\n'
            f"[publishing.pacing]\nrate = {rate}\nburst = {burst}\nmax_in_flight = {max_in_flight}\n")


# --- campaigns ------------------------------------------------------------------------------------
@dataclass
class Item:
    id: str
    text: str
    at: datetime                      # naive local wall time (Asia/Jakarta)
    channels: Sequence[str] = ()      # empty: the campaign's channels
    media: Sequence[str] = ()         # names under the workspace's media/ folder
    thread: Sequence[str] = ()        # further parts, posted as replies (X, Mastodon, Bluesky)


def items(prefix: str, count: int, at: datetime | Callable[[int], datetime], *, channels: Sequence[str] = (),
          media: Sequence[str] = ()) -> list[Item]:
    """``count`` content items with distinct texts (X and Facebook refuse a repeated text)."""
    made = []
    for i in range(count):
        when = at(i) if callable(at) else at
        made.append(Item(id=f"{prefix}-{i:03d}", channels=channels, media=media, at=when,
                         text=f"Info resmi KPU ({prefix}) nomor {i}: pastikan namamu terdaftar di DPT."))
    return made


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def campaign_toml(campaign_id: str, contents: Sequence[Item], *, channels: Sequence[str],
                  grace: str | None = None) -> str:
    days = [c.at.date() for c in contents]
    head = [
        "[campaign]",
        f'id = "{campaign_id}"',
        f'name = "Uji penerbitan {campaign_id}"',
        'owner = "Humas KPU"',
        'timezone = "Asia/Jakarta"',
        f"start = {(min(days) - timedelta(days=1)).isoformat()}",
        f"end = {(max(days) + timedelta(days=2)).isoformat()}",
        f"channels = {_toml_list(channels)}",
    ]
    if grace:
        head.append(f'grace = "{grace}"')
    head += ["", "[goal]", 'objective = "Menguji mesin penerbitan."', ""]
    for c in contents:
        head += ["[[content]]", f'id = "{c.id}"', f'text = "{c.text}"', f"at = {c.at.isoformat()}"]
        if c.channels:
            head.append(f"channels = {_toml_list(c.channels)}")
        if c.media:
            head.append(f"media = {_toml_list('media/' + m for m in c.media)}")
        if c.thread:
            head.append(f"thread = {_toml_list(c.thread)}")
        head.append("")
    return "\n".join(head) + "\n"


# --- processes ------------------------------------------------------------------------------------
@dataclass
class Proc:
    popen: subprocess.Popen
    log: Path
    args: tuple[str, ...]

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def output(self) -> str:
        return self.log.read_text("utf-8", "replace") if self.log.exists() else ""

    def kill9(self) -> None:
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)

    def stop(self, timeout: float = 40.0) -> int:
        """SIGTERM, then wait for the exit code (SIGKILL and fail if it does not come)."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise AssertionError(f"{' '.join(self.args)} did not stop within {timeout} s after SIGTERM:\n"
                                 f"{self.output()[-3000:]}") from None


class Workspace:
    """A working folder: config.toml on the sandbox, the database, media, campaign files, processes."""

    def __init__(self, root: Path, base_url: str, *, publishing: str | None = None):
        self.root = root
        self.base_url = base_url
        root.mkdir(parents=True, exist_ok=True)
        self.config = write_sandbox_config(root, base_url, publishing=publishing or publishing_toml())
        self.db = root / "planner.db"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HUMAS_SANDBOX_", "PLANNER_"))}
        self.env = export_sandbox_secrets(env)
        self.env.update({"PLANNER_CONFIG": str(self.config), "PYTHONUNBUFFERED": "1", "COLUMNS": "250",
                         "PYTHONDONTWRITEBYTECODE": "1"})
        self.procs: list[Proc] = []
        self._n = 0
        shutil.copytree(MEDIA, root / "media")
        self.planner("init", str(root), check=True)

    # --- config ---
    def set_publishing(self, publishing: str) -> None:
        write_sandbox_config(self.root, self.base_url, publishing=publishing)

    # --- running the CLI ---
    def _env(self, overrides: dict | None) -> dict:
        env = dict(self.env)
        for key, value in (overrides or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    def planner(self, *args: str, env: dict | None = None, timeout: float = 90, check: bool = False):
        result = subprocess.run([sys.executable, "-m", "planner", *args], env=self._env(env), cwd=self.root,
                                capture_output=True, text=True, timeout=timeout)
        if check:
            assert result.returncode == 0, (f"planner {' '.join(args)} -> {result.returncode}\n"
                                            f"{result.stdout}\n{result.stderr}")
        return result

    def start(self, *args: str, env: dict | None = None) -> Proc:
        """`planner ARGS` in the background; stdout and stderr go to one log file."""
        self._n += 1
        log = self.root / f"proc-{self._n:02d}-{args[0]}.log"
        with open(log, "wb") as handle:
            popen = subprocess.Popen([sys.executable, "-m", "planner", *args], env=self._env(env), cwd=self.root,
                                     stdout=handle, stderr=subprocess.STDOUT)
        proc = Proc(popen, log, args)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.kill9()

    def apply(self, campaign_id: str, contents: Sequence[Item], *, channels: Sequence[str],
              grace: str | None = None) -> Path:
        path = self.root / f"{campaign_id}.toml"
        path.write_text(campaign_toml(campaign_id, contents, channels=channels, grace=grace), "utf-8")
        self.planner("campaign", "apply", str(path), check=True)
        return path

    # --- the database ---
    def rows(self, sql: str, params: Sequence = ()) -> list[dict]:
        conn = sqlite3.connect(self.db, timeout=30)
        conn.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in conn.execute(sql, list(params))]
        finally:
            conn.close()

    def execute(self, sql: str, params: Sequence = ()) -> int:
        conn = sqlite3.connect(self.db, timeout=30)
        try:
            with conn:
                return conn.execute(sql, list(params)).rowcount
        finally:
            conn.close()

    def states(self, where: str = "1", params: Sequence = ()) -> Counter:
        return Counter({r["state"]: r["n"] for r in self.rows(
            f"SELECT state, COUNT(*) AS n FROM posts WHERE {where} GROUP BY state", params)})

    def posts(self, where: str = "1", params: Sequence = ()) -> list[dict]:
        return self.rows(f"SELECT * FROM posts WHERE {where} ORDER BY id", params)

    def events(self, post_id: int) -> list[dict]:
        return self.rows("SELECT * FROM post_events WHERE post_id = ? ORDER BY id", [post_id])

    def open_count(self, where: str = "1") -> int:
        placeholders = ",".join("?" * len(OPEN_STATES))
        return self.rows(f"SELECT COUNT(*) AS n FROM posts WHERE state IN ({placeholders}) AND {where}",
                         OPEN_STATES)[0]["n"]

    def set_due(self, post_ids: Sequence[int], due: datetime) -> None:
        """Simulate downtime: move posts' time (UTC) without touching anything else."""
        marks = ",".join("?" * len(post_ids))
        self.execute(f"UPDATE posts SET due_at = ? WHERE id IN ({marks})", [utc_iso(due), *post_ids])

    def due_now(self, where: str = "1") -> None:
        """The posts' time comes now: moved forward rather than waited for (campaign files name future times)."""
        self.set_due([p["id"] for p in self.posts(where)], datetime.now(timezone.utc))

    def skip_retry_waits(self) -> int:
        """Make retry waits end now (the chaos test judges duplicates and losses, not backoff)."""
        now = utc_iso(datetime.now(timezone.utc))
        return self.execute("UPDATE posts SET retry_at = ? WHERE state = 'failed_retryable' AND retry_at > ?",
                            [now, now])


# --- waiting ----------------------------------------------------------------------------------------
def wait_for(predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.2,
             procs: Sequence[Proc] = ()):
    """Poll until ``predicate()`` is truthy; fail with ``what`` (and the processes' logs) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {' '.join(p.args)} (alive={p.alive()})\n{p.output()[-2500:]}" for p in procs)
            raise AssertionError(f"timed out after {timeout} s waiting for: {what}\n{logs}")
        time.sleep(interval)


def wait_for_start(proc: Proc, timeout: float = 30) -> None:
    """Until the scheduler says it started (it holds its lock and has the database open)."""
    wait_for(lambda: "penjadwal mulai berjalan" in proc.output() or not proc.alive(), timeout,
             "the scheduler to start", interval=0.05, procs=[proc])
    assert proc.alive(), proc.output()


def at_utc(local: datetime) -> datetime:
    return local.replace(tzinfo=ZONE).astimezone(timezone.utc)


def event_time(event: dict) -> datetime:
    return parse_utc(event["at"])


# --- the sandbox as judge ------------------------------------------------------------------------------
def normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


def sandbox_counts(summary: dict) -> Counter:
    """How often each (platform, account, text) arrived at the sandbox."""
    return Counter((p["platform"], p["account"], normalise(p["text"])) for p in summary["posts"])


def arrivals(summary: dict, platform: str, text: str) -> list[dict]:
    return [p for p in summary["posts"] if p["platform"] == platform and normalise(p["text"]) == normalise(text)]


def assert_exactly_once(ws: Workspace, summary: dict, *, extra_allowed: Iterable[int] = ()) -> list[dict]:
    """Every post the database calls published arrived exactly once, with the id the database recorded;
    nothing else arrived (except the posts in ``extra_allowed``, which may have arrived at most once)."""
    assert summary["duplicates"] == {}, f"published more than once: {summary['duplicates']}"
    repeated = {k: n for k, n in sandbox_counts(summary).items() if n > 1}
    assert not repeated, f"the same text arrived more than once: {repeated}"
    published = ws.posts("state = 'published'")
    for row in published:
        found = arrivals(summary, row["platform"], row["text"])
        assert len(found) == 1, f"post {row['id']} ({row['channel']}) is published in the database but " \
                                f"arrived {len(found)} times"
        assert found[0]["id"] == row["platform_post_id"], (row, found[0])
    allowed = list(extra_allowed)
    extra = 0
    for row in ws.posts(f"id IN ({','.join('?' * len(allowed))})", allowed) if allowed else []:
        n = len(arrivals(summary, row["platform"], row["text"]))
        assert n <= 1, f"post {row['id']} arrived {n} times"
        extra += n
    assert summary["total"] == len(published) + extra, (
        f"the sandbox holds {summary['total']} posts, the database has {len(published)} published")
    return published


def secrets_in(blob: bytes, secrets: Iterable[str]) -> list[str]:
    return [s for s in secrets if s and s.encode() in blob]
