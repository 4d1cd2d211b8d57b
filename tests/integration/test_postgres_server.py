"""The throwaway PostgreSQL server the tests run against (tests/pg.py)."""

from __future__ import annotations

import psycopg


def test_the_server_is_postgresql_15_or_newer_on_a_private_socket(postgres_server, postgres_url):
    with psycopg.connect(postgres_url) as conn:
        version = conn.execute("SHOW server_version_num").fetchone()[0]
        listen = conn.execute("SHOW listen_addresses").fetchone()[0]
        socket_dir = conn.execute("SHOW unix_socket_directories").fetchone()[0]
    assert int(version) >= 150000
    assert listen == ""  # nothing on TCP: two test sessions never meet
    assert socket_dir == str(postgres_server.root)


def test_each_database_is_new_and_empty(postgres_server):
    first, second = postgres_server.create_database(), postgres_server.create_database()
    assert first != second
    with psycopg.connect(first) as conn:
        conn.execute("CREATE TABLE only_here (x int)")
    with psycopg.connect(second) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = 'public'").fetchone()[0]
    assert tables == 0
