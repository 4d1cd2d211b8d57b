"""`planner db migrate-to postgresql://...`: the SQLite file copied into an empty PostgreSQL database.

Everything is copied as it is (ids, times, history, metrics, mentions, the audit chain) from one read
snapshot of the file, in one PostgreSQL transaction: a failure leaves the target as empty as it was. The copy
is then checked: every table holds as many rows as the file, and the audit chain verifies on PostgreSQL
against the file's recorded head as it did on the file.

A scheduler must not run meanwhile (it would publish from the file while the office moves to PostgreSQL):
one whose heartbeat is recent is named and the copy refused, and the scheduler's own lock file is held for
the whole copy so that none starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import PlannerError
from planner.store import audit
from planner.store.db import lock_holder, open_db, transaction
from planner.store.postgres import PostgresDatabase, safe_url

# Rows the target may already hold: none of the office's own (a fresh database has only its migrations).
_MUST_BE_EMPTY = ("campaigns", "posts", "audit_log", "settings")


@dataclass
class MigrationResult:
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows copied
    audit_rows: int = 0
    audit_head: str = ""


def migrate_to_postgres(sqlite_path: Path, url: str) -> MigrationResult:
    from filelock import FileLock, Timeout

    from planner.store.backend import connect_database

    sqlite_path = Path(sqlite_path)
    holder = lock_holder(sqlite_path) if sqlite_path.exists() else None
    if holder is not None:
        raise PlannerError("dbmove.scheduler_running", path=str(sqlite_path), pid=holder.get("pid", "?"),
                           host=holder.get("host", "?"))
    lock = FileLock(str(sqlite_path) + ".lock")  # the scheduler's single-instance lock (publishing/service.py)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise PlannerError("dbmove.scheduler_locked", path=str(sqlite_path)) from None
    try:
        source = open_db(sqlite_path)  # migrated to the current schema first, like every command does
        target = connect_database(url)
        try:
            assert isinstance(target, PostgresDatabase)
            return _copy(source, target, url, sqlite_path)
        finally:
            target.close()
            source.close()
    finally:
        lock.release()


def _copy(source, target: PostgresDatabase, url: str, sqlite_path: Path) -> MigrationResult:
    for table in _MUST_BE_EMPTY:
        if target.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():
            raise PlannerError("dbmove.target_not_empty", url=safe_url(url), table=table)
    result = MigrationResult()
    checked, breaks = audit.verify(source)
    if breaks:  # a chain broken in the file is looked into there first, not carried over unseen
        raise PlannerError("dbmove.source_audit_broken", path=str(sqlite_path), rows=checked, breaks=len(breaks))
    # Creation order: a table comes after those it refers to.
    tables = [name for (name,) in source.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != '_migrations' "
        "ORDER BY rowid")]
    missing = [t for t in tables if t not in set(target.table_names())]
    if missing:
        raise PlannerError("dbmove.schema_differs", url=safe_url(url), tables=", ".join(missing))
    conn = source.conn
    conn.execute("BEGIN")  # one read snapshot of the whole file (WAL): later writes are not half-seen
    try:
        with transaction(target):
            for table in tables:
                columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")]
                names = ", ".join(columns)
                with target.raw.cursor() as cursor:
                    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                        count = 0
                        for row in conn.execute(f"SELECT {names} FROM {table}"):
                            copy.write_row(row)
                            count += 1
                result.rows[table] = count
                sequence = target.raw.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table]).fetchone()[0] \
                    if "id" in columns else None
                if sequence:  # an identity id: the next one after those copied, as SQLite would give it
                    target.raw.execute(f"SELECT setval(%s, COALESCE(MAX(id), 0) + 1, false) FROM {table}", [sequence])
            _check(source, target, result, sqlite_path)
    finally:
        conn.execute("ROLLBACK")
    return result


def _check(source, target: PostgresDatabase, result: MigrationResult, sqlite_path: Path) -> None:
    """Inside the copy's transaction: a difference found here undoes the whole copy."""
    for table, count in result.rows.items():
        copied = target.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        if copied != count:
            raise PlannerError("dbmove.count_differs", table=table, source=count, target=copied)
    recorded = [h for h in (audit.read_head(audit.head_path(sqlite_path)),) if h is not None]
    checked, breaks = audit.verify(target, recorded)
    source_head, target_head = audit.head(source), audit.head(target)
    if breaks or (source_head.last_id, source_head.hash) != (target_head.last_id, target_head.hash):
        raise PlannerError("dbmove.audit_broken", rows=checked, breaks=len(breaks) or 1)
    result.audit_rows, result.audit_head = checked, target_head.short()
