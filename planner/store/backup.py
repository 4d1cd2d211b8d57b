"""Consistent copies of the database while the scheduler keeps writing (SQLite's online backup).

Each copy is one self-contained file (journal mode DELETE, no -wal beside it) named by its UTC time,
checked with PRAGMA integrity_check before it takes its final name, so a copy in the folder is
always whole. The oldest copies beyond ``keep`` are removed; files not named like ours are never touched.
"""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

NAME = re.compile(r"^planner-\d{8}T\d{9}Z\.db$")  # UTC time to the millisecond: names sort by age


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    removed: tuple[Path, ...]


class BackupError(Exception):
    pass


def backup_database(database: Path, directory: Path, *, keep: int, now: datetime | None = None) -> BackupResult:
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"{directory}: {exc.strerror}") from None
    final = directory / f"planner-{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z.db"
    tmp = directory / f".{final.name}.{os.getpid()}.tmp"
    try:
        _copy(database, tmp)
        os.replace(tmp, final)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise BackupError(str(getattr(exc, "strerror", None) or exc)) from None
    return BackupResult(final, final.stat().st_size, _prune(directory, keep))


def _copy(database: Path, target: Path) -> None:
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
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def _prune(directory: Path, keep: int) -> tuple[Path, ...]:
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    old = ours[:-keep] if keep > 0 else []
    for path in old:
        path.unlink(missing_ok=True)
    return tuple(old)


def latest_backup(directory: Path) -> Path | None:
    if not directory.is_dir():
        return None
    ours = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    return ours[-1] if ours else None
