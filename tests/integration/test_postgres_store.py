"""The store on PostgreSQL: the same migrations give the same tables, the same SQL gives the same answers,
writes queue behind one write lock as on SQLite, and the audit log stays append-only."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import psycopg
import pytest

from planner.config import load_config
from planner.errors import PlannerError
from planner.i18n import set_language
from planner.store.backend import connect_database, database_of
from planner.store.db import migrate, open_db, transaction
from planner.store.postgres import POSTGRES_PRELUDE, PostgresDatabase, safe_url, translate
from planner.store.schema import MIGRATIONS

REPO = Path(__file__).resolve().parents[2]
SQLITE_TYPES = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"}


@pytest.fixture
def both(tmp_path, postgres_url):
    sqlite = open_db(tmp_path / "planner.db", create=True)
    pg = connect_database(postgres_url)
    yield sqlite, pg
    pg.close()
    sqlite.close()


def _sqlite_schema(db) -> dict:
    tables = {}
    for name in db.table_names():
        columns = {row[1]: (SQLITE_TYPES[row[2]], bool(row[3]) or bool(row[5]), row[5])
                   for row in db.execute(f"PRAGMA table_info({name})")}
        tables[name] = columns
    return tables


def _postgres_schema(db) -> dict:
    primary = {}
    for table, column, position in db.execute(
            """SELECT tc.table_name, kcu.column_name, kcu.ordinal_position
               FROM information_schema.table_constraints tc
               JOIN information_schema.key_column_usage kcu USING (constraint_schema, constraint_name)
               WHERE tc.constraint_type = 'PRIMARY KEY' AND tc.table_schema = current_schema()"""):
        primary[(table, column)] = position
    tables: dict = {}
    for table, column, data_type, nullable in db.execute(
            """SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
               JOIN information_schema.tables USING (table_schema, table_name)
               WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"""):
        tables.setdefault(table, {})[column] = (data_type, nullable == "NO", primary.get((table, column), 0))
    return tables


def _indexes(db) -> set[str]:
    if db.dialect == "sqlite":
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    return {r[0] for r in db.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                                     "AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key'")}


def test_the_same_migrations_make_the_same_tables_and_columns(both):
    sqlite, pg = both
    sqlite_tables, pg_tables = _sqlite_schema(sqlite), _postgres_schema(pg)
    assert set(pg_tables) == set(sqlite_tables) and len(sqlite_tables) >= 15
    for table, columns in sqlite_tables.items():
        assert pg_tables[table] == columns, table
    assert _indexes(pg) == _indexes(sqlite) and "posts_next_attempt" in _indexes(pg)
    assert sorted(sqlite.table_names()) == pg.table_names()


def test_migrations_are_recorded_and_apply_once(postgres_url):
    db = connect_database(postgres_url)
    names = [r["name"] for r in db.query("SELECT name FROM _migrations")]
    assert sorted(names) == sorted(m.__name__ for m in (*POSTGRES_PRELUDE, *MIGRATIONS))
    assert migrate(db) == []
    again = connect_database(postgres_url)
    assert again.execute("SELECT COUNT(*) FROM _migrations").fetchone() == (len(MIGRATIONS) + len(POSTGRES_PRELUDE),)


def test_ids_are_given_by_the_database_on_both(both):
    for db in both:
        with transaction(db):
            assert db.insert_returning_id("campaigns", {"id": "c", "name": "C", "timezone": "UTC", "start_at": "a",
                                                        "end_at": "b", "spec": "{}", "applied_at": "x"}) == "c"
            a = db.insert_returning_id("alerts", {"campaign_id": "c", "keyword": "k", "at": "t", "window_count": 3,
                                                  "baseline": 1.5, "detail": "{}"})
            b = db.insert_returning_id("alerts", {"campaign_id": "c", "keyword": "k", "at": "t", "window_count": 4,
                                                  "baseline": 2.25, "detail": "{}"})
        assert (a, b) == (1, 2), db.dialect
        assert list(db.query("SELECT window_count, baseline FROM alerts ORDER BY id")) == [
            {"window_count": 3, "baseline": 1.5}, {"window_count": 4, "baseline": 2.25}]


SAME_ANSWERS = [
    ("SELECT ? || '%' || ?", ["50", "!"]),
    ("SELECT 'a?b', ?", ["c"]),
    ("SELECT julianday('2027-01-01T00:00:00.000Z') - julianday(?)", ["2026-12-31T12:00:00.000Z"]),
    ("SELECT json_extract(?, '$.blackouts')", ['{"goal": 1}']),
    ("SELECT json_extract(?, '$.name')", ['{"name": "Cek DPT"}']),
    ("SELECT value FROM json_each(?) ORDER BY value", ['["dua", "satu"]']),
    ("SELECT group_concat(DISTINCT keyword) FROM (SELECT 'kpu' AS keyword UNION ALL SELECT 'kpu') AS t", []),
    ("SELECT COUNT(*) FROM posts WHERE hold_reason LIKE ?", ["pause:%"]),
    ("SELECT 'PAUSE:akun' LIKE ?, 'x' LIKE ?", ["pause:%", "y%"]),
    ("SELECT SUM(column1), SUM(column1 = 2), SUM(column1 * 0.5) FROM (VALUES (1), (2), (2)) AS v", []),
    ("SELECT SUM(column1) FROM (VALUES (1), (NULL)) AS v WHERE column1 IS NULL", []),
    ("SELECT ? IS ?, ? IS NOT ?", [None, None, "a", None]),
]


@pytest.mark.parametrize("sql,params", SAME_ANSWERS)
def test_the_same_sql_gives_the_same_answer(both, sql, params):
    sqlite, pg = both
    assert pg.execute(sql, params).fetchall() == sqlite.execute(sql, params).fetchall()


def test_json_extract_gives_the_same_document(both):
    sqlite, pg = both
    sql, params = "SELECT json_extract(?, '$.monitoring.keywords')", ['{"monitoring": {"keywords": ["pemilu", "kpu"]}}']
    # SQLite writes the JSON without spaces and jsonb with them: the store reads it with json.loads.
    [(from_pg,)], [(from_sqlite,)] = pg.execute(sql, params).fetchall(), sqlite.execute(sql, params).fetchall()
    assert json.loads(from_pg) == json.loads(from_sqlite) == ["pemilu", "kpu"]


def test_sums_come_back_as_sqlite_numbers(both):
    for db in both:
        row = db.execute("SELECT SUM(column1), SUM(column1 * 0.5) FROM (VALUES (1), (2)) AS v").fetchone()
        assert row == (3, 1.5) and [type(v) for v in row] == [int, float], db.dialect
        json.dumps(row)  # reports and --json output take them as they are


def test_text_sorts_bytewise_as_in_sqlite_whatever_the_database_locale(tmp_path, postgres_server):
    sqlite = open_db(tmp_path / "planner.db", create=True)
    pg = connect_database(postgres_server.create_database(icu_locale="en-US"))
    keys = ["b", "B", "a-2", "a1", "_z", "2027-02-02T01:00:00.000Z", "2027-02-02T01:00:00.000Z-1"]
    for db in (sqlite, pg):
        with transaction(db) as conn:
            for key in keys:
                conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, '', '')", [key])
    ordered = sqlite.execute("SELECT key FROM settings ORDER BY key").fetchall()
    assert ordered[:3] == [("2027-02-02T01:00:00.000Z",), ("2027-02-02T01:00:00.000Z-1",), ("B",)]
    assert pg.execute("SELECT key FROM settings ORDER BY key").fetchall() == ordered
    assert pg.execute("SELECT COUNT(*) FROM settings WHERE key > ?", ["B"]).fetchone() == (4,)


def test_insert_or_ignore_and_pragmas(both):
    for db in both:
        with transaction(db) as conn:
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?)", ["paused", "0", "t"])
            conn.execute("INSERT OR IGNORE INTO settings (key, value, updated_at) VALUES (?, ?, ?)",
                         ["paused", "1", "u"])
        assert db.execute("SELECT value, updated_at FROM settings").fetchall() == [("0", "t")], db.dialect
        assert db.execute("PRAGMA synchronous = FULL").fetchall() == []
    assert translate("PRAGMA database_list") == ()


def test_ddl_reads_as_postgresql():
    [(index, ddl)] = translate("CREATE INDEX posts_next_attempt ON posts(state, COALESCE(retry_at, due_at))")
    assert ddl and index == "CREATE INDEX posts_next_attempt ON posts(state, (COALESCE(retry_at, due_at)))"
    [(table, _)] = translate("CREATE TABLE t (id INTEGER PRIMARY KEY, post_id INTEGER, b REAL) WITHOUT ROWID")
    assert table == ("CREATE TABLE t (id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, post_id BIGINT, "
                     "b DOUBLE PRECISION)")
    with pytest.raises(NotImplementedError):
        translate("INSERT OR REPLACE INTO settings VALUES (?, ?, ?)")


def test_the_audit_log_is_append_only(postgres_url):
    db = connect_database(postgres_url)
    with transaction(db) as conn:
        conn.execute("INSERT INTO audit_log (at, actor, action, subject, detail, prev_hash, hash) "
                     "VALUES ('t', 'a', 'apply', 's', '{}', '', 'h')")
    for statement in ("UPDATE audit_log SET actor = 'b'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(psycopg.errors.IntegrityError, match="append-only"):
            with transaction(db) as conn:
                conn.execute(statement)
    assert db.execute("SELECT actor FROM audit_log").fetchall() == [("a",)]


def test_write_transactions_queue_behind_one_write_lock(postgres_url):
    first, second = connect_database(postgres_url), connect_database(postgres_url)
    second.raw.execute("SET lock_timeout = '300ms'")
    with transaction(first) as conn:
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")
        set_language("en")
        with pytest.raises(PlannerError, match="is locked by another planner process"):
            with transaction(second):
                pass
        assert first.in_transaction
        # Readers are not held up by a writer (as with SQLite's WAL).
        assert second.execute("SELECT COUNT(*) FROM settings").fetchone() == (0,)
    assert not first.in_transaction
    with transaction(second) as conn:
        conn.execute("UPDATE settings SET value = '2' WHERE key = 'a'")
    assert first.execute("SELECT value FROM settings").fetchone() == ("2",)


def test_a_row_waited_for_past_the_lock_timeout_is_the_same_clear_refusal(postgres_url):
    """A narrower lock (the workers' hot path) lets a writer past the write lock, up to a row another holds: that
    wait is bounded too, and ends as the same message, rolled back."""
    first, second = connect_database(postgres_url), connect_database(postgres_url)
    with transaction(first) as conn:
        conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")
    second.raw.execute("SET lock_timeout = '300ms'")
    with transaction(first, scope="post:1") as conn:
        conn.execute("UPDATE settings SET value = '2' WHERE key = 'a'")
        set_language("en")
        with pytest.raises(PlannerError, match="is locked by another planner process"):
            with transaction(second) as other:
                other.execute("INSERT INTO settings (key, value, updated_at) VALUES ('b', '1', 't')")
                other.execute("UPDATE settings SET value = '3' WHERE key = 'a'")
        assert not second.in_transaction
    assert second.execute("SELECT key, value FROM settings ORDER BY key").fetchall() == [("a", "2")]


def test_a_rolled_back_audit_entry_leaves_no_gap_in_the_chain(postgres_url):
    """PostgreSQL's sequences never give a number back: the chain numbers its entries itself, so a change
    rolled back after its audit entry does not read as a break later."""
    from planner.store import audit

    db = connect_database(postgres_url)
    with transaction(db) as conn:
        audit.record(conn, at="2026-12-03T00:00:00Z", actor="uji", action="test.first")
    with pytest.raises(RuntimeError):
        with transaction(db) as conn:
            audit.record(conn, at="2026-12-03T00:00:01Z", actor="uji", action="test.undone")
            raise RuntimeError("the change fails after its audit entry")
    with transaction(db) as conn:
        audit.record(conn, at="2026-12-03T00:00:02Z", actor="uji", action="test.second")
    assert [r[0] for r in db.execute("SELECT id FROM audit_log ORDER BY id")] == [1, 2]
    assert audit.verify(db) == (2, [])


def test_a_failed_transaction_writes_nothing(postgres_url):
    db = connect_database(postgres_url)
    with pytest.raises(RuntimeError):
        with transaction(db) as conn:
            conn.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")
            raise RuntimeError("midway")
    assert db.execute("SELECT COUNT(*) FROM settings").fetchone() == (0,)


def test_a_readonly_connection_does_not_write(postgres_url):
    connect_database(postgres_url).close()
    reader = connect_database(postgres_url, readonly=True)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        reader.execute("INSERT INTO settings (key, value, updated_at) VALUES ('a', '1', 't')")


# --- choosing the backend ----------------------------------------------------------------------------

def _config(tmp_path, database: str | None = None, mode: int = 0o600) -> Path:
    text = (REPO / "config.example.toml").read_text("utf-8")
    if database is not None:
        text = f'database = "{database}"\n' + "\n".join(
            line for line in text.splitlines() if not line.startswith("database"))
    path = tmp_path / "config.toml"
    path.write_text(text, "utf-8")
    path.chmod(mode)
    return path


def test_a_url_in_the_config_or_the_environment_selects_postgresql(tmp_path, monkeypatch, postgres_url):
    monkeypatch.delenv("PLANNER_DATABASE_URL", raising=False)
    sqlite_config = load_config(_config(tmp_path))
    assert sqlite_config.database_url is None and database_of(sqlite_config) == tmp_path / "planner.db"
    config = load_config(_config(tmp_path, postgres_url))
    assert config.database_url == postgres_url
    db = connect_database(database_of(config))
    assert isinstance(db, PostgresDatabase) and "posts" in db.table_names()
    monkeypatch.setenv("PLANNER_DATABASE_URL", postgres_url)
    assert load_config(_config(tmp_path)).database_url == postgres_url
    monkeypatch.setenv("PLANNER_DATABASE_URL", str(tmp_path / "other.db"))
    set_language("en")
    with pytest.raises(PlannerError, match="PLANNER_DATABASE_URL must be a PostgreSQL address"):
        load_config(_config(tmp_path))


def test_a_password_in_a_config_others_can_read_is_refused_and_never_shown(tmp_path, monkeypatch):
    monkeypatch.delenv("PLANNER_DATABASE_URL", raising=False)
    set_language("id")
    url = "postgresql://humas:rahasia-sekali@127.0.0.1:1/planner"
    with pytest.raises(PlannerError, match="chmod 600") as refused:
        load_config(_config(tmp_path, url, mode=0o644))
    assert "rahasia-sekali" not in refused.value.render()
    config = load_config(_config(tmp_path, url, mode=0o600))
    assert "rahasia-sekali" not in repr(config)
    with pytest.raises(PlannerError) as unreachable:
        connect_database(config.database_url)
    message = unreachable.value.render()
    assert "Tidak dapat tersambung ke PostgreSQL" in message and "rahasia-sekali" not in message
    assert safe_url(url) in message


def test_without_psycopg_the_message_names_the_extra(monkeypatch, postgres_url):
    set_language("id")
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if the extra were not installed
    with pytest.raises(PlannerError) as missing:
        connect_database(postgres_url)
    assert 'pip install "humas-planner[postgres]"' in missing.value.render()
    assert "belum terpasang" in missing.value.render()


def test_processes_migrating_at_once_apply_each_migration_once(postgres_url):
    import threading

    errors, opened = [], []

    def open_one() -> None:
        try:
            opened.append(connect_database(postgres_url))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == [] and len(opened) == 4
    names = [r[0] for r in opened[0].execute("SELECT name FROM _migrations")]
    assert len(names) == len(set(names)) == len(MIGRATIONS) + len(POSTGRES_PRELUDE)


def test_a_role_that_may_not_create_tables_is_told_so(postgres_server):
    url = postgres_server.create_database()
    role = "petugas_" + url.split("/")[3].split("?")[0]  # roles belong to the whole server
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN")
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    set_language("id")
    with pytest.raises(PlannerError) as refused:
        connect_database(url.replace("planner@", f"{role}@", 1))
    assert "hak membuat tabel (CREATE)" in refused.value.render()
