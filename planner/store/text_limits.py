"""What an account's platform says about its own text limit, remembered from `planner account check`.

A Mastodon instance sets its status length itself (``configuration.statuses.max_characters``; Mastodon's
default is 500, https://docs.joinmastodon.org/entities/Instance/). `account check` reads it and keeps it in
the ``settings`` table under ``text_limit:<account>``; validation and `campaign preview` count against it
from then on, and against the platform's documented limit (``text_rules.LIMITS``) until the account has
been checked.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from planner.errors import PlannerError
from planner.store.backend import connect_database
from planner.store.db import is_database_error
from planner.store.outbox import set_setting
from planner.store.postgres import is_postgres_url

PREFIX = "text_limit:"


def remember(db, account_name: str, limit: int | None, *, now: datetime) -> None:
    """Keep (or, with None, forget) the account's text limit."""
    set_setting(db, PREFIX + account_name, None if limit is None else str(int(limit)), now=now)


def remembered(db) -> dict[str, int]:
    """Account name -> text limit, for every account checked so far."""
    rows = db.execute("SELECT key, value FROM settings WHERE key LIKE ?", [PREFIX + "%"]).fetchall()
    return {key[len(PREFIX):]: int(value) for key, value in rows if str(value).isdigit() and int(value) > 0}


def _there(database: str | Path | None) -> bool:
    return database is not None and (is_postgres_url(database) or Path(database).exists())


def remember_in(database: str | Path, account_name: str, limit: int | None, *, now: datetime) -> bool:
    """``remember`` in the database (the SQLite file, if there is one, or a PostgreSQL URL): False when there
    is none, or it cannot be written."""
    if not _there(database):
        return False
    try:
        db = connect_database(database)
        try:
            remember(db, account_name, limit, now=now)
        finally:
            db.close()
    except Exception as exc:
        if isinstance(exc, (PlannerError, OSError)) or is_database_error(exc):
            return False
        raise
    return True


def remembered_in(database: str | Path | None) -> dict[str, int]:
    """``remembered`` from the database (file or PostgreSQL URL); {} without one, or when it cannot be read."""
    if not _there(database):
        return {}
    try:
        db = connect_database(database, readonly=True)
        try:
            return remembered(db)
        finally:
            db.close()
    except Exception as exc:
        if isinstance(exc, (PlannerError, OSError)) or is_database_error(exc):
            return {}
        raise
