"""PostgreSQL as the store (issue 15), behind the same interface as the SQLite file (store/backend.py).

The store's SQL is written once, in the SQLite dialect it grew up with. This module runs it on PostgreSQL:

- ``?`` placeholders become ``%s`` (and a literal ``%`` becomes ``%%``, since psycopg reads the whole text);
- ``INSERT OR IGNORE`` becomes ``INSERT ... ON CONFLICT DO NOTHING``; ``PRAGMA`` statements do nothing;
  SQLite's NULL-safe ``a IS b`` / ``a IS NOT b`` become ``IS [NOT] DISTINCT FROM``;
- the few SQLite functions the store calls (``julianday``, ``json_extract``, ``json_each``, ``group_concat``)
  and a ``sqlite_master`` view (tables, indexes, triggers) are made by the first migration here
  (POSTGRES_PRELUDE);
- SQLite's scalar ``MAX(a, b)`` / ``MIN(a, b)`` are ``GREATEST`` / ``LEAST``;
- ``LIKE`` is ``ILIKE`` (SQLite's ignores ASCII case); ``SUM()`` of a comparison counts its true rows; a
  ``numeric`` result (``SUM`` of integers) comes back as int, or float with a fraction, as SQLite gives them;
- DDL: ``INTEGER`` is 64-bit (``BIGINT``), ``REAL`` is ``DOUBLE PRECISION``, ``TEXT`` sorts bytewise
  (``COLLATE "C"``, SQLite's BINARY) whatever the database's locale, an ``id INTEGER PRIMARY KEY``
  (SQLite's rowid) is an identity column, ``WITHOUT ROWID`` goes, an index on an expression gets its
  parentheses, and the append-only triggers become plpgsql triggers (UPDATE, DELETE and TRUNCATE refused).

A write transaction takes one advisory lock first: writers queue one after another exactly as SQLite's
``BEGIN IMMEDIATE`` makes them, so every guarded state change keeps its meaning (a claim's
``UPDATE ... WHERE id IN (SELECT ...)`` cannot hand one post to two workers under READ COMMITTED). The
workers' hot path is the one exception (store/db.py ``transaction(scope=...)``): a post's claim, its send
mark and its outcome take the lock of their account or post only (the audit chain has its own lock),
because handing the one lock from worker to worker three times a post was what capped a cluster
(docs/benchmarks.md, 4d).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from planner.config import is_postgres_url  # noqa: F401  (the backend chooser's test, re-exported)
from planner.errors import PlannerError
from planner.store.db import BUSY_TIMEOUT_MS

DIALECT = "postgresql"
# pg_advisory_xact_lock key held by every write transaction: the one "write lock" of the database.
WRITE_LOCK_KEY = 0x706C616E6E6572  # "planner"
_BEGIN_WRITE = f"BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"


def safe_url(url: str) -> str:
    """The URL as it may be shown or logged: the password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def _psycopg():
    try:
        import psycopg
    except ImportError:
        raise PlannerError("postgres.not_installed") from None
    return psycopg


def _scope_key(scope: str) -> int:
    """A stable signed 32-bit key for a scope's advisory lock."""
    import zlib

    key = zlib.crc32(scope.encode())
    return key - (1 << 32) if key >= 1 << 31 else key


class _NoRows:
    """What a PRAGMA answers on PostgreSQL: nothing (they tune SQLite's file, which is not there)."""

    rowcount = -1
    description = None

    def fetchone(self):
        return None

    def fetchall(self):
        return []

    def __iter__(self):
        return iter(())


@lru_cache(maxsize=1)
def _sqlite_number_loader():
    """``numeric`` as SQLite would answer it: ``SUM`` of integers an int, anything with a fraction a float.
    (Made on first use: psycopg is imported only when PostgreSQL is chosen.)"""
    from psycopg.adapt import Loader

    class SqliteNumberLoader(Loader):
        def load(self, data):
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else float(text)

    return SqliteNumberLoader


