"""Issue 14's rough edges, each as the user meets it: `planner` in a subprocess, in a workspace on the sandbox
(doc_commands.Workspace), Indonesian unless said otherwise."""

from __future__ import annotations

import re
import shlex
import sys
import tomllib
from datetime import date, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib
from doc_commands import TRACEBACK, Command, Workspace  # noqa: E402
from helpers import campaign_doc, write_campaign  # noqa: E402

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def kantor(tmp_path, sandbox):
    """A sandbox workspace (the six example accounts) with two campaigns that watch the same keyword."""
    from planner.sandbox.workspace import SANDBOX_SECRETS, write_sandbox_config

    # A read budget that two campaigns' X searches cannot spend: this workspace tests naming, not the budget
    # (tests/integration/test_x_cost_report.py does).
    write_sandbox_config(tmp_path, sandbox.base_url, extra="[costs.x]\ndaily_read_budget = 1000\n")
    workspace = Workspace(tmp_path, sandbox)
    workspace.env.update(SANDBOX_SECRETS)
    start = date.today() + timedelta(days=1)
    channels = ["kpu_x", "kpu_mastodon", "kpu_bluesky"]
    for name in ("satu", "dua"):
        write_campaign(tmp_path / "campaigns" / f"{name}.toml", campaign_doc(f"kampanye-{name}", start,
                                                                              channels=channels))
    for line in ("planner init .", "planner campaign apply campaigns/satu.toml campaigns/dua.toml"):
        result = workspace.run(Command("setup", line))
        assert result.returncode == 0, result.stdout + result.stderr
    return workspace


def planner(workspace: Workspace, *args: str):
    result = workspace.run(Command("test", shlex.join(["planner", *args])))
    assert TRACEBACK not in result.stdout + result.stderr
    return result


def test_listen_names_each_account_once_and_mentions_show_each_mention_once_with_its_campaigns(kantor):
    listened = planner(kantor, "listen")
    assert listened.returncode == 0, listened.stdout + listened.stderr
    searched = listened.stdout.split("dicari lewat:", 1)[1].split(")", 1)[0]
    names = [n.strip() for n in searched.split(",")]
    # Both campaigns search through the same accounts: each is named once, and so is each error.
    assert len(names) == len(set(names)) >= 2 and set(names) <= {"kpu_bluesky", "kpu_mastodon", "kpu_x"}, \
        listened.stdout
    errors = [line for line in listened.stdout.splitlines() if line.strip().startswith("✗")]
    assert len(errors) == len(set(errors)) and len(names) + len(errors) == 3, listened.stdout

    db = kantor.root / "planner.db"
    import sqlite3

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*), COUNT(DISTINCT platform || ':' || platform_id) FROM mentions").fetchone()
    assert stored[0] == 2 * stored[1] > 0  # each mention is stored for both campaigns...
    shown = planner(kantor, "mentions", "--limit", "10000")
    lines = [line for line in shown.stdout.splitlines() if line.strip()]
    assert len(lines) == stored[1], shown.stdout  # ...and shown once
    assert all("[kampanye-dua, kampanye-satu]" in line for line in lines), lines[:3]
    # --json keeps one record per campaign, each naming it.
    import json

    records = json.loads(planner(kantor, "mentions", "--limit", "10000", "--json").stdout)["mentions"]
    assert {r["campaign"] for r in records} == {"kampanye-satu", "kampanye-dua"}


def test_backup_counts_the_copies_there_are(kantor):
    first = planner(kantor, "backup")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kini ada 1 salinan (paling banyak 14 disimpan)" in first.stdout, first.stdout
    second = planner(kantor, "backup", "--keep", "3")
    assert "kini ada 2 salinan (paling banyak 3 disimpan)" in second.stdout, second.stdout
    assert "14 salinan terbaru" not in first.stdout + second.stdout


def test_init_comments_the_config_in_the_users_language(tmp_path, sandbox):
    workspace = Workspace(tmp_path, sandbox)
    assert planner(workspace, "init", "kantor").returncode == 0
    assert planner(workspace, "--lang", "en", "init", "office").returncode == 0
    indonesian = (tmp_path / "kantor" / "config.toml").read_text("utf-8")
    english = (tmp_path / "office" / "config.toml").read_text("utf-8")
    assert indonesian.startswith("# Konfigurasi humas-planner.")
    assert "# Zona waktu kantor" in indonesian and "# Folder of campaign files" not in indonesian
    assert english.startswith("# humas-planner configuration.")
    # The same settings either way: only the comments differ.
    assert tomllib.loads(indonesian) == tomllib.loads(english)
    comments = [line for line in indonesian.splitlines() if line.lstrip().startswith("#")]
    assert not [c for c in comments if any(w in c.split() for w in ("the", "and", "of", "is", "are", "with"))]


