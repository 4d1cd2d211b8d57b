"""The database file: an empty (truncated) planner.db is refused instead of being started afresh, and a
database locked by another process is said plainly (exit code 2, which process when the scheduler's
heartbeat says so) with nothing half-written, through the real `planner` entry point (planner.cli.main.run).
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib

from helpers import campaign_doc, cli, future_monday_in_february, init_workspace, rows, write_campaign  # noqa: E402

from planner.cli import common  # noqa: E402
from planner.errors import PlannerError  # noqa: E402
from planner.i18n import set_language  # noqa: E402
from planner.store.db import open_db  # noqa: E402

START = future_monday_in_february()


@pytest.fixture
def ws(kantor):
    return kantor


def planner_main(capsys, *args: str) -> tuple[int, str]:
    """`planner ARGS` through planner.cli.main.run, in this process: (exit code, everything printed)."""
    from planner.cli.main import run

    old_argv, old_umask = sys.argv, os.umask(0o022)
    os.umask(old_umask)
    sys.argv = ["planner", *args]
    try:
        with pytest.raises(SystemExit) as ended:
            run()
    finally:
        sys.argv = old_argv
        os.umask(old_umask)
        common.options.config = common.options.lang = common.options.actor = None
        set_language("id")
    captured = capsys.readouterr()
    return ended.value.code, captured.out + captured.err


# --- an empty database file -------------------------------------------------------------------------------

def test_an_empty_database_is_refused_not_started_afresh(ws):
    file = write_campaign(ws / "campaigns" / "uji.toml", campaign_doc("uji", START))
    db = ws / "planner.db"
    for companion in ("planner.db-wal", "planner.db-shm"):
        (ws / companion).unlink(missing_ok=True)
    db.write_bytes(b"")  # truncated, e.g. by a full disk or a failed copy

    for args in (["campaign", "apply", str(file)], ["status"], ["publish", "--due"]):
        result = cli("--config", str(ws / "config.toml"), *args)
        assert result.exit_code == 2, (args, result.output)
        text = " ".join(result.output.split())
        assert f"Basis data {db} kosong (0 byte)" in text
        assert "docs/operations.md" in text and "Pulihkan dari salinan cadangan terbaru" in text
        assert db.stat().st_size == 0, args  # nothing was initialised over it

    # Not even `planner init` on this workspace starts afresh over it (it creates only where nothing is).
    result = cli("--lang", "en", "init", str(ws))
    assert result.exit_code == 2 and "is empty (0 bytes)" in " ".join(result.output.split()), result.output
    assert db.stat().st_size == 0
    with pytest.raises(PlannerError) as caught:
        open_db(db, create=True)
    assert caught.value.key == "store.empty"


def test_a_new_workspace_is_still_created(tmp_path):
    folder = tmp_path / "baru"
    init_workspace(folder)
    assert (folder / "planner.db").stat().st_size > 0
    assert [p.name for p in folder.iterdir() if p.name.endswith(".new")] == []  # no leftover of the creation


# --- a locked database ------------------------------------------------------------------------------------

HOLDER = textwrap.dedent("""
    import json, os, socket, sqlite3, sys
    from datetime import datetime, timezone
    conn = sqlite3.connect(sys.argv[1], isolation_level=None)
    if sys.argv[2] == "scheduler":  # the heartbeat `planner run` keeps
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        beat = {"owner": "uji", "pid": os.getpid(), "host": socket.gethostname(), "started_at": now, "at": now}
        conn.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('scheduler', ?, ?)",
                     [json.dumps(beat), now])
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('uji-kunci', 'x', 'x')")
    print("ready", flush=True)
    sys.stdin.readline()
""")


class Holder:
    """Another process holding the database's write lock until released."""

    def __init__(self, db: Path, who: str):
        self.proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(db), who], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"

    def release(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(30)


@pytest.fixture
def short_wait(monkeypatch):
    """Wait 0.3 s for a lock instead of the real 30 s (the same code path, only sooner)."""
    monkeypatch.setattr("planner.store.db.BUSY_TIMEOUT_MS", 300)


def test_campaign_apply_on_a_locked_database_says_who_holds_it_and_writes_nothing(ws, capsys, short_wait):
    file = write_campaign(ws / "campaigns" / "uji.toml", campaign_doc("uji", START))
    db = ws / "planner.db"
    holder = Holder(db, "scheduler")
    try:
        code, output = planner_main(capsys, "--config", str(ws / "config.toml"), "campaign", "apply", str(file))
    finally:
        holder.release()
    text = " ".join(output.split())
    assert code == 2, output
    assert "Traceback" not in output and "OperationalError" not in output
    assert f"Basis data {db} sedang dikunci" in text
    assert f"Penjadwal 'planner run' sedang berjalan (PID {holder.proc.pid} di komputer" in text
    assert "jalankan lagi perintah ini" in text
    assert rows(db, "SELECT COUNT(*) AS n FROM posts")[0]["n"] == 0  # nothing half-written
    assert rows(db, "SELECT COUNT(*) AS n FROM campaigns")[0]["n"] == 0

    # Once the other process is done, the same command goes through.
    code, output = planner_main(capsys, "--config", str(ws / "config.toml"), "campaign", "apply", str(file))
    assert code == 0, output
    assert rows(db, "SELECT COUNT(*) AS n FROM posts")[0]["n"] > 0


def test_publish_due_on_a_locked_database_is_a_clear_message_in_english_too(ws, capsys, short_wait):
    db = ws / "planner.db"
    holder = Holder(db, "someone")  # no scheduler heartbeat: the message cannot name the process
    try:
        code, output = planner_main(capsys, "--config", str(ws / "config.toml"), "--lang", "en", "publish", "--due")
    finally:
        holder.release()
    text = " ".join(output.split())
    assert code == 2, output
    assert "Traceback" not in output and "OperationalError" not in output
    assert f"The database {db} is locked by another planner process" in text
    assert "run this command again" in text
    assert rows(db, "SELECT COUNT(*) AS n FROM settings WHERE key = 'uji-kunci'")[0]["n"] == 0  # rolled back


def test_a_dead_schedulers_heartbeat_is_not_named(ws, capsys, short_wait):
    db = ws / "planner.db"
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    conn = sqlite3.connect(db)
    with conn:
        from datetime import datetime, timezone
        import json
        import socket

        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        conn.execute("INSERT OR REPLACE INTO settings (key, value, updated_at) VALUES ('scheduler', ?, ?)",
                     [json.dumps({"pid": dead_pid, "host": socket.gethostname(), "at": now}), now])
    conn.close()
    holder = Holder(db, "someone")
    try:
        code, output = planner_main(capsys, "--config", str(ws / "config.toml"), "pause", "--reason", "uji")
    finally:
        holder.release()
    assert code == 2, output
    assert "sedang dikunci oleh proses planner lain" in " ".join(output.split())
    assert str(dead_pid) not in output