class PostgresDatabase:
    """One psycopg connection in autocommit mode; ``transaction()`` for writes (store/backend.py).

    ``conn`` is the object itself, so store code written as ``db.conn.execute(...)`` or
    ``with transaction(db) as conn: conn.execute(...)`` runs unchanged on both backends."""

    dialect = DIALECT

    def __init__(self, url: str, *, readonly: bool = False, connect_timeout: int = 10):
        psycopg = _psycopg()
        self.url = url
        self.readonly = readonly
        try:
            self.raw = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
        except psycopg.Error as exc:
            raise PlannerError("postgres.unreachable", url=safe_url(url), error=describe_error(exc, url)) from None
        self.raw.adapters.register_loader("numeric", _sqlite_number_loader())
        self.raw.execute("SET TIME ZONE 'UTC'")
        # As long as SQLite's busy timeout: a writer stuck that long is reported, not waited for forever.
        self.raw.execute(f"SET lock_timeout = {int(BUSY_TIMEOUT_MS)}")
        if readonly:
            self.raw.execute("SET default_transaction_read_only = on")

    @property
    def conn(self) -> "PostgresDatabase":
        return self

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence | None = None):
        if isinstance(params, dict):
            raise TypeError("the store's SQL uses ? placeholders, not named ones")
        statements = translate(sql)
        cursor: Any = _NoRows()
        for statement, is_ddl in statements:
            if is_ddl:
                cursor = self.raw.execute(statement)
            else:
                cursor = self.raw.execute(statement, list(params or ()))
        return cursor

    def executemany(self, sql: str, seq_of_params) -> None:
        [(statement, _)] = translate(sql)
        with self.raw.cursor() as cursor:
            cursor.executemany(statement, [list(p) for p in seq_of_params])

    def query(self, sql: str, params: Sequence | None = None) -> Iterator[dict]:
        from psycopg.rows import dict_row

        [(statement, _)] = translate(sql)
        with self.raw.cursor(row_factory=dict_row) as cursor:
            cursor.execute(statement, list(params or ()))
            yield from cursor.fetchall()

    def table_names(self) -> list[str]:
        return [row[0] for row in self.raw.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
            "AND table_type = 'BASE TABLE' ORDER BY table_name")]

    def insert_returning_id(self, table: str, values: dict[str, Any]) -> int:
        from planner.store.backend import insert_sql

        return self.execute(insert_sql(table, values), list(values.values())).fetchone()[0]

    @contextmanager
    def transaction(self, scope: str | None = None) -> Iterator["PostgresDatabase"]:
        """A write transaction holding the database's write lock, or only the lock of ``scope`` (store/db.py
        transaction); nested in another, a savepoint.

        BEGIN and the lock go in one round trip (one query text without parameters is sent whole): every
        writer of the cluster queues behind the lock's holder, so each round trip it spends is theirs too."""
        from psycopg.errors import LockNotAvailable

        if self.in_transaction:
            with self.raw.transaction():  # psycopg makes it a savepoint
                yield self
            return
        if self.readonly:
            begin = "BEGIN READ ONLY"
        elif scope is None:
            begin = _BEGIN_WRITE
        else:  # the two-key advisory locks are a space apart from the one-key write lock
            begin = f"BEGIN; SELECT pg_advisory_xact_lock(1, {_scope_key(scope)})"
        try:
            self.raw.execute(begin)
        except LockNotAvailable:
            self._rollback()
            raise self.locked_error() from None
        try:
            yield self
        except LockNotAvailable:  # a row or a lock waited for past lock_timeout
            self._rollback()
            raise self.locked_error() from None
        except BaseException:
            self._rollback()
            raise
        self.raw.execute("COMMIT")  # a failed COMMIT leaves nothing behind: the server rolled back

    def lock_scope(self, scope: str) -> None:
        """Inside a transaction: also take ``scope``'s lock, until it ends."""
        self.raw.execute(f"SELECT pg_advisory_xact_lock(1, {_scope_key(scope)})")

    def _rollback(self) -> None:
        if self.in_transaction and not self.raw.closed:
            try:
                self.raw.execute("ROLLBACK")
            except Exception:
                pass  # the connection broke: the server rolls back on its own; the first error is the one to tell

    def locked_error(self) -> PlannerError:
        """Another writer kept the write lock past lock_timeout: the running scheduler is named when its
        heartbeat is recent, as on SQLite (store/db.py DatabaseLocked)."""
        seconds = round(BUSY_TIMEOUT_MS / 1000)
        try:
            from planner import clock
            from planner.store import heartbeat

            # The heartbeat cannot be written while the lock is held, so allow for our own wait too.
            beat = heartbeat.fresh(self, now=clock.now(), stale_after=3 * heartbeat.EVERY + BUSY_TIMEOUT_MS / 1000 + 15)
        except Exception:
            beat = None
        if beat:
            return PlannerError("store.locked_by_scheduler", path=safe_url(self.url), seconds=seconds,
                                pid=beat.get("pid", "?"), host=beat.get("host", "?"))
        return PlannerError("store.locked", path=safe_url(self.url), seconds=seconds)

    def close(self) -> None:
        self.raw.close()