def test_account_check_warns_when_the_token_posts_as_another_handle(kantor):
    checked = planner(kantor, "account", "check", "kpu_x")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The sandbox's X token belongs to @humas_…, not to the configured @kpudemak: both are named.
    assert "Akun kpu_x tercatat sebagai @kpudemak di config.toml, tetapi tokennya mengunggah sebagai @humas_" \
        in " ".join(checked.stdout.split()), checked.stdout
    same = planner(kantor, "account", "check", "kpu_bluesky")  # kpudemak.bsky.social both ways
    assert "tercatat sebagai" not in same.stdout, same.stdout


def test_a_platform_error_summary_is_said_in_the_users_language_with_the_platforms_own_words(kantor):
    kantor.env["HUMAS_SANDBOX_TELEGRAM_TOKEN"] = "987654321:badTelegramTokenForTheLeakTest00042"  # refused: 401
    checked = planner(kantor, "account", "check", "kpu_telegram")
    assert checked.returncode == 1
    said = " ".join(checked.stdout.split())
    assert "telegram: token bot ditolak (Unauthorized); simpan token bot yang baru untuk akun kpu_telegram" in said, said
    assert "rejected" not in said and "set a new one" not in said
    english = " ".join(planner(kantor, "--lang", "en", "account", "check", "kpu_telegram").stdout.split())
    assert "telegram: bot token rejected (Unauthorized); set a new one for account kpu_telegram" in english, english


