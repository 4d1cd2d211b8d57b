"""What an account's platform says about its own text limit, remembered from `planner account check`.

A Mastodon instance sets its status length itself (``configuration.statuses.max_characters``; Mastodon's
default is 500, https://docs.joinmastodon.org/entities/Instance/). `account check` reads it and keeps it in
the ``settings`` table under ``text_limit:<account>``; validation and `campaign preview` count against it
from then on, and against the platform's documented limit (``text_rules.LIMITS``) until the account has
been checked.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

from planner.errors import PlannerError
from planner.store.db import open_db
from planner.store.outbox import set_setting

PREFIX = "text_limit:"


def remember(db, account_name: str, limit: int | None, *, now: datetime) -> None:
    """Keep (or, with None, forget) the account's text limit."""
    set_setting(db, PREFIX + account_name, None if limit is None else str(int(limit)), now=now)


def remembered(db) -> dict[str, int]:
    """Account name -> text limit, for every account checked so far."""
    rows = db.execute("SELECT key, value FROM settings WHERE key LIKE ?", [PREFIX + "%"]).fetchall()
    return {key[len(PREFIX):]: int(value) for key, value in rows if str(value).isdigit() and int(value) > 0}


def remember_in(database: Path, account_name: str, limit: int | None, *, now: datetime) -> bool:
    """``remember`` in the database file, if there is one: False when there is none, or it cannot be written."""
    if not Path(database).exists():
        return False
    try:
        db = open_db(database)
        try:
            remember(db, account_name, limit, now=now)
        finally:
            db.close()
    except (PlannerError, sqlite3.Error, OSError):
        return False
    return True


def remembered_in(database: Path | None) -> dict[str, int]:
    """``remembered`` from the database file; {} without one, or when it cannot be read."""
    if database is None or not Path(database).exists():
        return {}
    try:
        db = open_db(database, readonly=True)
        try:
            return remembered(db)
        finally:
            db.close()
    except (PlannerError, sqlite3.Error, OSError):
        return {}
