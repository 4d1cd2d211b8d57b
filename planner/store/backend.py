"""The one connection interface every store function uses, on the SQLite file or on PostgreSQL.

    db.dialect                        "sqlite" | "postgresql"
    db.execute(sql, params)           a cursor (fetchone / fetchall / iteration give tuples); `?` placeholders
    db.query(sql, params)             rows as dicts
    db.insert_returning_id(table, values)   the new row's id
    with db.transaction() as conn:    a write transaction with the write lock taken up front
                                      (scope="...": a narrower lock on PostgreSQL, store/db.py transaction)
    db.table_names(), db.close()

SQL is written once with `?` placeholders in the SQLite dialect the store grew up with; the PostgreSQL
implementation (store/postgres.py) reads it as PostgreSQL. Where a query truly needs another form, branch
on ``db.dialect`` inside the store function, never outside store/.

``connect_database(url_or_path)`` picks the backend: a ``postgresql://`` URL gives PostgreSQL, anything
else is the SQLite file (store/db.py ``open_db``).
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Iterator, Protocol, Sequence

from planner.errors import PlannerError
from planner.store.postgres import is_postgres_url

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Database(Protocol):
    dialect: str

    def execute(self, sql: str, params: Sequence | None = None) -> Any: ...

    def query(self, sql: str, params: Sequence | None = None) -> Iterator[dict]: ...

    def insert_returning_id(self, table: str, values: dict[str, Any]) -> int: ...

    def transaction(self, scope: str | None = None) -> AbstractContextManager[Any]: ...

    def table_names(self) -> list[str]: ...

    def close(self) -> None: ...


def insert_sql(table: str, values: dict[str, Any]) -> str:
    """``INSERT INTO table (a, b) VALUES (?, ?) RETURNING id``, the same text on both backends."""
    names = [table, *values]
    if not values or not all(_NAME.match(name) for name in names):
        raise ValueError(f"not a plain table or column name: {names}")
    return (f"INSERT INTO {table} ({', '.join(values)}) VALUES ({', '.join('?' for _ in values)}) "
            "RETURNING id")


def connect_database(url_or_path: str | Path, *, create: bool = False, readonly: bool = False) -> Database:
    """The store's database, migrated to the current schema (unless ``readonly``).

    PostgreSQL: the database must exist (made by its administrator); ``create`` only matters for the
    SQLite file, which it allows to be made."""
    if is_postgres_url(url_or_path):
        from planner.store.db import migrate
        from planner.store.postgres import PostgresDatabase

        url = str(url_or_path).strip()
        db = PostgresDatabase(url, readonly=readonly)
        if not readonly:
            try:
                migrate(db)
            except PlannerError:
                db.close()
                raise
            except Exception as exc:  # psycopg's: e.g. a role without the right to create tables
                from planner.store.postgres import describe_error, safe_url

                db.close()
                raise PlannerError("postgres.migrate_failed", url=safe_url(url), error=describe_error(exc, url)) from None
        return db
    from planner.store.db import open_db

    return open_db(Path(url_or_path), create=create, readonly=readonly)


def database_of(config) -> str | Path:
    """Where a loaded config keeps its data: the PostgreSQL URL when one is set, else the SQLite file."""
    return config.database_url or config.database


def open_configured(config, *, create: bool = False, readonly: bool = False) -> Database:
    """The database a loaded config names, on the backend it chooses: every command and the scheduler
    open it here (``create`` only makes a missing SQLite file)."""
    return connect_database(database_of(config), create=create, readonly=readonly)


def database_present(config) -> bool:
    """Whether there is a database to open without making one: the SQLite file exists; a PostgreSQL
    database is made by its administrator, so it is taken to be there (connecting says otherwise)."""
    return bool(config.database_url) or Path(config.database).exists()


def database_label(url_or_path: str | Path) -> str:
    """How to name the database to a person: the file's path, or the URL without its password."""
    if is_postgres_url(url_or_path):
        from planner.store.postgres import safe_url

        return safe_url(str(url_or_path).strip())
    return str(url_or_path)


def is_postgres_config(config) -> bool:
    return bool(config.database_url)