def test_import_speaks_of_the_spreadsheet_not_of_toml(kantor):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    day = date.today() + timedelta(days=5)
    from datetime import datetime as moment

    ig = campaign_doc("kampanye-ig", date.today() + timedelta(days=1), channels=["kpu_ig", "kpu_x"], contents=[
        {"id": "pembuka", "text": "Pastikan namamu terdaftar di DPT.", "channels": ["kpu_x"],
         "at": moment.combine(date.today() + timedelta(days=2), moment.min.time()).replace(hour=9)}])
    write_campaign(kantor.root / "campaigns" / "ig.toml", ig)
    assert planner(kantor, "campaign", "apply", "campaigns/ig.toml").returncode == 0
    long_id = "klarifikasi-tps-dipindah-ke-balai-desa"
    (kantor.root / "jadwal.csv").write_text(
        "tanggal;jam;kanal;id;teks\n"
        f"{day:%Y-%m-%d};09:00;kpu_x;{long_id};Lokasi TPS tidak dipindah. Cek di kanal resmi KPU.\n", "utf-8")
    # At 80 columns the id the user may type next is whole, and so is the time.
    kantor.env["COLUMNS"] = "80"
    dry = planner(kantor, "import", "jadwal.csv", "--campaign", "kampanye-ig", "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert long_id in dry.stdout and f"{day.day} " in dry.stdout and " WIB" in dry.stdout, dry.stdout
    assert all(len(line) <= 80 for line in dry.stdout.splitlines() if "…" in line or long_id in line)

    first = planner(kantor, "import", "jadwal.csv", "--campaign", "kampanye-ig")
    assert first.returncode == 0, first.stdout + first.stderr
    # "Diimpor ... pada": the office's local time with its zone, not the machine's UTC.
    comment = next(line for line in (kantor.root / "campaigns" / "ig.toml").read_text("utf-8").splitlines()
                   if line.startswith("# Diimpor"))
    wall = datetime.now(ZoneInfo("Asia/Jakarta"))
    stamps = {f"{(wall - timedelta(minutes=m)):%Y-%m-%d %H:%M}" for m in range(3)}
    assert " WIB " in comment and any(f"pada {s}:" in comment for s in stamps), comment

    again = planner(kantor, "import", "jadwal.csv", "--campaign", "kampanye-ig")
    assert again.returncode == 1
    # Imported twice: one problem, on the row, in its column as the header names it; nothing on the campaign
    # file's content the row repeats.
    problems = [line.strip() for line in again.stdout.splitlines() if line.strip().startswith("✗")]
    assert problems and all(p.startswith("✗ baris 2, kolom ") for p in problems), again.stdout
    assert "baris 2, kolom teks" in again.stdout and "berkas kampanye, content" not in again.stdout

    (kantor.root / "salah.csv").write_text(
        "tanggal;jam;kanal;teks\n"
        "17/03/2027;09:00;kpu_x;Halo semua\n"
        f"{day:%Y-%m-%d};10:00;kpu_ig;Poster cek DPT\n"
        f";11:00;kpu_x;Tanpa tanggal\n", "utf-8")
    wrong = planner(kantor, "import", "salah.csv", "--campaign", "kampanye-ig")
    said = " ".join(wrong.stdout.split())
    assert wrong.returncode == 1, said
    assert "baris 2, kolom tanggal" in said and "tulis 2027-03-17 (tahun-bulan-tanggal)" in said, said
    assert "2027-02-01 (tahun-bulan-tanggal)" not in said
    assert "baris 3, kolom media" in said and "Isi kolom media baris ini" in said and "hapus kpu_ig dari kolom kanal" \
        in said, said
    assert "media = [" not in said and "[content" not in said
    assert "baris 4, kolom tanggal: Kolom tanggal kosong" in said and "kolom date" not in said.lower(), said


def test_report_refuses_a_backwards_window_and_projects_posts_published_from_the_schedule(kantor):
    from datetime import datetime as moment

    backwards = planner(kantor, "report", "kampanye-satu", "--from", "2026-12-03", "--to", "2026-12-01")
    assert backwards.returncode == 2
    assert "--from (2026-12-03) harus lebih awal daripada --to (2026-12-01)" in backwards.stdout + backwards.stderr

    # A campaign that started today, 8 posts scheduled, a target of 11 published posts; one goes out now.
    today = date.today()
    doc = campaign_doc("kampanye-kpi", today, channels=["kpu_x", "kpu_mastodon", "kpu_bluesky"])
    doc["goal"]["kpi"] = [{"metric": "posts_published", "target": 11}]
    for i, item in enumerate(doc["content"]):
        item["at"] = moment.combine(today + timedelta(days=1 + i), moment.min.time()).replace(hour=9)
    write_campaign(kantor.root / "campaigns" / "kpi.toml", doc)
    assert planner(kantor, "campaign", "apply", "campaigns/kpi.toml").returncode == 0
    import sqlite3

    with sqlite3.connect(kantor.root / "planner.db") as conn:
        (first,) = conn.execute("SELECT MIN(id) FROM posts WHERE campaign_id = 'kampanye-kpi'").fetchone()
        (scheduled,) = conn.execute("SELECT COUNT(*) FROM posts WHERE campaign_id = 'kampanye-kpi'").fetchone()
        assert scheduled == 8
        # Recorded as published 0.14 s late, as the dispatcher records it (the platform is not the point here).
        conn.execute("UPDATE posts SET state = 'published', published_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                     "late_ms = 140 WHERE id = ?", [first])
    report = " ".join(planner(kantor, "report", "kampanye-kpi").stdout.split())
    # At the current pace one post in the first hours would "project" dozens; the schedule says 8.
    assert "Unggahan terbit: 1 sudah terbit; bersama unggahan yang terjadwal sampai tenggat hanya 8, kurang dari " \
           "target 11" in report, report
    # Seconds are written the Indonesian way, like every other figure ("0,14 dtk", not "0.14 dtk").
    status = planner(kantor, "status").stdout
    lateness = next(line for line in status.splitlines() if "median" in line)
    assert re.search(r"median \d+,\d\d dtk", lateness), lateness


def test_an_impossible_date_on_the_command_line_is_named_as_such_and_help_shows_plain_defaults(kantor):
    for value in ("2027-02-30", "2027-02-01 24:00"):
        result = planner(kantor, "queue", "--from", value)
        said = result.stdout + result.stderr
        assert result.returncode == 2 and f"Nilai --from '{value}' tidak ada di kalender" in said, said
        assert "tidak bisa dibaca" not in said
    unreadable = planner(kantor, "queue", "--from", "kemarin")
    assert "tidak bisa dibaca sebagai waktu" in unreadable.stdout + unreadable.stderr
    check = " ".join(planner(kantor, "check", "--help").stdout.split())
    assert "[bawaan: 24; 0.5 sampai 744]" in check and "24.0" not in check, check
    sandbox = " ".join(planner(kantor, "sandbox", "serve", "--help").stdout.split())
    assert "[bawaan: 0; 0 sampai 1]" in sandbox and "bawaan: 0.0" not in sandbox, sandbox


def test_listen_and_metrics_errors_are_said_in_the_users_words(kantor):
    kantor.sandbox.add_fault("server_error", platform="x", path=r"^/2/tweets/search/recent$", method="GET", count=50)
    listened = planner(kantor, "listen")
    said = " ".join(listened.stdout.split())
    assert "✗ kpu_x: x: gangguan di server platform, kode 503" in said, said
    assert "server error" not in said and "Service Unavailable" in said  # the platform's own words, in brackets
