"""The running scheduler's heartbeat: one settings row the service rewrites every few seconds.

It lives in the store because readers below the scheduler need it too: `store.db.lock_holder` names the
process that holds the database, `planner status` and `planner check` say whether the scheduler runs."""

from __future__ import annotations

from datetime import datetime

from planner.store import outbox
from planner.store.db import parse_utc, utc_iso

KEY = "scheduler"
EVERY = 5.0  # seconds between beats


def beat(db, *, owner: str, pid: int, host: str, started_at: datetime, now: datetime) -> None:
    outbox.set_json_setting(db, KEY, {"owner": owner, "pid": pid, "host": host,
                                      "started_at": utc_iso(started_at), "at": utc_iso(now)}, now=now)


def clear(db, *, now: datetime) -> None:
    outbox.set_setting(db, KEY, None, now=now)


def fresh(db, *, now: datetime, stale_after: float = 3 * EVERY) -> dict | None:
    """The last beat with its age (``age_s``) if it is at most ``stale_after`` seconds old, else None."""
    beat = outbox.get_json_setting(db, KEY)
    if not beat:
        return None
    age = (now - parse_utc(beat["at"])).total_seconds()
    beat["age_s"] = age
    return beat if age <= stale_after else None