def describe_error(exc: BaseException, url: str) -> str:
    """The reason psycopg gives, on one line, without the URL's password should it be echoed."""
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    password = urlsplit(url).password
    return line.replace(password, "***") if password else line


def error_message(exc: BaseException, url: str) -> str:
    """What to tell the user about a psycopg error that reached the top of a command (the transaction it
    interrupted has been rolled back by the server)."""
    from planner.i18n import t

    shown = safe_url(url) if is_postgres_url(url) else url
    reason = describe_error(exc, url)
    state = getattr(exc, "sqlstate", None) or ""
    if state == "55P03":  # lock_not_available: lock_timeout ran out waiting for another writer
        return t("store.locked", path=shown, seconds=round(BUSY_TIMEOUT_MS / 1000))
    if state == "53100":  # disk_full
        return t("postgres.failed", url=shown, error=t("store.reason_full"))
    if state == "42501":  # insufficient_privilege
        return t("postgres.no_privilege", url=shown, error=reason)
    if state == "25006":  # read_only_sql_transaction: a standby, or a read-only role
        return t("postgres.read_only", url=shown, error=reason)
    import psycopg

    # Class 08 (connection exception), 57P01-57P03 (the server shutting down or starting), or a client-side
    # failure without any code (the socket closed under us).
    if state.startswith(("08", "57P")) or (isinstance(exc, psycopg.OperationalError) and not state):
        return t("postgres.connection_lost", url=shown, error=reason)
    return t("postgres.failed", url=shown, error=reason)


# --- the SQLite dialect, read as PostgreSQL ------------------------------------------------------------

_LITERAL = re.compile(r"\x00(\d+)\x00")


def _split(sql: str) -> tuple[str, list[str]]:
    """The code with each string literal replaced by a marker (comments dropped), and the literals."""
    code, literals, i, n = [], [], 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            j = i + 1
            while j < n:
                if sql[j] == "'" and (j + 1 >= n or sql[j + 1] != "'"):
                    break
                j += 2 if sql[j] == "'" else 1
            literals.append(sql[i:j + 1])
            code.append(f"\x00{len(literals) - 1}\x00")
            i = j + 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            code.append(ch)
            i += 1
    return "".join(code), literals


@lru_cache(maxsize=2048)
def translate(sql: str) -> tuple[tuple[str, bool], ...]:
    """The PostgreSQL statements for one SQLite statement, each with whether it is DDL (run without
    parameters, so ``%`` stays as it is). A PRAGMA gives none."""
    code, literals = _split(sql)
    code = code.strip().rstrip(";").strip()
    head = code[:40].upper()
    if head.startswith("PRAGMA"):
        return ()
    if head.startswith(("CREATE", "ALTER", "DROP")):
        return tuple((_restore(stmt, literals, params=False), True) for stmt in _ddl(code))
    if re.match(r"INSERT\s+OR\s+REPLACE\b", code, re.I):
        raise NotImplementedError("INSERT OR REPLACE has no PostgreSQL form here: write INSERT ... ON CONFLICT")
    code = code.replace("%", "%%").replace("?", "%s")
    # SQLite's `a IS b` / `a IS NOT b` compare any two values NULL-safely; PostgreSQL spells that out.
    code = re.sub(r"\bIS\s+NOT\s+(?!NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", "IS DISTINCT FROM ", code, flags=re.I)
    code = re.sub(r"\bIS\s+(?!NOT\b|NULL\b|TRUE\b|FALSE\b|DISTINCT\b)", "IS NOT DISTINCT FROM ", code, flags=re.I)
    code = re.sub(r"\bLIKE\b", "ILIKE", code, flags=re.I)  # SQLite's LIKE ignores (ASCII) case
    code = _alias_subqueries(code)
    code = _scalar_min_max(code)
    if re.match(r"INSERT\s+OR\s+IGNORE\b", code, re.I):
        code = re.sub(r"^INSERT\s+OR\s+IGNORE\b", "INSERT", code, flags=re.I)
        returning = re.search(r"\bRETURNING\b", code, re.I)
        code = (code[:returning.start()] + "ON CONFLICT DO NOTHING " + code[returning.start():] if returning
                else code + " ON CONFLICT DO NOTHING")
    return ((_restore(code, literals, params=True), False),)


