"""Opening the SQLite file: pragmas, migrations, transactions, time format.

``migrate`` and ``transaction`` serve both backends (store/backend.py); PostgreSQL is store/postgres.py."""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import sqlite_utils

from planner import clock
from planner.domain.timefmt import parse_utc, utc_iso  # noqa: F401  (re-exported for the store)
from planner.errors import PlannerError
from planner.store.schema import MIGRATIONS, is_postgres

BUSY_TIMEOUT_MS = 30_000


class SqliteDatabase(sqlite_utils.Database):
    """The SQLite file behind the store's connection interface (store/backend.py). Still a
    sqlite_utils.Database, so code written against that keeps working."""

    dialect = "sqlite"

    def transaction(self, scope: str | None = None):
        return transaction(self)  # one lock on SQLite, whatever the scope

    def insert_returning_id(self, table: str, values: dict) -> int:
        from planner.store.backend import insert_sql

        return self.conn.execute(insert_sql(table, values), list(values.values())).fetchone()[0]


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
    """The database, migrated to the current schema. ``create`` allows making a new file.

    An existing file must be an SQLite database: an empty (0-byte) or foreign file is refused even with
    ``create``, because starting afresh over a truncated database would publish again what was published.
    """
    path = Path(path)
    try:
        exists = _check_database_file(path)
        if not exists:
            if not create:
                raise PlannerError("store.not_found", path=str(path))
            _create(path)
        conn = connect(path, readonly=readonly)
        conn.execute("SELECT COUNT(*) FROM sqlite_master")  # a foreign file fails here (SQLITE_NOTADB)
        db = SqliteDatabase(conn)
        if not readonly:
            migrate(db)
    except sqlite3.DatabaseError as exc:
        if is_lock_error(exc):
            raise DatabaseLocked(path) from None
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF == sqlite3.SQLITE_NOTADB:
            from planner.i18n import t

            raise PlannerError("store.unreadable", path=str(path), error=t("store.reason_not_sqlite")) from None
        raise PlannerError("store.unreadable", path=str(path), error=str(exc)) from None
    return db


def _check_database_file(path: Path) -> bool:
    """True if ``path`` is there and looks like an SQLite database, False if it is not there; else refused."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise PlannerError("store.unreadable", path=str(path), error=exc.strerror or str(exc)) from None
    if not stat.S_ISREG(info.st_mode):
        from planner.i18n import t

        raise PlannerError("store.unreadable", path=str(path), error=t("store.reason_not_a_file"))
    if info.st_size == 0:
        raise PlannerError("store.empty", path=str(path))
    # The header is not read here: closing any descriptor of the file would drop every POSIX lock this
    # process's SQLite connections hold on it (another process then checkpoints and deletes the WAL under
    # us). SQLite itself refuses a foreign file (SQLITE_NOTADB), which open_db reports.
    return True


def _create(path: Path) -> None:
    """A new database, private (0600) from its first byte and never seen empty under its own name.

    It is made and migrated under a temporary name, then hard-linked into place: the link fails if another
    process made the database meanwhile, and that one is then used. So an empty planner.db always means a
    damaged one. SQLite gives the -wal and -shm files the database file's mode.
    """
    from planner.files import FileWriteError, make_private_dirs

    try:
        make_private_dirs(path.parent)
    except FileWriteError as exc:
        raise PlannerError("store.create_failed", path=str(path), error=exc.render()) from None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600))
        os.chmod(tmp, 0o600)  # a leftover from an interrupted run keeps its old mode otherwise
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            conn.execute("PRAGMA foreign_keys = ON")  # as every later connection has it
            migrate(sqlite_utils.Database(conn))
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # made by another process at the same moment: use that one
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            if not path.exists():  # a file system without hard links
                os.replace(tmp, path)
    except OSError as exc:
        from planner.files import os_reason

        raise PlannerError("store.create_failed", path=str(path), error=os_reason(exc)) from None
    except sqlite3.Error as exc:
        raise PlannerError("store.create_failed", path=str(path), error=str(exc)) from None
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + "-journal")):
            try:
                os.unlink(leftover)
            except OSError:
                pass


def is_lock_error(exc: BaseException) -> bool:
    """SQLite's 'database is locked' / 'busy': another connection holds the lock longer than we wait."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return True
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class DatabaseLocked(PlannerError):
    """Another process kept the database locked for longer than BUSY_TIMEOUT_MS. Names the running
    scheduler when its heartbeat is recent, since that is the usual holder."""

    def __init__(self, path: Path | str):
        seconds = round(BUSY_TIMEOUT_MS / 1000)
        holder = lock_holder(Path(path))
        if holder is None:
            super().__init__("store.locked", path=str(path), seconds=seconds)
        else:
            super().__init__("store.locked_by_scheduler", path=str(path), seconds=seconds,
                             pid=holder.get("pid", "?"), host=holder.get("host", "?"))


