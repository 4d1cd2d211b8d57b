"""In Indonesian (the default) no English from Click, Typer or pydantic reaches the user: help pages of every
command, usage errors, common validation errors. Commands run as the user runs them (the `planner` entry
point in a subprocess, so its own error handling applies), from an office workspace whose config says
language = "id" (doc_commands.office).

The English phrases looked for are doc_commands.ENGLISH ("Usage:", "Options", "Show this message",
"Did you mean", "Input should", "Invalid value", "Missing argument", "Error:", programmer types such as
<str> or <list[Path]>, {files}, 0.5<=x...). The same pages in English must show them: the check is real.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from doc_commands import TRACEBACK, Command, english_lines, office  # noqa: E402

pytestmark = pytest.mark.timeout(600)


def command_paths() -> list[list[str]]:
    """Every command and group of the app, e.g. [], ["queue"], ["campaign", "validate"]."""
    from typer.main import get_command

    from planner.cli.main import build_app

    paths = []

    def walk(command, path):
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(get_command(build_app()), [])
    return paths


@pytest.fixture(scope="module")
def kantor(tmp_path_factory):
    from planner.sandbox import Sandbox

    with Sandbox(seed=1) as sandbox:
        yield office(tmp_path_factory.mktemp("indonesian"), sandbox)


def planner(kantor, *args: str) -> subprocess.CompletedProcess:
    return kantor.run(Command("test", shlex.join(["planner", *args])))


def said(result: subprocess.CompletedProcess) -> str:
    return result.stdout + result.stderr


def test_every_help_page_is_indonesian(kantor):
    paths = command_paths()
    assert len(paths) > 30 and ["campaign", "validate"] in paths
    problems = {}
    for path in paths:
        result = planner(kantor, *path, "--help")
        text = said(result)
        if result.returncode != 0 or "Cara pakai: planner" not in text or "Opsi" not in text:
            problems[" ".join(path) or "(planner)"] = f"exit {result.returncode}: {text[:300]}"
        elif english_lines(text):
            problems[" ".join(path) or "(planner)"] = english_lines(text)
    assert problems == {}


def test_help_names_values_in_words(kantor):
    text = said(planner(kantor, "campaign", "validate", "--help"))
    assert "Cara pakai: planner campaign validate [OPSI] BERKAS..." in text
    assert "Menampilkan bantuan ini lalu keluar." in text
    text = said(planner(kantor, "check", "--help"))
    assert "--hours ANGKA" in text and "0.5 sampai 744" in text
    text = said(planner(kantor, "post", "--help"))
    assert "PERINTAH [ARGUMEN]..." in text and "Perintah:" in text


def test_a_group_alone_shows_its_indonesian_help(kantor):
    result = planner(kantor, "post")
    assert "Cara pakai: planner post" in said(result)
    assert english_lines(said(result)) == []


USAGE_ERRORS = [
    (["stauts"], "perintah 'stauts' tidak dikenal. Mungkin maksud Anda: 'status'?"),
    (["campaign", "valdate"], "Mungkin maksud Anda: 'validate'?"),
    (["queue", "--bogus"], "opsi --bogus tidak dikenal"),
    (["post", "show"], "argumen 'NOMOR' wajib diisi"),
    (["post", "show", "abc"], "nilai untuk NOMOR tidak sah: harus berupa angka"),
    (["check", "--hours", "0"], "harus 0.5 atau lebih"),
    (["check", "--hours", "1000"], "tidak boleh lebih dari 744"),
    (["queue", "--slots", "--days", "0"], "harus 1 atau lebih"),
    (["run", "--workers", "0"], "harus 1 atau lebih"),
    (["backup", "--keep", "0"], "harus 1 atau lebih"),
    (["sandbox", "serve", "--fault-rate", "2"], "tidak boleh lebih dari 1"),
    (["pause"], "opsi --reason wajib diisi"),
    (["queue", "--limit"], "opsi --limit memerlukan nilai"),
    (["status", "lebih"], "argumen berlebih: lebih"),
    (["init", "--force=ya"], "opsi --force tidak menerima nilai"),
    (["--lang", "xx", "status"], "bahasa 'xx' tidak dikenal"),
    (["import", "jadwal-februari.csv"], "opsi --campaign wajib diisi"),
]


@pytest.mark.parametrize("args, expected", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_indonesian(kantor, args, expected):
    result = planner(kantor, *args)
    text = said(result)
    assert result.returncode == 2, text
    assert text.startswith("Kesalahan: ") and expected in text, text
    assert english_lines(text) == [] and TRACEBACK not in text


VALIDATION_ERRORS = [
    (["queue", "--state", "siap"], "Status 'siap' tidak dikenal"),
    (["queue", "--from", "kemarin"], "kemarin"),
    (["post", "show", "99999"], "99999"),
    (["campaign", "show", "tidak-ada"], "tidak-ada"),
    (["report", "tidak-ada"], "tidak-ada"),
    (["import", "tidak-ada.csv", "--campaign", "cek-dpt-pemilih-pemula", "--dry-run"], "tidak-ada.csv"),
    (["campaign", "validate", "tidak-ada.toml"], "tidak ditemukan"),
    (["post", "retry", "1"], "hanya untuk"),
]


@pytest.mark.parametrize("args, expected", VALIDATION_ERRORS, ids=[" ".join(a) for a, _ in VALIDATION_ERRORS])
def test_validation_errors_are_indonesian(kantor, args, expected):
    result = planner(kantor, *args)
    text = said(result)
    assert result.returncode != 0, text
    assert expected in text, text
    assert english_lines(text) == [] and TRACEBACK not in text


def test_state_lists_name_each_state_once_and_quoted(kantor):
    text = said(planner(kantor, "post", "retry", "1"))
    allowed = text.split("hanya untuk:", 1)[1]
    names = re.findall(r"'([^']+)'", allowed)
    assert names and len(names) == len(set(names)), text
    assert "gagal, gagal" not in text


def test_states_are_accepted_in_indonesian(kantor):
    english = planner(kantor, "queue", "--state", "queued")
    indonesian = planner(kantor, "queue", "--state", "terjadwal")
    assert english.returncode == 0 and indonesian.returncode == 0, said(indonesian)
    assert "ajakan-cek-dpt" in indonesian.stdout
    assert indonesian.stdout == english.stdout
    assert planner(kantor, "queue", "--state", "menunggu-persetujuan").returncode == 0
    assert planner(kantor, "queue", "--state", "terbit").returncode == 0


def test_an_impossible_date_is_named_as_such(kantor):
    path = kantor.cwd / "campaigns" / "cek-dpt-pemilih-pemula.toml"
    original = path.read_text("utf-8")
    try:
        path.write_text(original.replace("at = 2027-02-01T09:00:00", "at = 2027-02-30T09:00:00", 1), "utf-8")
        text = said(planner(kantor, "campaign", "validate", str(path)))
        assert "2027-02-30T09:00:00 tidak ada di kalender" in text, text
        assert "TOML" not in text and "tanda kutip" not in text
        path.write_text(original.replace("at = 2027-02-01T09:00:00", "at = 2027-02-01T24:00:00", 1), "utf-8")
        assert "2027-02-01T24:00:00 tidak ada di kalender" in said(planner(kantor, "campaign", "validate", str(path)))
    finally:
        path.write_text(original, "utf-8")


def test_version(kantor):
    result = planner(kantor, "--version")
    assert result.returncode == 0
    assert re.fullmatch(r"humas-planner \d+\.\d+\S*\n", result.stdout), result.stdout


def test_english_pages_do_show_the_english_words(kantor):
    """The check above would catch the English: in English mode the same pages hold it."""
    text = said(planner(kantor, "--lang", "en", "campaign", "validate", "--help"))
    assert "Usage: planner campaign validate [OPTIONS] FILE..." in text
    assert english_lines(text)
    text = said(planner(kantor, "--lang", "en", "check", "--hours", "0"))
    assert text.startswith("Error: invalid value for --hours: must be 0.5 or more"), text
    assert english_lines(text)


def test_a_telegram_bot_that_is_not_admin_is_told_to_become_one(tmp_path, sandbox):
    """Telegram's 403 "bot is not a member of the channel chat" is not a network fault: the fix is to make
    the bot an administrator of the channel, and both `account check` and `check` say so."""
    from datetime import date, timedelta

    from helpers import campaign_doc, write_campaign

    from doc_commands import Workspace
    from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config

    config = write_sandbox_config(tmp_path, sandbox.base_url)
    config.write_text(config.read_text("utf-8").replace('chat_id = "@kpudemak"', 'chat_id = "@nobot_kanal"'), "utf-8")
    workspace = Workspace(tmp_path, sandbox)
    workspace.env.update(SANDBOX_SECRETS)
    start = date.today() + timedelta(days=1)
    write_campaign(tmp_path / "campaigns" / "uji.toml", campaign_doc("uji-telegram", start, channels=["kpu_telegram"]))
    for line in ("planner init .", "planner campaign apply campaigns/uji.toml"):
        result = workspace.run(Command("setup", line))
        assert result.returncode == 0, said(result)

    checked = workspace.run(Command("test", "planner account check kpu_telegram"))
    assert checked.returncode == 1
    assert "Jadikan bot administrator kanal itu" in said(checked) and "@nobot_kanal" in said(checked)
    assert "cannot see" not in said(checked)  # no English wrapper around the Indonesian advice

    ready = workspace.run(Command("test", "planner check --hours 744"))
    assert ready.returncode == 1, said(ready)
    assert "Jadikan bot administrator kanal itu" in said(ready)
    assert "jaringan" not in said(ready) and TRACEBACK not in said(ready)


def test_scheduler_log_lines_carry_local_time_and_zone(kantor):
    result = planner(kantor, "run")  # started, stopped with Ctrl-C after a few seconds (doc_commands)
    assert result.returncode == 0, said(result)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, said(result)
    assert all(re.match(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} WIB (?:DEBUG|INFO|WARNING|ERROR) ", line)
               for line in lines), lines


# --- The tour's everyday commands, logs included, in Indonesian ---------------------------------------------
# English sentences the tool itself could let through: the English of its log lines and platform error summaries
# (the catalogue's own English, so a new log line is covered as soon as it has one), and the adapters' English
# summaries, which are shown only after being said again in the user's words.
ADAPTER_ENGLISH = ("could not connect", "no answer", "server error", "rate limited", "bot token rejected",
                   "set a new one", "reconnect the account", "next try in", "outcome=", "late=", "scheduler started",
                   "scheduler stop", "posts were MISSED", "mentions in the last hour", "unexpected error",
                   "database backup", "report written", "periodic job", "Internal Server Error (next")


def english_log_phrases() -> list[str]:
    from planner.i18n import catalogue

    english, indonesian = catalogue("en"), catalogue("id")
    phrases = set(ADAPTER_ENGLISH)
    for key, text in english.items():
        if not key.startswith(("log.", "platform_error.")) or text == indonesian.get(key):
            continue
        for piece in re.split(r"\{[^}]*\}", text):
            piece = piece.strip(" :;,.()-'>")
            if len(piece) >= 12:
                phrases.add(piece)
    return sorted(phrases)


def english_in(text: str, phrases: list[str]) -> list[str]:
    return [line for line in text.splitlines()
            if any(p in line for p in phrases) or doc_commands_english(line)]


def doc_commands_english(line: str) -> bool:
    from doc_commands import ENGLISH_SENTENCE

    return bool(ENGLISH_SENTENCE.search(line))


@pytest.fixture
def office_on_sandbox(tmp_path, sandbox):
    return office(tmp_path, sandbox)


def make_due(workspace, channels: tuple[str, ...], count: int = 1) -> list[int]:
    """``count`` queued posts of each channel due now (as if their time had come)."""
    import sqlite3
    from datetime import datetime, timezone

    from planner.store.db import utc_iso

    ids = []
    with sqlite3.connect(workspace.cwd / "planner.db") as conn:
        for channel in channels:
            ids += [r[0] for r in conn.execute("SELECT id FROM posts WHERE channel = ? AND state = 'queued' "
                                               "ORDER BY due_at LIMIT ?", [channel, count])]
        conn.executemany("UPDATE posts SET due_at = ? WHERE id = ?",
                         [(utc_iso(datetime.now(timezone.utc)), i) for i in ids])
    return ids


def test_the_tours_commands_say_no_english_logs_included(office_on_sandbox):
    """The commands a humas officer runs every day (the README tour's), as real `planner` processes in an
    Indonesian workspace on the sandbox; stdout and stderr (where the log lines go) hold no English sentence.
    Publishing happens in it (posts made due), one account's token is refused, so log lines of publishing,
    retries and failures are read too."""
    workspace = office_on_sandbox
    phrases = english_log_phrases()
    assert "scheduler started" in phrases and len(phrases) > 30

    def run(line: str) -> str:
        result = workspace.run(Command("tour", line))
        said = result.stdout + result.stderr
        assert TRACEBACK not in said, said
        found = english_in(said, phrases)
        assert not found, f"`{line}` said in English: {found[:5]}"
        return said

    for line in ("planner account check", "planner campaign validate campaigns/*.toml",
                 "planner campaign preview campaigns/cek-dpt-pemilih-pemula.toml",
                 "planner queue --campaign klarifikasi-hoaks", "planner status", "planner check --hours 24",
                 "planner metrics collect && planner listen", "planner mentions --limit 20",
                 "planner report cek-dpt-pemilih-pemula", "planner backup", "planner calendar --week",
                 "planner import jadwal-februari.csv --campaign cek-dpt-pemilih-pemula --dry-run",
                 "planner queue --slots", "planner audit --verify"):
        run(line)

    # Publishing: two posts go out, Telegram's token is refused (401): the log says so, in Indonesian.
    due = make_due(workspace, ("kpu_x", "kpu_mastodon", "kpu_telegram"))
    workspace.env["KPU_TELEGRAM_BOT_TOKEN"] = "987654321:badTelegramTokenForTheLeakTest00042"
    published = run("planner publish --due")
    assert re.search(r"WIB INFO unggahan \d+ \S+ -> kpu_x: terbit \(terlambat \d+,\d{3} dtk\)", published), published
    assert "token bot ditolak (Unauthorized)" in published, published
    run("planner status")
    assert "token bot ditolak (Unauthorized)" in run(f"planner post show {due[-1]}")

    # The scheduler: started, a post due while it runs, stopped with Ctrl-C.
    make_due(workspace, ("kpu_bluesky",))
    scheduled = run("planner run")
    assert "penjadwal mulai berjalan" in scheduled and "penjadwal sudah berhenti" in scheduled, scheduled
    assert re.search(r"-> kpu_bluesky: terbit", scheduled), scheduled

    # The check is real: the same scheduler in English says the English sentences looked for.
    workspace.env["PLANNER_LANG"] = "en"
    english = workspace.run(Command("tour", "planner run"))
    assert english_in(english.stdout + english.stderr, phrases), english.stderr


def test_the_demo_says_no_english_and_tells_what_its_first_step_did(tmp_path):
    """`planner demo` in Indonesian (the README's first command): its log lines, progress and steps are
    Indonesian, and its first step, in a new folder, says the config was written (not "already there")."""
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if not k.startswith(("PLANNER_", "HUMAS_SANDBOX_"))}
    env.update({"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / ".cache"), "COLUMNS": "120"})
    result = subprocess.run([sys.executable, "-m", "planner", "demo", "--dir", str(tmp_path / "demo")], env=env,
                            capture_output=True, text=True, timeout=540)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-3000:]
    assert TRACEBACK not in said
    assert "sudah ada dan tidak diubah" not in said
    assert f"Konfigurasi ditulis: {tmp_path / 'demo' / 'config.toml'}" in " ".join(said.split()), said[:2000]
    assert "penjadwal mulai berjalan" in said and "duplikat: 0" in said
    found = english_in(said, english_log_phrases())
    assert not found, found[:5]
