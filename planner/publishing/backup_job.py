"""The database backup `planner run` makes every [backup] every (24 h by default).

The copy is made by a child process at the lowest CPU priority (nice 19), not by a thread of the
scheduler: copying and checking a large database takes seconds of CPU and disk, and none of it may
delay a post that falls due meanwhile. The child uses the same online backup (store.backup), which
takes one consistent snapshot while the scheduler goes on writing (WAL); a copy made in small steps
would start again after every write of the scheduler, and the heartbeat alone writes every 5 s.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from planner.i18n import t
from planner.store import outbox
from planner.store.db import parse_utc, utc_iso

LAST_BACKUP_KEY = "last_backup_at"
BACKUP_NICE = 19
BACKUP_TIMEOUT_S = 3600
log = logging.getLogger("planner.backup")

# Run with: database, folder, keep, time (ISO). Prints one JSON line: the copy, or {"error": ...}.
_CHILD = """
import json, os, sys
from datetime import datetime
from pathlib import Path
try:
    os.nice(int(os.environ.get("PLANNER_BACKUP_NICE", "19")))
except OSError:
    pass
from planner.store.backup import BackupError, backup_database
database, folder, keep, now = sys.argv[1:5]
try:
    made = backup_database(Path(database), Path(folder), keep=int(keep), now=datetime.fromisoformat(now))
except BackupError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"path": str(made.path), "size": made.size_bytes, "removed": len(made.removed)}))
"""


class _Failed(Exception):
    pass


def backup_in_child(config, now: datetime) -> dict:
    """Make the copy in a child process at low priority; its result as a dict. Raises _Failed."""
    import planner
    from planner.i18n import get_language

    env = dict(os.environ)
    root = str(Path(planner.__file__).resolve().parents[1])  # the child imports this very planner
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    env["PLANNER_LANG"] = get_language()
    env["PLANNER_BACKUP_NICE"] = str(BACKUP_NICE)
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, str(config.database), str(config.backup_dir),
                               str(config.backup_keep), now.isoformat()], env=env, capture_output=True, text=True,
                              timeout=BACKUP_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise _Failed(str(exc)) from None
    lines = done.stdout.strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else None
    except ValueError:
        answer = None
    if done.returncode != 0 or not isinstance(answer, dict):
        raise _Failed((done.stderr.strip().splitlines() or [f"exit code {done.returncode}"])[-1])
    if "error" in answer:
        raise _Failed(answer["error"])
    return answer


def backup_job(config, dispatcher) -> None:
    """Looked at every minute; copies the database once ``config.backup_every`` has passed."""
    if config.backup_every is None:
        return
    db = dispatcher.db
    now = dispatcher.clock.now()
    last = outbox.get_setting(db, LAST_BACKUP_KEY)
    if last and now - parse_utc(last) < config.backup_every:
        return
    try:
        made = backup_in_child(config, now)
    except _Failed as exc:
        log.error(t("log.backup_failed", dir=str(config.backup_dir), error=str(exc)))
        from planner.alerts import notify_staff

        notify_staff(config, t("backup.failed", dir=str(config.backup_dir), error=str(exc)))
        dispatcher.yield_to_publishing()
        outbox.set_setting(db, LAST_BACKUP_KEY, utc_iso(now), now=now)  # try again after the next period
        return
    dispatcher.yield_to_publishing()
    outbox.set_setting(db, LAST_BACKUP_KEY, utc_iso(now), now=now)
    log.info(t("log.backup_written", path=made["path"], size=made["size"], removed=made["removed"]))


BACKUP_JOB = ("backup", 60, backup_job)
