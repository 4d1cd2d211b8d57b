"""`planner db migrate-to`: an office's SQLite file copied into PostgreSQL, checked, or nothing copied."""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
import tomlkit
import typer
from typer.testing import CliRunner

from planner.campaign_files import desired_posts, load_campaign
from planner.cli import db_cmd
from planner.config import load_config
from planner.errors import PlannerError
from planner.i18n import set_language
from planner.store import audit, outbox
from planner.store.backend import connect_database
from planner.store.campaigns import apply_campaigns
from planner.store.db import open_db, transaction, utc_iso
from planner.store.migrate_to import migrate_to_postgres

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2027, 1, 1, tzinfo=timezone.utc)
DUE = datetime(2027, 2, 2, 1, 0, tzinfo=timezone.utc)


@pytest.fixture
def office(tmp_path):
    """A config and an SQLite database with a campaign, a published post, metrics, mentions and audit rows."""
    config_path = tmp_path / "config.toml"
    config_path.write_text((REPO / "config.example.toml").read_text("utf-8"), "utf-8")
    config_path.chmod(0o600)
    config = load_config(config_path)
    doc = {"campaign": {"id": "kampanye-a", "name": "Kampanye A", "timezone": "Asia/Makassar",
                        "start": date(2027, 2, 1), "end": date(2027, 2, 28), "channels": ["kpu_x", "kpu_telegram"]},
           "goal": {"objective": "Tujuan"},
           "content": [{"id": "satu", "text": "Satu, 100% hadir?", "at": datetime(2027, 2, 2, 9, 0)},
                       {"id": "dua", "text": "Dua", "at": datetime(2027, 2, 9, 9, 0)}]}
    file = tmp_path / "kampanye-a.toml"
    file.write_text(tomlkit.dumps(doc), "utf-8")
    loaded = load_campaign(file, config, now=NOW)
    db = open_db(config.database, create=True)
    apply_campaigns(db, [(loaded.campaign, desired_posts(loaded.campaign, file, config), str(file))],
                    approval_required=False, actor="uji")
    [post] = outbox.claim_due(db, owner="w", now=DUE, lease=timedelta(minutes=2), limit=1)
    assert outbox.mark_published(db, post, "w", platform_post_id="99", url="https://x.test/99", published_at=DUE)
    with transaction(db) as conn:
        conn.execute("INSERT INTO metric_snapshots (post_id, collected_at, metric, value) VALUES (?, ?, 'likes', 7)",
                     [post.id, utc_iso(DUE)])
        conn.execute("INSERT INTO metric_latest (post_id, metric, value, collected_at) VALUES (?, 'likes', 7, ?)",
                     [post.id, utc_iso(DUE)])
        conn.execute("INSERT INTO mentions (campaign_id, platform, platform_id, keyword, text, created_at, seen_at) "
                     "VALUES ('kampanye-a', 'x', '5', 'pemilu', 'Pemilu 100%', ?, ?)", [utc_iso(DUE), utc_iso(DUE)])
        conn.execute("INSERT INTO alerts (campaign_id, keyword, at, window_count, baseline, detail) "
                     "VALUES ('kampanye-a', 'pemilu', ?, 40, 2.5, '{}')", [utc_iso(DUE)])
    audit.write_head(db, audit.head_path(config.database))
    db.close()
    return config


def _tables(db) -> dict[str, list]:
    names = [n for n in db.table_names() if n != "_migrations"]
    return {name: sorted(map(tuple, db.execute(f"SELECT * FROM {name}").fetchall()), key=repr) for name in names}


def test_everything_is_copied_and_the_audit_chain_verifies_there(office, postgres_url):
    result = migrate_to_postgres(office.database, postgres_url)
    source, target = open_db(office.database), connect_database(postgres_url)
    copied = _tables(target)
    assert copied == _tables(source)
    assert result.rows["posts"] == 4 and result.rows["mentions"] == 1 and result.rows["audit_log"] >= 2
    assert result.audit_rows == result.rows["audit_log"]
    assert audit.head(target) == audit.head(source)
    # Life goes on in PostgreSQL: new ids follow the copied ones and the chain grows intact.
    with transaction(target) as conn:
        alert = target.insert_returning_id("alerts", {"campaign_id": "kampanye-a", "keyword": "kpu", "at": "t",
                                                      "window_count": 1, "baseline": 1.0, "detail": "{}"})
        audit.record(conn, at=utc_iso(NOW), actor="uji", action="pause", subject="all")
    assert alert == 2
    assert audit.verify(target, [audit.read_head(audit.head_path(office.database))])[1] == []


def test_refused_while_a_scheduler_runs_on_the_file(office, postgres_url):
    db = open_db(office.database)
    beat = {"owner": "x", "pid": os.getpid(), "host": socket.gethostname(), "started_at": utc_iso(NOW),
            "at": utc_iso(datetime.now(timezone.utc))}
    outbox.set_setting(db, "scheduler", json.dumps(beat), now=datetime.now(timezone.utc))
    set_language("en")
    with pytest.raises(PlannerError, match=f"The scheduler is running on .* \\(pid {os.getpid()}"):
        migrate_to_postgres(office.database, postgres_url)
    assert connect_database(postgres_url).execute("SELECT COUNT(*) FROM posts").fetchone() == (0,)


def test_refused_into_a_database_that_holds_data(office, postgres_url):
    migrate_to_postgres(office.database, postgres_url)
    set_language("en")
    with pytest.raises(PlannerError, match="already holds data"):
        migrate_to_postgres(office.database, postgres_url)


def test_a_failure_midway_leaves_the_target_empty(office, postgres_url):
    import psycopg

    db = open_db(office.database)
    with transaction(db) as conn:  # SQLite keeps text in an INTEGER column; PostgreSQL refuses it
        conn.execute("INSERT INTO metric_totals (campaign_id, collected_at, engagements, reach) "
                     "VALUES ('kampanye-a', 'z', 'banyak', 1)")
    with pytest.raises(psycopg.Error):
        migrate_to_postgres(office.database, postgres_url)
    target = connect_database(postgres_url)
    assert [target.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("campaigns", "posts", "audit_log")] \
        == [0, 0, 0]


def test_the_command_says_what_was_copied_in_indonesian(office, postgres_url, monkeypatch):
    monkeypatch.setenv("PLANNER_CONFIG", str(office.path))
    monkeypatch.delenv("PLANNER_DATABASE_URL", raising=False)
    set_language("id")
    app = typer.Typer()
    app.callback()(lambda: None)
    db_cmd.register(app)
    done = CliRunner().invoke(app, ["db", "migrate-to", postgres_url])
    assert done.exit_code == 0, done.output
    assert "posts: 4 baris" in done.output and "Log audit utuh di PostgreSQL" in done.output
    again = CliRunner().invoke(app, ["db", "migrate-to", postgres_url])
    assert again.exit_code != 0 and "sudah berisi data" in again.output
    wrong = CliRunner().invoke(app, ["db", "migrate-to", str(office.database)])
    assert wrong.exit_code != 0 and "bukan alamat PostgreSQL" in wrong.output
