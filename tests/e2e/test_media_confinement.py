"""Media files through the CLI: a campaign cannot name files outside its folder or the workspace, nor files
that are not what they are named, and `planner review` shows the media an approver is approving."""

from __future__ import annotations

import hashlib
import shutil
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests run with --import-mode=importlib

from helpers import (  # noqa: E402
    EXAMPLE_CAMPAIGNS,
    campaign_doc,
    cli,
    future_monday_in_february,
    rows,
    write_campaign,
)

START = future_monday_in_february()
POSTER = EXAMPLE_CAMPAIGNS / "media" / "cek-dpt-poster.jpg"   # a real JPEG, 1080x1080


@pytest.fixture
def ws(kantor):
    """An initialised workspace, approval required, with campaigns/media/poster.jpg (a real JPEG)."""
    folder = kantor
    config = folder / "config.toml"
    config.write_text(config.read_text("utf-8").replace("required = false", "required = true", 1), "utf-8")
    (folder / "campaigns" / "media").mkdir(parents=True)
    shutil.copy(POSTER, folder / "campaigns" / "media" / "poster.jpg")
    return folder


def run(ws: Path, *args: str, lang: str | None = None, columns: int = 250):
    prefix = ["--config", str(ws / "config.toml")] + (["--lang", lang] if lang else [])
    return cli(*prefix, *args, env={"COLUMNS": str(columns)})


def write(ws: Path, media: list[str], *, channels=("kpu_fb",)) -> Path:
    when = datetime.combine(START, datetime.min.time()).replace(hour=9)
    contents = [{"id": "poster", "text": "Ayo cek DPT.", "at": when, "channels": list(channels), "media": media}]
    return write_campaign(ws / "campaigns" / "uji.toml", campaign_doc("uji", START, contents=contents))


def posts(ws: Path) -> list[dict]:
    if not (ws / "planner.db").exists():
        return []
    return rows(ws / "planner.db", "SELECT * FROM posts")


@pytest.mark.parametrize("name, words", [
    ("/etc/passwd", ["/etc/passwd", "di luar folder yang diizinkan"]),
    ("../../../../../../../../etc/hostname", ["etc/hostname", "di luar folder yang diizinkan"]),
    ("media/config.jpg", ["media/config.jpg", "config.toml"]),
    ("media/teks.jpg", ["media/teks.jpg", "bukan JPEG"]),
])
def test_validate_and_apply_refuse_media_that_must_not_be_uploaded(ws, name, words):
    (ws / "campaigns" / "media" / "config.jpg").symlink_to(ws / "config.toml")
    (ws / "campaigns" / "media" / "teks.jpg").write_text("ini hanya teks\n", "utf-8")
    file = write(ws, [name])
    result = run(ws, "campaign", "validate", str(file))
    assert result.exit_code == 1, result.output
    assert "content[1].media[1]" in result.output
    for word in words:
        assert word in result.output, result.output
    assert "Traceback" not in result.output
    if "luar" in words[1]:
        assert str(ws.resolve()) in result.output      # says where media must live
    applied = run(ws, "campaign", "apply", str(file))
    assert applied.exit_code == 1 and posts(ws) == []   # nothing goes to the outbox, nothing is uploaded


def test_the_english_message_says_where_media_must_live(ws):
    file = write(ws, ["/etc/passwd"])
    result = run(ws, "campaign", "validate", str(file), lang="en")
    assert result.exit_code == 1
    assert "outside the allowed folders" in result.output and "Media must live in" in result.output


def test_review_shows_each_posts_media_readably_at_80_columns(ws):
    (ws / "campaigns" / "media" / "peta-tps-kecamatan-wonosalam.png").write_bytes(_png(640, 360))
    file = write(ws, ["media/poster.jpg", "media/peta-tps-kecamatan-wonosalam.png"])
    assert run(ws, "campaign", "apply", str(file)).exit_code == 0
    assert [p["state"] for p in posts(ws)] == ["pending_approval"]
    result = run(ws, "review", columns=80)
    assert result.exit_code == 0, result.output
    out = result.output
    digest = hashlib.sha256(POSTER.read_bytes()).hexdigest()
    assert "  Media 1: poster.jpg · 55 KB · 1080×1080 · JPEG · sha256 " + digest[:12] + "\n" in out
    # A long name: the details go on a line of their own rather than past the 80th column.
    assert "  Media 2: peta-tps-kecamatan-wonosalam.png\n    1 KB · 640×360 · PNG · sha256 " in out
    assert all(len(line) <= 80 for line in out.splitlines() if "Media" in line or "sha256" in line), out
    wide = run(ws, "review", columns=120).output
    assert "  Media 2: peta-tps-kecamatan-wonosalam.png · 1 KB · 640×360 · PNG · sha256 " in wide

    english = run(ws, "review", lang="en", columns=80)
    assert "Media 1: poster.jpg · 55 KB · 1080×1080 · JPEG" in english.output

    # A file gone since the apply: said plainly, no traceback.
    (ws / "campaigns" / "media" / "poster.jpg").unlink()
    gone = run(ws, "review", columns=80)
    assert gone.exit_code == 0 and "Traceback" not in gone.output
    assert "Media 1: poster.jpg · TIDAK DAPAT DIBACA" in gone.output


def _png(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\xff\xff\xff" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def test_control_characters_in_a_campaign_are_refused_before_anything_is_printed_raw(ws):
    when = datetime.combine(START + timedelta(days=1), datetime.min.time()).replace(hour=9)
    contents = [{"id": "tautan", "text": "Info \x1b]8;;https://penipu.example\x1b\\DPT\x1b]8;;\x1b\\ resmi.",
                 "at": when, "channels": ["kpu_fb"]}]
    file = write_campaign(ws / "campaigns" / "uji.toml", campaign_doc("uji", START, contents=contents))
    for command in (("campaign", "validate", str(file)), ("campaign", "preview", str(file)),
                    ("campaign", "apply", str(file))):
        result = run(ws, *command)
        assert result.exit_code == 1, (command, result.output)
        assert "\x1b" not in result.output
        assert "content[1].text" in result.output and "U+001B" in result.output and "ke-6" in result.output
    assert posts(ws) == []