def lock_holder(path: Path) -> dict | None:
    """The scheduler's heartbeat (pid, host, ...) if one was written lately by a process still alive.

    Read-only and quick; any trouble reading it just means we cannot tell."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
        try:
            from planner.store import heartbeat

            # The heartbeat cannot be written while the lock is held, so allow for our own wait too.
            beat = heartbeat.fresh(sqlite_utils.Database(conn), now=clock.now(),
                                   stale_after=3 * heartbeat.EVERY + BUSY_TIMEOUT_MS / 1000 + 15)
        finally:
            conn.close()
    except Exception:
        return None
    if not beat:
        return None
    import socket

    if beat.get("host") == socket.gethostname() and isinstance(beat.get("pid"), int):
        try:
            os.kill(beat["pid"], 0)
        except ProcessLookupError:
            return None
        except OSError:
            pass  # alive, but not ours to signal
    return beat


def loose_permissions(path: Path) -> list[Path]:
    """The database file and its companions (-wal, -shm, -journal, .lock) that others than the owner may
    read or write. Nothing is changed: `planner check` warns about them (new files are made 0600)."""
    path = Path(path)
    found = []
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in ("-wal", "-shm", "-journal",
                                                                              ".lock"))):
        try:
            mode = os.stat(candidate).st_mode
        except OSError:
            continue
        if stat.S_IMODE(mode) & 0o077:
            found.append(candidate)
    return found


def migrate(db: sqlite_utils.Database) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction. Returns their names.

    On PostgreSQL the SQLite-dialect helpers (postgres.POSTGRES_PRELUDE) come first."""
    conn = db.conn
    create = "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    migrations = list(MIGRATIONS)
    if is_postgres(db):
        from planner.store.postgres import POSTGRES_PRELUDE

        migrations = [*POSTGRES_PRELUDE, *migrations]
        with transaction(db):  # two processes creating it at once collide on PostgreSQL's catalogue
            conn.execute(create)
    else:
        conn.execute(create)
    applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    done = []
    for migration in migrations:
        if migration.__name__ in applied:
            continue
        with transaction(db):
            # Another process may have applied it while we waited for the write lock.
            if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", [migration.__name__]).fetchone():
                continue
            migration(conn)
            conn.execute("INSERT INTO _migrations VALUES (?, ?)", [migration.__name__, utc_iso(clock.now())])
        done.append(migration.__name__)
    return done


@contextmanager
def transaction(db: sqlite_utils.Database, *, scope: str | None = None) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE: take the write lock up front, so a read-then-write cannot race.

    On PostgreSQL the same: the database's one advisory write lock first (store/postgres.py). ``scope``
    ("account:<channel>", "post:<id>") narrows that lock on PostgreSQL to what the transaction reads and
    writes, for the workers' hot path. Only for a transaction whose writes are single-row changes guarded
    by the state they expect: every other writer re-checks its own guard against them, so none can
    overwrite what they decided. SQLite has one lock and takes it whatever the scope."""
    if is_postgres(db):
        with db.transaction(scope) as conn:
            yield conn
        return
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Also when COMMIT itself failed (busy, disk full): nothing half-written stays. SQLite may already
        # have rolled back on its own (e.g. on a full disk); the original error is the one to report.
        if conn.in_transaction:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
        raise


def is_database_error(exc: BaseException) -> bool:
    """An error the database itself raised (locked, full, corrupt, connection lost...), on either backend:
    ``database_error_message`` says it."""
    if isinstance(exc, sqlite3.DatabaseError):
        return True
    import sys

    psycopg = sys.modules.get("psycopg")  # never imported: the error cannot be one of its
    return psycopg is not None and isinstance(exc, psycopg.Error)


def database_error_message(exc: BaseException, path: Path | str) -> str:
    """What to tell the user about a database error that reached the top of a command. ``path`` is the
    SQLite file or the PostgreSQL URL (shown without its password)."""
    from planner.i18n import t

    if not isinstance(exc, sqlite3.DatabaseError):
        from planner.store.postgres import error_message

        return error_message(exc, str(path))
    if is_lock_error(exc):
        return DatabaseLocked(path).render()
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    reason = {sqlite3.SQLITE_FULL: "store.reason_full", sqlite3.SQLITE_IOERR: "store.reason_io",
              sqlite3.SQLITE_READONLY: "store.reason_readonly", sqlite3.SQLITE_CORRUPT: "store.reason_corrupt",
              sqlite3.SQLITE_NOTADB: "store.reason_corrupt"}.get(code)
    return t("store.failed", path=str(path), error=t(reason) if reason else str(exc))