_SUBQUERY = re.compile(r"\b(?:FROM|JOIN)\s*\(\s*(?:SELECT|VALUES|WITH)\b", re.I)
_NOT_AN_ALIAS = re.compile(r"\s*(?:$|[),;]|(?:WHERE|GROUP|ORDER|LIMIT|OFFSET|JOIN|LEFT|RIGHT|INNER|OUTER|CROSS|FULL|"
                           r"NATURAL|ON|USING|UNION|EXCEPT|INTERSECT|HAVING|WINDOW|RETURNING)\b)", re.I)


def _alias_subqueries(code: str) -> str:
    """``FROM (SELECT ...)`` without a name: SQLite allows it, PostgreSQL before 16 does not."""
    out, start = [], 0
    for match in _SUBQUERY.finditer(code):
        if match.start() < start:
            continue  # inside a subquery already handled (below, recursively)
        opening = code.index("(", match.start())
        depth = 0
        for closing in range(opening, len(code)):
            depth += code[closing] == "("
            depth -= code[closing] == ")"
            if depth == 0:
                break
        out += [code[start:opening + 1], _alias_subqueries(code[opening + 1:closing]), ")"]
        start = closing + 1
        if _NOT_AN_ALIAS.match(code, start):
            out.append(f" AS _subquery{opening}")
    return "".join(out) + code[start:]


_MIN_MAX = re.compile(r"\b(MIN|MAX)\s*\(", re.I)


def _scalar_min_max(code: str) -> str:
    """SQLite's scalar ``MAX(a, b)`` / ``MIN(a, b)`` (two or more arguments) are PostgreSQL's ``GREATEST`` /
    ``LEAST``; the one-argument aggregates stay as they are."""
    out, start = [], 0
    for match in _MIN_MAX.finditer(code):
        opening = match.end() - 1
        depth = 0
        for closing in range(opening, len(code)):
            depth += code[closing] == "("
            depth -= code[closing] == ")"
            if depth == 0:
                break
        if len(_top_level_split(code[opening + 1:closing])) > 1:
            out += [code[start:match.start()], "GREATEST" if match.group(1).upper() == "MAX" else "LEAST"]
            start = match.start() + len(match.group(1))
    return "".join(out) + code[start:]


def _restore(code: str, literals: list[str], *, params: bool) -> str:
    return _LITERAL.sub(lambda m: literals[int(m.group(1))].replace("%", "%%") if params
                        else literals[int(m.group(1))], code)


_TRIGGER = re.compile(r"^CREATE\s+TRIGGER\s+(\w+)\s+BEFORE\s+(UPDATE|DELETE)\s+ON\s+(\w+)\s+BEGIN\s+SELECT\s+"
                      r"RAISE\s*\(\s*ABORT\s*,\s*(\x00\d+\x00)\s*\)\s*;\s*END$", re.I | re.S)
_INDEX = re.compile(r"^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+(?:IF\s+NOT\s+EXISTS\s+)?\w+\s+ON\s+\w+\s*)\((.*)\)$",
                    re.I | re.S)


def _ddl(code: str) -> list[str]:
    trigger = _TRIGGER.match(code)
    if trigger:
        name, event, table, message = trigger.groups()
        statements = [f"CREATE TRIGGER {name} BEFORE {event.upper()} ON {table} FOR EACH ROW "
                      f"EXECUTE FUNCTION planner_refuse({message})"]
        if event.upper() == "DELETE":  # TRUNCATE skips row triggers: refuse it as well
            statements.append(f"CREATE TRIGGER {name}_truncate BEFORE TRUNCATE ON {table} FOR EACH STATEMENT "
                              f"EXECUTE FUNCTION planner_refuse({message})")
        return statements
    if re.match(r"CREATE\s+TRIGGER\b", code, re.I):
        raise NotImplementedError(f"no PostgreSQL form for this trigger: {code[:80]}")
    index = _INDEX.match(code)
    if index:
        columns = [c.strip() for c in _top_level_split(index.group(2))]
        return [index.group(1) + "(" + ", ".join(f"({c})" if "(" in c else c for c in columns) + ")"]
    code = re.sub(r"\b(\w+)\s+INTEGER\s+PRIMARY\s+KEY(\s+AUTOINCREMENT)?\b",
                  lambda m: (f"{m.group(1)} BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
                             if m.group(2) or m.group(1).lower() == "id" else f"{m.group(1)} BIGINT PRIMARY KEY"),
                  code, flags=re.I)
    code = re.sub(r"\bINTEGER\b", "BIGINT", code)
    code = re.sub(r"\bTEXT\b", 'TEXT COLLATE "C"', code)  # byte order, as SQLite's BINARY compares and sorts
    code = re.sub(r"\bREAL\b", "DOUBLE PRECISION", code)
    code = re.sub(r"\)\s*WITHOUT\s+ROWID$", ")", code, flags=re.I)
    return [code]


