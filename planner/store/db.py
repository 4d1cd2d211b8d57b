"""Opening the SQLite file: pragmas, migrations, transactions, time format."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import sqlite_utils

from planner.domain.timefmt import parse_utc, utc_iso  # noqa: F401  (re-exported for the store)
from planner.errors import PlannerError
from planner.store.schema import MIGRATIONS

BUSY_TIMEOUT_MS = 30_000


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                               check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                               timeout=BUSY_TIMEOUT_MS / 1000)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    if not readonly:
        _set_wal(conn)
        # FULL: a committed 'published' must survive a power cut, or we would publish again.
        conn.execute("PRAGMA synchronous = FULL")
    return conn


def _set_wal(conn: sqlite3.Connection, attempts: int = 50) -> None:
    """Switching a new file to WAL answers 'locked' at once (no busy wait) while another process does it."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def open_db(path: Path, *, create: bool = False, readonly: bool = False) -> sqlite_utils.Database:
    """The database, migrated to the current schema. ``create`` allows making a new file."""
    if not path.exists() and not create:
        raise PlannerError("store.not_found", path=str(path))
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        conn = connect(path, readonly=readonly)
        db = sqlite_utils.Database(conn)
        if not readonly:
            migrate(db)
    except sqlite3.DatabaseError as exc:
        raise PlannerError("store.unreadable", path=str(path), error=str(exc)) from None
    return db


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction. Returns their names."""
    conn = db.conn
    conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    done = []
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        with transaction(db):
            # Another process may have applied it while we waited for the write lock.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", [migration.__name__]).fetchone():
                continue
            migration(conn)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", [migration.__name__, utc_iso(now_utc())])
        done.append(migration.__name__)
    return done


@contextmanager
def transaction(db: sqlite_utils.Database) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock up front, so a read-then-write cannot race."""
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")
