"""What an account's platform says about its own limits, remembered from `planner account check`.

A Mastodon instance sets its status length itself (``configuration.statuses.max_characters``; Mastodon's
default is 500). `account check` reads it and keeps it in the database's ``settings`` table, under
``text_limit:<account>``; validation and `campaign preview` count against it from then on, and against
the platform's documented limit (``text_rules.LIMITS``) until the account has been checked.
"""

from __future__ import annotations

import sqlite3

KEY = "text_limit:{}"


def remember_text_limit(config, account_name: str, limit: int | None) -> bool:
    """Keep (or, with None, forget) the account's text limit; False when there is no database to keep it in."""
    from planner.errors import PlannerError
    from planner.store.db import now_utc, open_db
    from planner.store.outbox import set_setting

    if not config.database.exists():
        return False
    try:
        db = open_db(config.database)
        try:
            set_setting(db, KEY.format(account_name), None if limit is None else str(int(limit)), now=now_utc())
        finally:
            db.close()
    except (PlannerError, sqlite3.Error, OSError):
        return False
    return True


def remembered_text_limits(config) -> dict[str, int]:
    """Account name -> text limit, for every account checked so far; {} without a readable database."""
    from planner.errors import PlannerError
    from planner.store.db import open_db

    if config is None or not config.database.exists():
        return {}
    try:
        db = open_db(config.database, readonly=True)
        try:
            rows = db.execute("SELECT key, value FROM settings WHERE key LIKE 'text_limit:%'").fetchall()
        finally:
            db.close()
    except (PlannerError, sqlite3.Error, OSError):
        return {}
    limits = {}
    for key, value in rows:
        if str(value).isdigit() and int(value) > 0:
            limits[key.split(":", 1)[1]] = int(value)
    return limits