def _top_level_split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    return [*parts, current]


# --- the first migration on PostgreSQL: what the SQLite dialect expects to find --------------------------

_PRELUDE_SQL = r"""
CREATE OR REPLACE FUNCTION planner_refuse() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION USING MESSAGE = TG_ARGV[0], ERRCODE = 'restrict_violation';
END
$fn$;

-- SQLite's julianday() of our UTC ISO texts (and of 'now').
CREATE OR REPLACE FUNCTION julianday(text) RETURNS double precision LANGUAGE sql STABLE STRICT AS $fn$
    SELECT (extract(epoch FROM $1::timestamptz) / 86400.0 + 2440587.5)::double precision
$fn$;

-- json_extract(doc, '$.a.b'): the value as text (objects and arrays as JSON), NULL when absent.
CREATE OR REPLACE FUNCTION json_extract(text, text) RETURNS text LANGUAGE sql IMMUTABLE STRICT AS $fn$
    SELECT CASE WHEN $2 = '$' THEN $1 ELSE ($1::jsonb) #>> string_to_array(substr($2, 3), '.') END
$fn$;

-- json_each(doc) over a JSON array (key = index) or object, values as text.
CREATE OR REPLACE FUNCTION json_each(text) RETURNS TABLE (key text, value text) LANGUAGE sql IMMUTABLE STRICT
AS $fn$
    SELECT (e.n - 1)::text, e.v FROM jsonb_array_elements_text(
        CASE WHEN jsonb_typeof($1::jsonb) = 'array' THEN $1::jsonb ELSE '[]'::jsonb END) WITH ORDINALITY AS e(v, n)
    UNION ALL
    SELECT o.k, o.v FROM jsonb_each_text(
        CASE WHEN jsonb_typeof($1::jsonb) = 'object' THEN $1::jsonb ELSE '{}'::jsonb END) AS o(k, v)
$fn$;

-- group_concat(x) and group_concat(DISTINCT x): values joined with ','.
CREATE OR REPLACE FUNCTION planner_group_concat_step(acc text, item text) RETURNS text LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN item IS NULL THEN acc WHEN acc IS NULL THEN item ELSE acc || ',' || item END
$fn$;
CREATE OR REPLACE AGGREGATE group_concat(text) (SFUNC = planner_group_concat_step, STYPE = text);

-- SUM(a = b): SQLite's comparisons are 0 or 1, so their sum counts the true rows.
CREATE OR REPLACE FUNCTION planner_sum_bool_step(acc bigint, item boolean) RETURNS bigint LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN item IS NULL THEN acc ELSE COALESCE(acc, 0) + item::int END
$fn$;
CREATE OR REPLACE AGGREGATE sum(boolean) (SFUNC = planner_sum_bool_step, STYPE = bigint);

-- SQLite's catalogue, for the store's questions about itself (which triggers guard audit_log, is a table there).
CREATE OR REPLACE VIEW sqlite_master AS
    SELECT 'table'::text AS type, c.relname::text AS name, c.relname::text AS tbl_name, NULL::text AS sql
      FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'
    UNION ALL
    SELECT 'index', i.indexname::text, i.tablename::text, i.indexdef FROM pg_indexes i
     WHERE i.schemaname = current_schema()
    UNION ALL
    SELECT 'trigger', t.tgname::text, c.relname::text, pg_get_triggerdef(t.oid) FROM pg_trigger t
      JOIN pg_class c ON c.oid = t.tgrelid
     WHERE NOT t.tgisinternal AND c.relnamespace = current_schema()::regnamespace;
"""


def pg000_sqlite_functions(conn: PostgresDatabase) -> None:
    conn.raw.execute(_PRELUDE_SQL)


# Run before store.schema.MIGRATIONS on PostgreSQL only, recorded in _migrations like them.
POSTGRES_PRELUDE = [pg000_sqlite_functions]
