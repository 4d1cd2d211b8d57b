"""Database copies: whole and consistent while the scheduler writes, rotated, and made daily by `planner run`."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from planner.cli.main import build_app
from planner.config import ConfigError, load_config
from planner.publishing.backup_job import LAST_BACKUP_KEY, backup_job
from planner.publishing.dispatcher import Dispatcher
from planner.store import outbox
from planner.store.backup import backup_database
from planner.store.db import open_db, transaction

CONFIG = 'database = "planner.db"\ntimezone = "Asia/Jakarta"\n'


@pytest.fixture
def office(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG, "utf-8")
    assert CliRunner().invoke(build_app(), ["--config", str(config), "init", str(tmp_path)]).exit_code == 0
    db = open_db(tmp_path / "planner.db")
    with transaction(db) as conn:
        conn.executemany("INSERT INTO settings (key, value, updated_at) VALUES (?, ?, '2026-11-29T00:00:00.000Z')",
                         [(f"uji-{i}", "x" * 100) for i in range(500)])
    return config, db


def rows(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM settings WHERE key LIKE 'uji-%'").fetchone()[0]


def test_copy_is_whole_while_another_process_is_writing(office, tmp_path):
    _, db = office
    writer = sqlite3.connect(tmp_path / "planner.db", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a scheduler in the middle of a transaction
    writer.execute("INSERT INTO settings (key, value, updated_at) VALUES ('uji-tak-selesai', 'x', 'now')")
    result = backup_database(tmp_path / "planner.db", tmp_path / "backups", keep=5)
    writer.execute("ROLLBACK")
    writer.close()

    assert result.path.parent == tmp_path / "backups" and result.size_bytes == result.path.stat().st_size
    assert rows(result.path) == 500  # committed rows only
    with sqlite3.connect(result.path) as copy:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file, nothing beside it
    # One file, and beside it the copy's audit head (planner audit --verify holds the live chain against it).
    assert sorted(p.name for p in result.path.parent.iterdir()) == [result.path.name,
                                                                   result.path.name + ".audit-head"]


def test_only_the_newest_copies_are_kept_and_other_files_are_left_alone(office, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "catatan.txt").write_text("jangan dihapus", "utf-8")
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    made = [backup_database(tmp_path / "planner.db", folder, keep=3, now=start + timedelta(days=d)).path
            for d in range(5)]
    kept = [name for p in made[-3:] for name in (p.name, p.name + ".audit-head")]  # a pruned copy's head goes too
    assert sorted(p.name for p in folder.iterdir()) == sorted([*kept, "catatan.txt"])


def test_cli_backup_and_a_clear_refusal(office, tmp_path):
    config, _ = office
    done = CliRunner().invoke(build_app(), ["--config", str(config), "backup", "--keep", "2"])
    assert done.exit_code == 0 and "Salinan ditulis:" in done.output, done.output
    assert len(list((tmp_path / "backups").glob("planner-*.db"))) == 1

    blocker = tmp_path / "bukan-folder"
    blocker.write_text("sebuah berkas", "utf-8")
    refused = CliRunner().invoke(build_app(), ["--config", str(config), "--lang", "en", "backup", "--dir",
                                               str(blocker / "cadangan")])
    assert refused.exit_code != 0 and "The database copy to" in refused.output, refused.output
    assert blocker.read_text("utf-8") == "sebuah berkas"


def test_the_scheduler_copies_once_a_period(office, tmp_path):
    config, _ = office
    loaded = load_config(config)
    dispatcher = Dispatcher(loaded, workers=1)
    try:
        backup_job(loaded, dispatcher)
        backup_job(loaded, dispatcher)  # a minute later: the period has not passed
        assert len(list((tmp_path / "backups").glob("planner-*.db"))) == 1
        day_ago = (datetime.now(timezone.utc) - timedelta(hours=25)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        outbox.set_setting(dispatcher.db, LAST_BACKUP_KEY, day_ago, now=datetime.now(timezone.utc))
        backup_job(loaded, dispatcher)
        assert len(list((tmp_path / "backups").glob("planner-*.db"))) == 2
    finally:
        dispatcher.shutdown(timeout=1)


@pytest.mark.parametrize("table, message", [
    ('[backup]\nkeep = 0\n', "keep"), ('[backup]\nevery = "sehari"\n', "sehari"), ('[backup]\ndir = 3\n', "dir")])
def test_bad_backup_settings_are_refused(tmp_path, table, message):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + table, "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(config)
    assert message in caught.value.render()


def test_backups_can_be_turned_off(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(CONFIG + '[backup]\nevery = "0"\n', "utf-8")
    assert load_config(config).backup_every is None
