"""What a humas officer reads and types next: tables that fit an 80-column terminal without cutting ids,
account names or times; `--json` of the list commands for scripts; the hints of `planner status`, `approve`
and `apply` naming commands that work; `account add --force` keeping what it does not replace.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import tomllib
from rich.cells import cell_len

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib

from helpers import (PLAIN_CHANNELS, campaign_doc, cli, execute, future_monday_in_february,  # noqa: E402
                     init_workspace, rows, write_campaign)

from planner.i18n.dates import format_moment  # noqa: E402
from planner.store.db import parse_utc  # noqa: E402

ZONE = ZoneInfo("Asia/Jakarta")
LONG_CAMPAIGN = "cek-dpt-pemilih-pemula-kabupaten"
OTHER_CAMPAIGN = "klarifikasi-hoaks-kepemiluan"


def _content(start, day: int, hour: int, content_id: str, text: str) -> dict:
    return {"id": content_id, "text": text,
            "at": datetime.combine(start + timedelta(days=day), datetime.min.time()).replace(hour=hour)}


@pytest.fixture
def workspace(tmp_path):
    """`planner init` (the example accounts kpu_x, kpu_fb, kpu_mastodon, kpu_bluesky, kpu_telegram...) with two
    campaigns of long ids applied: posts on Monday and Tuesday ("Selasa, 2 Februari ... WIB")."""
    config = init_workspace(tmp_path / "kantor")
    start = future_monday_in_february()
    long_text = ("Sudah 17 tahun atau akan 17 tahun saat hari pemungutan suara? Pastikan namamu terdaftar di DPT. "
                 "Cek sekarang, cukup pakai NIK KTP-el.")
    first = campaign_doc(LONG_CAMPAIGN, start, contents=[
        _content(start, 0, 9, "ajakan-cek-dpt-pemilih-pemula", long_text),
        _content(start, 1, 8, "cara-cek-dpt-online-langkah", "Cara cek DPT online: buka situs, ketik NIK."),
    ])
    second = campaign_doc(OTHER_CAMPAIGN, start, contents=[
        _content(start, 1, 19, "cek-fakta-kanal-resmi-kpu", "Info resmi hanya dari kanal resmi KPU Demak."),
    ])
    files = [write_campaign(config.parent / "campaigns" / f"{doc['campaign']['id']}.toml", doc)
             for doc in (first, second)]
    result = cli("--config", str(config), "campaign", "apply", *map(str, files))
    assert result.exit_code == 0, result.output
    return config


def run(config: Path, *args: str, columns: int = 250, lang: str | None = None):
    prefix = ["--config", str(config)] + (["--lang", lang] if lang else [])
    return cli(*prefix, *args, env={"COLUMNS": str(columns)})


def posts(config: Path) -> list[dict]:
    return rows(config.parent / "planner.db", "SELECT * FROM posts ORDER BY id")


def assert_fits(output: str, columns: int) -> None:
    too_wide = [line for line in output.splitlines() if cell_len(line.rstrip()) > columns]
    assert not too_wide, too_wide


def whole_word(word: str, output: str) -> bool:
    """``word`` appears with no letter, digit, '_' , '-' or '…' glued to either side (not cut, not part of another)."""
    return re.search(rf"(?<![\w…-]){re.escape(word)}(?![\w…-])", output) is not None


# --- tables at 80 columns and wider ------------------------------------------------------------------------

@pytest.mark.parametrize("columns", [80, 100, 120, 200])
def test_queue_shows_ids_accounts_and_times_whole(workspace, columns):
    result = run(workspace, "queue", columns=columns)
    assert result.exit_code == 0, result.output
    out = result.output
    assert_fits(out, columns)
    all_posts = posts(workspace)
    assert len(all_posts) == 5 * 3
    assert {int(n) for n in re.findall(r"#(\d+)\b", out)} == {p["id"] for p in all_posts}
    for post in all_posts:
        moment = format_moment(parse_utc(post["due_at"]), ZONE, "id")
        assert moment in out, moment
        # "campaign/content", or at 80 columns with ids this long, broken after the '/' (each id whole)
        assert re.search(rf"(?<![\w…-]){re.escape(post['campaign_id'])}/", out), post["campaign_id"]
        assert whole_word(post["content_id"], out), post["content_id"]
    for channel in PLAIN_CHANNELS:
        assert whole_word(channel, out), channel
    assert "Selasa, " in out and " WIB" in out
    if columns < 100:
        assert "Sudah 17 tahun" in out or "Teks" not in out  # the text is the part that gives way


def test_queue_wide_terminal_is_one_line_per_post(workspace):
    out = run(workspace, "queue", columns=200).output
    lines = [line for line in out.splitlines() if re.match(r"\s*#\d+\s", line)]
    assert len(lines) == 15 and all(" WIB " in line and "/" in line for line in lines)


@pytest.mark.parametrize("columns", [80, 120])
def test_campaign_list_never_cuts_the_id(workspace, columns):
    result = run(workspace, "campaign", "list", columns=columns)
    assert result.exit_code == 0, result.output
    assert_fits(result.output, columns)
    for campaign_id in (LONG_CAMPAIGN, OTHER_CAMPAIGN):
        assert whole_word(campaign_id, result.output), result.output


@pytest.mark.parametrize("columns", [80, 120, 160])
def test_week_calendar_never_breaks_an_account_name(workspace, columns):
    monday = future_monday_in_february()
    result = run(workspace, "calendar", "--week", "--date", monday.isoformat(), columns=columns)
    assert result.exit_code == 0, result.output
    assert_fits(result.output, columns)
    for channel in PLAIN_CHANNELS:
        assert re.search(rf"•{channel}(?![\w-])", result.output), (channel, result.output)
    assert "08.00" in result.output and "19.00" in result.output


def test_demo_queue_step_uses_the_same_table(workspace):
    """Demo step 4 runs `queue --limit 8` in-process: at 80 columns the times stay whole there too."""
    out = run(workspace, "queue", "--limit", "8", columns=80).output
    assert_fits(out, 80)
    for post in posts(workspace)[:8]:
        assert format_moment(parse_utc(post["due_at"]), ZONE, "id") in out


# --- --json ----------------------------------------------------------------------------------------------

def _json(config: Path, *args: str, lang: str | None = None, code: int = 0) -> dict:
    result = run(config, *args, "--json", lang=lang, columns=80)
    assert result.exit_code == code, result.output
    return json.loads(result.output)


def test_queue_json_has_stable_keys_utc_times_and_untranslated_states(workspace):
    data = _json(workspace, "queue")
    assert data["kind"] == "queue" and data["version"] == 1
    by_id = {p["id"]: p for p in posts(workspace)}
    assert {p["id"] for p in data["posts"]} == set(by_id)
    for item in data["posts"]:
        assert set(item) == {"id", "campaign", "content", "channel", "platform", "state", "due_at", "text",
                             "published_at"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", item["due_at"])
        assert parse_utc(item["due_at"]) == parse_utc(by_id[item["id"]]["due_at"])
        assert item["state"] == "queued" and item["text"] == by_id[item["id"]]["text"]  # whole, not shortened
    assert _json(workspace, "queue", lang="en") == data  # the language changes nothing in JSON
    assert _json(workspace, "queue", "--campaign", "tidak-ada")["posts"] == []


def test_campaign_list_json(workspace):
    data = _json(workspace, "campaign", "list")
    assert data["kind"] == "campaigns"
    found = {c["id"]: c for c in data["campaigns"]}
    assert set(found) == {LONG_CAMPAIGN, OTHER_CAMPAIGN}
    assert found[LONG_CAMPAIGN]["posts"] == {"queued": 10} and found[OTHER_CAMPAIGN]["posts"] == {"queued": 5}
    assert found[LONG_CAMPAIGN]["timezone"] == "Asia/Jakarta"
    start = parse_utc(found[LONG_CAMPAIGN]["start_at"]).astimezone(ZONE)
    assert found[LONG_CAMPAIGN]["start_at"].endswith("Z") and (start.date(), start.hour) == (
        future_monday_in_february(), 0)


def test_status_json_and_hints_name_the_command_that_works(workspace):
    db = workspace.parent / "planner.db"
    failed, missed, review = (p["id"] for p in posts(workspace)[:3])
    execute(db, "UPDATE posts SET state = 'failed', last_error = 'token ditolak' WHERE id = ?", [failed])
    execute(db, "UPDATE posts SET state = 'missed' WHERE id = ?", [missed])
    execute(db, "UPDATE posts SET state = 'needs_review' WHERE id = ?", [review])

    data = _json(workspace, "status", code=1)  # as on the screen: exit 1 while posts need a person
    assert data["kind"] == "status" and data["scheduler"]["running"] is False and data["paused"] is None
    commands = {a["id"]: a["command"] for a in data["attention"]}
    assert commands == {failed: f"planner post retry {failed}", missed: f"planner post requeue {missed}",
                        review: f"planner post requeue {review}"}
    assert data["counts"]["failed"] == 1 and len(data["next"]) == 5

    screen = run(workspace, "status").output
    assert f"planner post retry {failed}" in screen and f"planner post requeue {failed}" not in screen
    assert f"planner post requeue {missed}" in screen
    # The advised commands do work.
    for command in (commands[failed], commands[missed]):
        result = run(workspace, *command.split()[1:])
        assert result.exit_code == 0, (command, result.output)
    states = {p["id"]: p["state"] for p in posts(workspace)}
    assert states[failed] == "queued" and states[missed] == "queued"


def test_review_mentions_and_audit_json(workspace):
    db = workspace.parent / "planner.db"
    execute(db, "UPDATE posts SET state = 'pending_approval', author = 'budi' WHERE id = 1")
    review = _json(workspace, "review")
    assert review["kind"] == "review" and [p["id"] for p in review["posts"]] == [1]
    item = review["posts"][0]
    assert item["author"] == "budi" and item["state"] == "pending_approval" and item["limit"] == 280
    assert item["length"] == len(item["text"]) and item["media"] == []

    execute(db, "INSERT INTO mentions (campaign_id, platform, platform_id, keyword, text, author, url, created_at, "
                "seen_at) VALUES (?, 'x', '99', 'cek DPT', 'Sudah cek DPT?', 'warga', NULL, "
                "'2027-02-01T03:04:05.000Z', '2027-02-01T03:10:00.000Z')", [LONG_CAMPAIGN])
    mentions = _json(workspace, "mentions")
    assert mentions["mentions"] == [{"id": 1, "campaign": LONG_CAMPAIGN, "platform": "x", "keyword": "cek DPT",
                                     "author": "warga", "text": "Sudah cek DPT?", "url": None,
                                     "created_at": "2027-02-01T03:04:05.000Z",
                                     "seen_at": "2027-02-01T03:10:00.000Z"}]

    audit = _json(workspace, "audit")
    assert audit["kind"] == "audit" and audit["entries"]
    ids = [e["id"] for e in audit["entries"]]
    assert ids == sorted(ids)
    assert all(e["at"].endswith("Z") and isinstance(e["detail"], (dict, list, str)) for e in audit["entries"])
    assert audit["entries"][1]["prev_hash"] == audit["entries"][0]["hash"]
    verified = _json(workspace, "audit", "--verify")
    assert verified["intact"] is True and verified["entries"] == len(ids) and verified["breaks"] == []


def test_without_json_the_screen_output_is_kept(workspace):
    out = run(workspace, "queue").output
    assert not out.lstrip().startswith("{") and "15 unggahan." in out
    assert "Tidak ada unggahan yang menunggu persetujuan." in run(workspace, "review").output


# --- approval messages -----------------------------------------------------------------------------------

USERS = """
[users.sari]
role = "approver"
[users.budi]
role = "staff"
[users.ani]
role = "admin"
"""


def _with_approval(config: Path, users: str = USERS) -> None:
    text = config.read_text("utf-8")
    assert "\nrequired = false\n" in text
    config.write_text(text.replace("\nrequired = false\n", "\nrequired = true\n") + users, "utf-8")


def test_apply_says_how_many_wait_and_who_can_approve(tmp_path):
    config = init_workspace(tmp_path / "kantor")
    _with_approval(config)
    start = future_monday_in_february()
    file = write_campaign(config.parent / "campaigns" / "uji.toml", campaign_doc("uji", start))
    result = cli("--config", str(config), "--as", "sari", "campaign", "apply", str(file))
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    pending = len([p for p in posts(config) if p["state"] == "pending_approval"])
    assert pending == 12
    # sari applied it, so she cannot approve it herself: the other approver and the admin are named.
    assert f"{pending} unggahan kini menunggu persetujuan ('planner review'). Yang dapat menyetujui: ani." in text

    result = cli("--config", str(config), "--as", "budi", "--lang", "en", "campaign", "apply", str(file))
    assert "12 posts now wait for approval ('planner review'). Who can approve them: sari, ani." in " ".join(
        result.output.split())

    # A typo in --campaign: an error naming the campaigns there are, nothing approved.
    typo = cli("--config", str(config), "--as", "ani", "approve", "--campaign", "tidak-ada")
    assert typo.exit_code == 2
    assert "Kampanye 'tidak-ada' tidak ada. Kampanye yang ada: uji." in " ".join(typo.output.split())
    assert len([p for p in posts(config) if p["state"] == "pending_approval"]) == 12
    review_typo = cli("--config", str(config), "review", "--campaign", "tidak-ada")
    assert review_typo.exit_code == 2

    done = cli("--config", str(config), "--as", "ani", "approve", "--campaign", "uji")
    assert done.exit_code == 0 and "12 unggahan disetujui" in done.output
    again = cli("--config", str(config), "--as", "ani", "approve", "--campaign", "uji")
    assert again.exit_code == 0
    assert "Tidak ada unggahan yang menunggu persetujuan di kampanye 'uji'" in " ".join(again.output.split())


def test_import_apply_says_how_many_wait_too(tmp_path):
    config = init_workspace(tmp_path / "kantor")
    _with_approval(config)
    start = future_monday_in_february()
    file = write_campaign(config.parent / "campaigns" / "uji.toml", campaign_doc("uji", start))
    assert cli("--config", str(config), "--as", "budi", "campaign", "apply", str(file)).exit_code == 0
    sheet = config.parent / "jadwal.csv"
    sheet.write_text(f"tanggal;jam;teks\n{(start + timedelta(days=3)).isoformat()};10:00;Teks dari Excel.\n", "utf-8")
    result = cli("--config", str(config), "--as", "budi", "import", str(sheet), "--campaign", "uji", "--apply")
    assert result.exit_code == 0, result.output
    pending = len([p for p in posts(config) if p["state"] == "pending_approval"])
    assert pending == 12 + 5
    assert (f"{pending} unggahan kini menunggu persetujuan ('planner review'). Yang dapat menyetujui: sari, ani."
            in " ".join(result.output.split()))


def test_apply_with_no_approver_says_so(tmp_path):
    config = init_workspace(tmp_path / "kantor")
    _with_approval(config, users="")
    file = write_campaign(config.parent / "campaigns" / "uji.toml", campaign_doc("uji", future_monday_in_february()))
    result = cli("--config", str(config), "--as", "budi", "campaign", "apply", str(file))
    assert result.exit_code == 0, result.output
    assert "belum ada pengguna lain yang berperan approver atau admin" in " ".join(result.output.split())


# --- account add --force ---------------------------------------------------------------------------------

def test_account_add_force_keeps_what_it_does_not_replace(tmp_path):
    config = init_workspace(tmp_path / "kantor")
    before = tomllib.loads(config.read_text("utf-8"))["accounts"]["kpu_x"]
    assert before["slots"]
    # The README tour's line, on the account `planner init` wrote.
    refused = cli("--config", str(config), "account", "add", "kpu_x", "--platform", "x", "--handle", "kpudemak",
                  "--credential", "bearer_token=env:KPU_X_TOKEN")
    assert refused.exit_code == 2 and "--force" in refused.output
    result = cli("--config", str(config), "account", "add", "kpu_x", "--platform", "x", "--handle", "humasdemak",
                 "--force")
    assert result.exit_code == 0, result.output
    assert "diperbarui" in result.output
    after = tomllib.loads(config.read_text("utf-8"))["accounts"]["kpu_x"]
    assert after == {**before, "handle": "humasdemak"}  # slots and credentials kept, only the handle replaced
    assert "# slot unggah untuk konten dengan slot" in config.read_text("utf-8")  # comments kept too (init writes Indonesian)
    slots = cli("--config", str(config), "queue", "--slots", "--days", "7")
    assert slots.exit_code == 0 and "kpu_x" in slots.output and "08.00 WIB" in slots.output

    # Another platform: the account starts afresh (the old platform's options would not fit it).
    moved = cli("--config", str(config), "account", "add", "kpu_fb", "--platform", "mastodon",
                "--api-base-url", "https://mastodon.social", "--force")
    assert moved.exit_code == 0, moved.output
    fb = tomllib.loads(config.read_text("utf-8"))["accounts"]["kpu_fb"]
    assert fb["platform"] == "mastodon" and "page_id" not in fb and list(fb["credentials"]) == ["access_token"]
