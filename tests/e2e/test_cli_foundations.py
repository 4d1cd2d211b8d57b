"""The foundations through the `planner` command: init, config lookup, validate, apply, list/show/queue,
accounts. In-process with CliRunner, plus a few real subprocesses."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib

from helpers import (  # noqa: E402
    DAYS_EN,
    DAYS_ID,
    EXAMPLE_CAMPAIGNS,
    EXAMPLE_CONFIG,
    MONTHS_EN,
    MONTHS_ID,
    campaign_doc,
    cli,
    dump,
    execute,
    future_monday_in_february,
    init_workspace,
    rows,
    write_campaign,
)

from planner.campaign_files import desired_posts, load_campaign  # noqa: E402
from planner.config import load_config  # noqa: E402

START = future_monday_in_february()
# What `planner init` writes in Indonesian (the default): config.example.toml's settings, commented in Indonesian.
EXAMPLE_CONFIG_ID = Path(__file__).resolve().parents[2] / "planner" / "data" / "config.example.id.toml"


def tables(db_path: Path) -> list[str]:
    return [r["name"] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]


@pytest.fixture
def ws(kantor):
    """An initialised workspace with media files; returns its folder."""
    folder = kantor
    media = folder / "campaigns" / "media"
    media.mkdir(parents=True)
    (media / "poster.jpg").write_bytes(b"\xff\xd8" + b"\0" * 2048)
    return folder


def cfg(ws: Path) -> list[str]:
    return ["--config", str(ws / "config.toml")]


def apply(ws: Path, *files: Path, extra=()):
    return cli(*cfg(ws), "campaign", "apply", *extra, *map(str, files))


def expected_posts(ws: Path, file: Path) -> int:
    config = load_config(ws / "config.toml")
    loaded = load_campaign(file, config)
    assert loaded.problems == []
    return len(desired_posts(loaded.campaign, file, config))


# --- planner init ---------------------------------------------------------------------------------

def test_init_creates_private_config_database_and_campaigns(tmp_path):
    folder = tmp_path / "baru"
    result = cli("init", str(folder))
    assert result.exit_code == 0, result.output
    config = folder / "config.toml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert config.read_text("utf-8") == EXAMPLE_CONFIG_ID.read_text("utf-8")  # Indonesian comments by default
    assert (folder / "campaigns").is_dir()
    assert {"_migrations", "campaigns", "content", "posts", "post_events", "settings"} <= set(
        tables(folder / "planner.db"))
    assert "planner campaign validate" in result.output


def test_init_twice_changes_nothing(tmp_path):
    folder = tmp_path / "baru"
    init_workspace(folder)
    config = folder / "config.toml"
    before = (config.read_bytes(), config.stat().st_mtime_ns, tables(folder / "planner.db"),
              dump(folder / "planner.db"))
    result = cli("init", str(folder))
    assert result.exit_code == 0, result.output
    after = (config.read_bytes(), config.stat().st_mtime_ns, tables(folder / "planner.db"),
             dump(folder / "planner.db"))
    assert after == before
    assert "--force" in result.output  # says how to overwrite
    assert not (folder / "config.toml.bak").exists()


def test_init_never_overwrites_an_edited_config(tmp_path):
    folder = tmp_path / "baru"
    config = init_workspace(folder)
    edited = config.read_text("utf-8").replace('timezone = "Asia/Jakarta"', 'timezone = "Asia/Makassar"')
    config.write_text(edited, "utf-8")
    assert cli("init", str(folder)).exit_code == 0
    assert config.read_text("utf-8") == edited


def test_init_force_keeps_a_private_backup(tmp_path):
    folder = tmp_path / "baru"
    config = init_workspace(folder)
    old = config.read_text("utf-8").replace('[accounts.kpu_x.credentials]\nbearer_token = "env:KPU_X_TOKEN"',
                                            '[accounts.kpu_x.credentials]\nbearer_token = "rahasia-lama"')
    assert "rahasia-lama" in old
    config.write_text(old, "utf-8")
    result = cli("init", "--force", str(folder))
    assert result.exit_code == 0, result.output
    backup = folder / "config.toml.bak"
    assert backup.read_text("utf-8") == old
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600  # the old file may hold a literal secret
    assert config.read_text("utf-8") == EXAMPLE_CONFIG_ID.read_text("utf-8")  # Indonesian comments by default
    assert stat.S_IMODE(config.stat().st_mode) == 0o600


def test_init_as_a_real_process(tmp_path):
    folder = tmp_path / "proses"
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_LANG")}
    done = subprocess.run([sys.executable, "-m", "planner", "init", str(folder)], capture_output=True, text=True,
                          env=env, timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((folder / "config.toml").stat().st_mode) == 0o600
    assert "posts" in tables(folder / "planner.db")
    again = subprocess.run([sys.executable, "-m", "planner", "--lang", "en", "init", str(folder)],
                           capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path)
    assert again.returncode == 0 and "already exists" in again.stdout


# --- config lookup order ----------------------------------------------------------------------------

def _workspace_with_account(folder: Path, account: str) -> Path:
    config = init_workspace(folder)
    text = config.read_text("utf-8") + f'\n[accounts.{account}]\nplatform = "telegram"\nchat_id = "@a"\n'
    config.write_text(text, "utf-8")
    return config


def test_config_lookup_order(tmp_path, monkeypatch):
    a = _workspace_with_account(tmp_path / "a", "akun_opsi")
    b = _workspace_with_account(tmp_path / "b", "akun_env")
    _workspace_with_account(tmp_path / "c", "akun_cwd")
    monkeypatch.chdir(tmp_path / "c")

    def accounts(*args, env=None):
        result = cli(*args, "account", "list", env=env)
        assert result.exit_code == 0, result.output
        return {name for name in ("akun_opsi", "akun_env", "akun_cwd") if name in result.output}

    assert accounts("--config", str(a), env={"PLANNER_CONFIG": str(b)}) == {"akun_opsi"}
    assert accounts(env={"PLANNER_CONFIG": str(b)}) == {"akun_env"}
    assert accounts() == {"akun_cwd"}


def test_database_path_is_relative_to_the_config(ws, tmp_path, monkeypatch):
    elsewhere = tmp_path / "lain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    relative = os.path.relpath(ws / "config.toml", elsewhere)
    result = cli("--config", relative, "campaign", "list")
    assert result.exit_code == 0, result.output
    assert list(elsewhere.iterdir()) == []  # no stray planner.db in the current folder


def test_no_config_found_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("campaign", "list")
    assert result.exit_code == 2
    assert "planner init" in result.output
    assert "Traceback" not in result.output


# --- campaign validate ------------------------------------------------------------------------------

def test_validate_clean_and_with_problems(ws):
    good = write_campaign(ws / "campaigns" / "baik.toml", campaign_doc("baik", START))
    result = cli(*cfg(ws), "campaign", "validate", str(good))
    assert result.exit_code == 0, result.output
    assert "baik" in result.output
    doc = campaign_doc("buruk", START)
    doc["content"][0]["audiences"] = ["pemla"]
    doc["content"][1]["txet"] = "salah ketik"
    bad = write_campaign(ws / "campaigns" / "buruk.toml", doc)
    result = cli(*cfg(ws), "campaign", "validate", str(good), str(bad))
    assert result.exit_code == 1
    assert "content[1].audiences[1]" in result.output and "content[2].txet" in result.output
    assert "'pemula'" in result.output and "'text'" in result.output
    assert "2 masalah di 1 berkas" in result.output


def test_validate_syntax_error_names_line(ws):
    bad = ws / "campaigns" / "rusak.toml"
    bad.write_text('[campaign]\nid = "x"\nname = "tanpa tutup\n', "utf-8")
    result = cli(*cfg(ws), "campaign", "validate", str(bad))
    assert result.exit_code == 1
    assert "baris 3" in result.output


def test_validate_refuses_the_same_campaign_id_twice(ws):
    one = write_campaign(ws / "campaigns" / "satu.toml", campaign_doc("sama", START))
    two = write_campaign(ws / "campaigns" / "dua.toml", campaign_doc("sama", START))
    result = cli(*cfg(ws), "campaign", "validate", str(one), str(two))
    assert result.exit_code == 1
    assert "campaign.id" in result.output


@pytest.mark.skipif(date.today() >= date(2027, 2, 1), reason="the example campaigns are dated Feb-Apr 2027")
def test_example_campaigns_validate_and_apply(ws):
    shutil.rmtree(ws / "campaigns")
    shutil.copytree(EXAMPLE_CAMPAIGNS, ws / "campaigns")
    files = sorted((ws / "campaigns").glob("*.toml"))
    result = cli(*cfg(ws), "campaign", "validate", *map(str, files))
    assert result.exit_code == 0, result.output
    result = apply(ws, *files)
    assert result.exit_code == 0, result.output
    assert rows(ws / "planner.db", "SELECT COUNT(*) AS n FROM posts")[0]["n"] == 47 + 56


def test_preview_shows_each_post_as_published_with_its_length(ws):
    shutil.rmtree(ws / "campaigns")
    shutil.copytree(EXAMPLE_CAMPAIGNS, ws / "campaigns")
    file = ws / "campaigns" / "cek-dpt-pemilih-pemula.toml"
    result = cli(*cfg(ws), "campaign", "preview", str(file), "--content", "langkah-cek-dpt", "--channel", "kpu_x")
    assert result.exit_code == 0, result.output
    config = load_config(ws / "config.toml")
    [row, *_] = [r for r in desired_posts(load_campaign(file, config).campaign, file, config)
                 if r["content_id"] == "langkah-cek-dpt" and r["channel"] == "kpu_x"]
    from planner.domain.text_rules import append_link, x_weighted_length

    published = append_link(row["text"], row["link"])
    assert f"kpu_x (x) · {x_weighted_length(published)}/280 karakter" in result.output
    shown = [line.split("│ ", 1)[1] for line in result.output.splitlines() if "│ " in line]
    assert "\n".join(shown[:len(published.splitlines())]) == published  # the text exactly as it goes out
    assert "bagian utas 2" in result.output and "kpu_fb" not in result.output
    assert rows(ws / "planner.db", "SELECT COUNT(*) AS n FROM posts")[0]["n"] == 0  # a preview writes nothing

    missing = cli(*cfg(ws), "campaign", "preview", str(file), "--content", "tidak-ada")
    assert missing.exit_code == 1 and "Tidak ada unggahan yang cocok" in missing.output


# --- campaign apply ---------------------------------------------------------------------------------

def test_apply_writes_everything(ws):
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    total = expected_posts(ws, file)
    assert total == 5 + 5 + 2
    result = apply(ws, file)
    assert result.exit_code == 0, result.output
    assert f"{total} unggahan ditambahkan" in result.output
    db = ws / "planner.db"
    assert [r["id"] for r in rows(db, "SELECT id FROM campaigns")] == ["kampanye"]
    assert sorted(r["id"] for r in rows(db, "SELECT id FROM content")) == ["kedua", "ketiga", "pertama"]
    posts = rows(db, "SELECT content_id, channel, occurrence, state FROM posts")
    assert len(posts) == total
    assert len({(p["content_id"], p["channel"], p["occurrence"]) for p in posts}) == total
    assert {p["state"] for p in posts} == {"queued"}


def test_dry_run_prints_the_plan_and_writes_nothing(ws):
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    before = dump(ws / "planner.db")
    result = apply(ws, file, extra=["--dry-run"])
    assert result.exit_code == 0, result.output
    assert "--dry-run" in result.output and "12 unggahan ditambahkan" in result.output
    assert "pertama → kpu_x" in result.output
    assert dump(ws / "planner.db") == before
    # And a dry run of an edit, after a real apply.
    assert apply(ws, file).exit_code == 0
    doc = campaign_doc("kampanye", START)
    doc["content"][0]["text"] = "Teks baru."
    del doc["content"][2]
    write_campaign(file, doc)
    before = dump(ws / "planner.db")
    result = apply(ws, file, extra=["--dry-run"])
    assert result.exit_code == 0, result.output
    assert "5 unggahan diubah" in result.output and "2 unggahan dibatalkan" in result.output
    assert dump(ws / "planner.db") == before


def test_reapplying_the_same_file_changes_nothing(ws):
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    before = dump(ws / "planner.db")
    result = apply(ws, file)
    assert result.exit_code == 0, result.output
    assert "12 unggahan tidak berubah" in result.output
    assert "ditambahkan" not in result.output and "diubah" not in result.output
    assert dump(ws / "planner.db") == before


def test_reapplying_an_edited_file(ws):
    db = ws / "planner.db"
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    # The X post of "kedua" was published (as the scheduler would record it).
    execute(db, "UPDATE posts SET state = 'published', platform_post_id = '123', published_at = due_at "
                "WHERE content_id = 'kedua' AND channel = 'kpu_x'")
    published = rows(db, "SELECT * FROM posts WHERE state = 'published'")
    doc = campaign_doc("kampanye", START)
    doc["content"][0]["text"] = "Pertama, dengan teks yang diperbaiki."
    doc["content"][1]["text"] = "Kedua, diubah setelah terbit di X."
    del doc["content"][2]
    write_campaign(file, doc)
    result = apply(ws, file)
    assert result.exit_code == 0, result.output
    assert "9 unggahan diubah" in result.output  # 5 of "pertama" + 4 unpublished of "kedua"
    assert "1 unggahan sudah terbit" in result.output and "kedua → kpu_x" in result.output
    assert "2 unggahan dibatalkan" in result.output and "ketiga" in result.output
    assert rows(db, "SELECT * FROM posts WHERE state = 'published'") == published
    states = {(r["content_id"], r["channel"]): (r["state"], r["text"]) for r in rows(db, "SELECT * FROM posts")}
    assert states[("pertama", "kpu_fb")] == ("queued", "Pertama, dengan teks yang diperbaiki.")
    assert states[("kedua", "kpu_mastodon")] == ("queued", "Kedua, diubah setelah terbit di X.")
    assert {s for (c, _), (s, _) in states.items() if c == "ketiga"} == {"canceled"}


@pytest.mark.parametrize("breakage", ["syntax", "unknown_account", "past", "missing_media", "too_long"])
def test_bad_input_leaves_the_database_exactly_as_it_was(ws, breakage):
    db = ws / "planner.db"
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    doc = campaign_doc("kampanye", START)
    doc["content"][0]["text"] = "Perubahan yang tidak boleh tertulis."
    if breakage == "unknown_account":
        doc["campaign"]["channels"].append("kpu_tiktok")
    elif breakage == "past":
        doc["content"][1]["at"] = datetime(2020, 1, 1, 9, 0)
        doc["campaign"]["start"] = date(2020, 1, 1)
    elif breakage == "missing_media":
        doc["content"][1]["media"] = ["media/tidak-ada.jpg"]
    elif breakage == "too_long":
        doc["content"][1]["text"] = "panjang " * 100
    write_campaign(file, doc)
    if breakage == "syntax":
        file.write_text(file.read_text("utf-8") + "\n[[content]\nid = \n", "utf-8")
    before = dump(db)
    result = apply(ws, file)
    assert result.exit_code == 1, result.output
    assert "tidak diubah" in result.output
    assert dump(db) == before


def test_two_files_second_broken_writes_nothing(ws):
    db = ws / "planner.db"
    first = write_campaign(ws / "campaigns" / "satu.toml", campaign_doc("satu", START))
    doc = campaign_doc("dua", START)
    doc["content"][0]["media"] = ["media/hilang.jpg"]
    second = write_campaign(ws / "campaigns" / "dua.toml", doc)
    before = dump(db)
    result = apply(ws, first, second)
    assert result.exit_code == 1
    assert dump(db) == before
    assert rows(db, "SELECT COUNT(*) AS n FROM campaigns")[0]["n"] == 0


def test_apply_without_database_says_run_init(ws):
    (ws / "planner.db").unlink()
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    result = apply(ws, file)
    assert result.exit_code == 2
    assert "planner init" in result.output


# --- list, show, queue ------------------------------------------------------------------------------

def test_campaign_list(ws):
    assert "Belum ada kampanye" in cli(*cfg(ws), "campaign", "list").output
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    result = cli(*cfg(ws), "campaign", "list")
    assert result.exit_code == 0, result.output
    assert "kampanye" in result.output and "Kampanye kampanye" in result.output
    assert f"{START.day} {MONTHS_ID[START.month - 1]} {START.year}" in result.output
    assert "terjadwal 12" in result.output


def test_campaign_list_dates_in_the_campaign_zone(ws):
    # A Jayapura (WIT) campaign in a Jakarta (WIB) office: its first day is still its first day.
    file = write_campaign(ws / "campaigns" / "papua.toml", campaign_doc("papua", START, timezone="Asia/Jayapura"))
    assert apply(ws, file).exit_code == 0
    output = cli(*cfg(ws), "campaign", "list").output
    end = START + timedelta(days=27)
    assert f"{START.day} {MONTHS_ID[START.month - 1]} {START.year} – {end.day} {MONTHS_ID[end.month - 1]}" in output


def test_campaign_show_five_parts_and_counts(ws):
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    execute(ws / "planner.db", "UPDATE posts SET state = 'published' WHERE content_id = 'pertama' "
                               "AND channel = 'kpu_x'")
    result = cli(*cfg(ws), "campaign", "show", "kampanye")
    assert result.exit_code == 0, result.output
    out = result.output
    for heading in ("1. Tujuan", "2. Khalayak sasaran", "3. Platform dan akun", "4. Konten",
                    "5. Monitoring dan evaluasi"):
        assert heading in out
    positions = [out.index(h) for h in ("1. Tujuan", "2. Khalayak", "3. Platform", "4. Konten", "5. Monitoring")]
    assert positions == sorted(positions)
    assert "Meningkatkan pemilih pemula" in out
    assert "Jangkauan: 5.000" in out and "4,5" in out  # Indonesian numbers; 4.5 % is not rounded away
    assert "pemula: Pemilih pemula" in out
    assert "kpu_x: x @kpudemak" in out
    assert "terjadwal: 11" in out and "terbit: 1" in out
    assert "cek DPT" in out


def test_campaign_show_unknown_id(ws):
    result = cli(*cfg(ws), "campaign", "show", "tidak-ada")
    assert result.exit_code == 2
    assert "tidak-ada" in result.output


def test_queue_in_indonesian_and_english(ws):
    file = write_campaign(ws / "campaigns" / "kampanye.toml", campaign_doc("kampanye", START))
    assert apply(ws, file).exit_code == 0
    result = cli(*cfg(ws), "queue")
    assert result.exit_code == 0, result.output
    first = f"{DAYS_ID[0]}, {START.day} {MONTHS_ID[1]} {START.year} 09.00 WIB"
    assert first.startswith("Senin,") and "Februari" in first
    assert first in result.output
    third_day = START + timedelta(days=2)
    assert f"{DAYS_ID[2]}, {third_day.day} {MONTHS_ID[third_day.month - 1]} {START.year} 19.00 WIB" in result.output
    assert "12 unggahan." in result.output
    english = cli(*cfg(ws), "--lang", "en", "queue")
    assert english.exit_code == 0, english.output
    assert f"{DAYS_EN[0]}, {START.day} {MONTHS_EN[1]} {START.year} 09:00 WIB" in english.output
    assert "Senin" not in english.output and "Februari" not in english.output
    # The language switch does not stick to the next command.
    assert "Senin" in cli(*cfg(ws), "queue").output


def test_queue_filters(ws):
    one = write_campaign(ws / "campaigns" / "satu.toml", campaign_doc("satu", START))
    two = write_campaign(ws / "campaigns" / "dua.toml", campaign_doc("dua", START + timedelta(days=7)))
    assert apply(ws, one, two).exit_code == 0

    def lines(*args):
        result = cli(*cfg(ws), "queue", *args)
        assert result.exit_code == 0, result.output
        return [line for line in result.output.splitlines() if " WIB" in line]

    assert len(lines()) == 24
    only_two = lines("--campaign", "dua")
    assert len(only_two) == 12 and all("dua/" in line for line in only_two)
    day = START + timedelta(days=2)
    window = lines("--from", f"{day.isoformat()} 00:00", "--to", f"{day.isoformat()} 23:59")
    assert len(window) == 5 and all("satu/kedua" in line for line in window)
    execute(ws / "planner.db", "UPDATE posts SET state = 'published' WHERE campaign_id = 'dua' "
                               "AND content_id = 'ketiga'")
    published = lines("--state", "published")
    assert len(published) == 2 and all("dua/ketiga" in line and "terbit" in line for line in published)
    assert len(lines()) == 22  # published posts are not upcoming
    assert cli(*cfg(ws), "queue", "--state", "terbang").exit_code == 2
    assert cli(*cfg(ws), "queue", "--from", "besok").exit_code == 2


# --- accounts and secrets ---------------------------------------------------------------------------

def test_account_add_writes_a_reference_only(ws):
    config = ws / "config.toml"
    result = cli(*cfg(ws), "account", "add", "kpu_x2", "--platform", "x", "--handle", "kpu2",
                 "--credential", "bearer_token=env:FOO")
    assert result.exit_code == 0, result.output
    text = config.read_text("utf-8")
    assert 'bearer_token = "env:FOO"' in text
    assert load_config(config).accounts["kpu_x2"].credentials == {"bearer_token": "env:FOO"}
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert not (ws / "config.toml.tmp").exists()


def test_account_add_refuses_a_literal_secret(ws):
    config = ws / "config.toml"
    before = config.read_bytes()
    result = cli(*cfg(ws), "account", "add", "kpu_x2", "--platform", "x", "--credential", "bearer_token=abc123")
    assert result.exit_code != 0
    assert config.read_bytes() == before
    assert "abc123" not in result.output
    assert "env:" in result.output  # says what to write instead


def test_account_add_other_refusals_leave_the_config(ws):
    config = ws / "config.toml"
    before = config.read_bytes()
    for args in (["kpu_x", "--platform", "x"],                              # exists already
                 ["Akun Baru", "--platform", "x"],                           # bad name
                 ["baru", "--platform", "tiktok"],                           # bad platform
                 ["baru", "--platform", "facebook"]):                        # page_id missing
        result = cli(*cfg(ws), "account", "add", *args)
        assert result.exit_code == 2, (args, result.output)
        assert config.read_bytes() == before


def test_account_list_masks_literal_secrets(ws):
    config = ws / "config.toml"
    text = config.read_text("utf-8").replace('bearer_token = "env:KPU_X_TOKEN"',
                                             'bearer_token = "abc123rahasia"')
    config.write_text(text, "utf-8")
    result = cli(*cfg(ws), "account", "list")
    assert result.exit_code == 0, result.output
    assert "abc123rahasia" not in result.output
    assert "bearer_token=***" in result.output
    assert "access_token=env:KPU_IG_TOKEN" in result.output


def test_literal_secret_in_a_readable_config_is_refused_by_every_command(ws):
    config = ws / "config.toml"
    config.write_text(config.read_text("utf-8").replace('bearer_token = "env:KPU_X_TOKEN"',
                                                        'bearer_token = "abc123rahasia"'), "utf-8")
    config.chmod(0o644)
    result = cli(*cfg(ws), "account", "list")
    assert result.exit_code == 2
    assert "chmod 600" in result.output and "abc123rahasia" not in result.output


# --- database problems -------------------------------------------------------------------------------

def corrupt(ws: Path) -> None:
    for leftover in ("planner.db-wal", "planner.db-shm"):
        (ws / leftover).unlink(missing_ok=True)
    (ws / "planner.db").write_bytes(b"bukan basis data " * 200)


def test_init_leaves_no_wal_behind(ws):
    assert not (ws / "planner.db-wal").exists()


def test_not_a_sqlite_file_is_a_clear_error(ws):
    corrupt(ws)
    for args in (["campaign", "list"], ["queue"], ["campaign", "show", "x"]):
        result = cli(*cfg(ws), *args)
        assert result.exit_code == 2, result.output
        assert "tidak bisa dibuka" in result.output
        assert "Traceback" not in result.output
        assert isinstance(result.exception, SystemExit)


def test_not_a_sqlite_file_through_a_real_process(ws):
    corrupt(ws)
    env = {k: v for k, v in os.environ.items() if k not in ("PLANNER_CONFIG", "PLANNER_LANG")}
    done = subprocess.run([sys.executable, "-m", "planner", "--config", str(ws / "config.toml"), "--lang", "en",
                           "campaign", "list"], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2
    assert "cannot be opened" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_apply_without_config_names_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    file = write_campaign(tmp_path / "k.toml", campaign_doc("kampanye", START))
    elsewhere = tmp_path / "tidak" / "ada.toml"
    result = cli("campaign", "apply", str(file), env={"PLANNER_CONFIG": str(elsewhere)})
    assert result.exit_code == 2
    assert str(elsewhere) in result.output.replace("\n", "")
    assert not elsewhere.exists()


# --- usage errors in the user's language ----------------------------------------------------------------
@pytest.mark.parametrize("args, expected", [
    (["queue", "--campaing", "x"], ["opsi --campaing tidak dikenal. Mungkin maksud Anda: --campaign?",
                                    "Lihat 'planner queue --help' untuk bantuan."]),
    (["campaign", "validate"], ["argumen 'BERKAS' wajib diisi."]),
    (["queue", "--limit", "banyak"], ["nilai untuk --limit tidak sah: harus berupa angka"]),
    (["campaign", "terapkan"], ["perintah 'terapkan' tidak dikenal."]),
    (["--lang", "en", "queue", "extra"], ["unexpected extra arguments: extra.", "See 'planner queue --help'"]),
])
def test_usage_errors_are_said_in_the_users_language(tmp_path, args, expected):
    done = subprocess.run([sys.executable, "-m", "planner", *args], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PLANNER_LANG": ""}, timeout=60)
    assert done.returncode == 2, done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr
    assert "Traceback" not in done.stderr and "Usage:" not in done.stderr
