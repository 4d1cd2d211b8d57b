"""Consistent copies of the database while the scheduler keeps writing (SQLite's online backup).

Each copy is one self-contained file (journal mode DELETE, no -wal beside it) named by its UTC time,
checked with PRAGMA integrity_check before it takes its final name, so a copy in the folder is
always whole. The oldest copies beyond ``keep`` are removed; files not named like ours are never touched.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from planner import clock

NAME = re.compile(r"^planner-\d{8}T\d{9}Z\.db$")  # UTC time to the millisecond: names sort by age
HEAD_SUFFIX = ".audit-head"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    removed: tuple[Path, ...]


class BackupError(Exception):
    pass


def backup_database(database: Path, directory: Path, *, keep: int, now: datetime | None = None) -> BackupResult:
    """A checked copy of ``database`` in ``directory`` (made 0700 if missing; the copy is 0600), through
    planner.files.safe_write: whole or not at all, and a failure leaves no temporary file behind."""
    from planner.files import FileWriteError, make_private_dirs, safe_write

    now = (now or clock.now()).astimezone(timezone.utc)
    final = directory / f"planner-{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z.db"
    try:
        make_private_dirs(directory)
        safe_write(final, lambda tmp: _copy(database, tmp))
    except FileWriteError as exc:
        raise BackupError(exc.render().rstrip(".")) from None  # said inside backup.failed, which goes on
    except sqlite3.Error as exc:
        raise BackupError(_sqlite_reason(exc)) from None
    _write_audit_head(final)
    return BackupResult(final, final.stat().st_size, _prune(directory, keep))


def _write_audit_head(copy: Path) -> None:
    """The copy's audit head beside it: `planner audit --verify` holds the live chain against it."""
    from planner.store.audit import write_head

    conn = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'audit_log'").fetchone():
            write_head(conn, copy.with_name(copy.name + HEAD_SUFFIX))
    finally:
        conn.close()


def _sqlite_reason(exc: sqlite3.Error) -> str:
    """SQLite's English text, or the same reason the file writer gives when it is one we know."""
    from planner.i18n import t

    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if code == sqlite3.SQLITE_FULL:
        return t("files.reason_enospc")
    if code == sqlite3.SQLITE_IOERR:
        return t("files.reason_eio")
    return str(exc)


def _copy(database: Path, target: Path) -> None:
    """Fill ``target`` (an empty file made by safe_write, which also fsyncs it) with a checked copy."""
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # one step: a consistent snapshot even while others write (WAL)
        copy.execute("PRAGMA journal_mode = DELETE")
        verdict = copy.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise sqlite3.DatabaseError(f"the copy failed its integrity check: {verdict}")
        copy.commit()
    finally:
        copy.close()
        source.close()


def _prune(directory: Path, keep: int) -> tuple[Path, ...]:
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    old = ours[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
        path.with_name(path.name + HEAD_SUFFIX).unlink(missing_ok=True)
    return tuple(old)


def latest_backup(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    return ours[-1] if ours else None
