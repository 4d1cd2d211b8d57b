"""planner.domain.media: sniffing, dimensions, digests, and where media files may live. Real files only."""

from __future__ import annotations

import hashlib
import os
import struct
import zlib
from pathlib import Path

import pytest

from planner.config import load_config
from planner.domain.media import check_media, describe_media, media_digest, media_roots, sniff

REPO = Path(__file__).resolve().parents[2]
POSTER = REPO / "campaigns" / "media" / "cek-dpt-poster.jpg"   # a real JPEG, 1080x1080 (file(1) agrees)


# --- real-format builders (the bytes each format starts with, and its size fields) ----------------------

def png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\0" + b"\0\0\0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def jpeg(width: int, height: int, *, progressive: bool = False) -> bytes:
    """SOI, JFIF APP0, an EXIF-sized APP1 (the frame header is not at a fixed place), SOF, SOS, EOI."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0"
    app1 = b"\xff\xe1" + struct.pack(">H", 2 + 300) + b"Exif\0\0" + b"\xff" * 294
    sof = (b"\xff" + (b"\xc2" if progressive else b"\xc0") + struct.pack(">HBHHB", 17, 8, height, width, 3)
           + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01")
    return b"\xff\xd8" + app0 + b"\xff\xff" + app1 + sof + b"\xff\xda" + struct.pack(">H", 8) + b"\0" * 6 + b"\xff\xd9"


def gif(width: int, height: int) -> bytes:
    return b"GIF89a" + struct.pack("<HH", width, height) + b"\0\0\0" + b",\0\0\0\0\1\0\1\0\0\2\2D\1\0;"


def webp(chunk: bytes, payload: bytes) -> bytes:
    body = b"WEBP" + chunk + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def webp_lossy(width: int, height: int) -> bytes:
    return webp(b"VP8 ", b"\x10\x02\x00" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\0" * 10)


def webp_lossless(width: int, height: int) -> bytes:
    bits = (width - 1) | ((height - 1) << 14)
    return webp(b"VP8L", b"\x2f" + struct.pack("<I", bits) + b"\0" * 8)


def webp_extended(width: int, height: int) -> bytes:
    return webp(b"VP8X", b"\x10\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little"))


def bmp(width: int, height: int) -> bytes:
    header = struct.pack("<IiiHHIIiiII", 40, width, -height, 1, 24, 0, 0, 2835, 2835, 0, 0)
    pixels = b"\0" * (((width * 3 + 3) // 4 * 4) * height)
    return b"BM" + struct.pack("<IHHI", 14 + 40 + len(pixels), 0, 0, 54) + header + pixels


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def mp4(width: int, height: int, *, brand: bytes = b"isom", moov_last: bool = True) -> bytes:
    """ftyp, mdat and moov (at the end, as most cameras write it) with an audio track first, then video."""
    def tkhd(w: int, h: int) -> bytes:  # version 0: 84 bytes of payload, width/height 16.16 at the end
        return box(b"tkhd", b"\0\0\0\x03" + b"\0" * 72 + struct.pack(">II", w << 16, h << 16))

    moov = box(b"moov", box(b"mvhd", b"\0" * 100) + box(b"trak", tkhd(0, 0) + box(b"mdia", b"\0" * 8))
               + box(b"trak", tkhd(width, height) + box(b"mdia", b"\0" * 8)))
    ftyp = box(b"ftyp", brand + b"\0\0\0\0" + b"isomiso2mp41")
    mdat = box(b"mdat", b"\0" * 5000)
    return ftyp + (mdat + moov if moov_last else moov + mdat)


# --- sniffing and describing ---------------------------------------------------------------------------

@pytest.mark.parametrize("data, kind, size", [
    (png(3, 2), "png", (3, 2)),
    (jpeg(1280, 720), "jpeg", (1280, 720)),
    (jpeg(640, 480, progressive=True), "jpeg", (640, 480)),
    (gif(17, 9), "gif", (17, 9)),
    (webp_lossy(800, 600), "webp", (800, 600)),
    (webp_lossless(31, 47), "webp", (31, 47)),
    (webp_extended(4000, 3000), "webp", (4000, 3000)),
    (bmp(5, 4), "bmp", (5, 4)),
    (mp4(1920, 1080), "mp4", (1920, 1080)),
    (mp4(720, 1280, brand=b"qt  ", moov_last=False), "mov", (720, 1280)),
], ids=["png", "jpeg", "jpeg-progressive", "gif", "webp-vp8", "webp-vp8l", "webp-vp8x", "bmp", "mp4", "mov"])
def test_describe_reads_kind_and_dimensions_from_the_headers(tmp_path, data, kind, size):
    path = tmp_path / f"berkas.{kind}"
    path.write_bytes(data)
    info = describe_media(path)
    assert info == {"file": f"berkas.{kind}", "size": len(data), "width": size[0], "height": size[1],
                    "sha256": hashlib.sha256(data).hexdigest(), "kind": kind}


def test_describe_a_real_jpeg_from_the_examples():
    info = describe_media(POSTER)
    assert (info["kind"], info["width"], info["height"], info["size"]) == ("jpeg", 1080, 1080, POSTER.stat().st_size)


@pytest.mark.parametrize("data, kind", [
    (b"Halo, ini teks biasa.\n", "text"),
    (b"%PDF-1.7\n", "pdf"),
    (b"SQLite format 3\x00" + b"\0" * 80, "sqlite"),
    (b"\0\0\0\x18ftypheic" + b"\0" * 40, "heif"),
    (b"\x1a\x45\xdf\xa3" + b"\0" * 40, "webm"),
    (b"\0" * 64, None),
    (b"", None),
])
def test_sniff_names_other_content(data, kind):
    assert sniff(data[:64]) == kind


def test_broken_headers_give_no_dimensions_and_never_raise(tmp_path):
    for name, data in {"potong.jpg": b"\xff\xd8\xff\xe0\x00", "rusak.png": b"\x89PNG\r\n\x1a\n\0\0",
                       "kosong.mp4": b"\0\0\0\x18ftypisom" + b"\xff" * 12, "gif.gif": b"GIF89a"}.items():
        path = tmp_path / name
        path.write_bytes(data)
        info = describe_media(path)
        assert info["width"] is None and info["height"] is None and info["size"] == len(data)


def test_media_digest_streams_the_whole_file(tmp_path):
    path = tmp_path / "besar.mp4"
    data = mp4(1920, 1080) + os.urandom(3 * 1024 * 1024 + 17)  # more than one 1 MiB chunk
    path.write_bytes(data)
    assert media_digest(path) == hashlib.sha256(data).hexdigest() == describe_media(path)["sha256"]
    assert media_digest(str(path)) == media_digest(path)
    path.write_bytes(data[:-1] + b"\0")  # one byte changed: another digest
    assert media_digest(path) != hashlib.sha256(data).hexdigest()


def test_digest_and_describe_raise_oserror_for_a_missing_file(tmp_path):
    with pytest.raises(OSError):
        media_digest(tmp_path / "tidak-ada.jpg")
    with pytest.raises(OSError):
        describe_media(tmp_path / "tidak-ada.jpg")


# --- where media may live ------------------------------------------------------------------------------

@pytest.fixture
def workspace(tmp_path):
    """config.toml, planner.db, backups/, campaigns/uji.toml and campaigns/media/ with real images."""
    (tmp_path / "config.toml").write_text('database = "planner.db"\n', "utf-8")
    (tmp_path / "planner.db").write_bytes(b"SQLite format 3\x00" + b"\0" * 100)
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "planner-1.jpg").write_bytes(jpeg(10, 10))
    media = tmp_path / "campaigns" / "media"
    media.mkdir(parents=True)
    (media / "poster.jpg").write_bytes(jpeg(1080, 1080))
    (tmp_path / "bersama").mkdir()
    (tmp_path / "bersama" / "logo.png").write_bytes(png(4, 4))
    (tmp_path / "campaigns" / "uji.toml").write_text("", "utf-8")
    return tmp_path


def check(workspace: Path, name: str, *, with_config: bool = True):
    config = load_config(workspace / "config.toml") if with_config else None
    return check_media(name, workspace / "campaigns" / "uji.toml", config)


def test_files_in_the_campaign_folder_or_the_workspace_pass(workspace):
    inside = check(workspace, "media/poster.jpg")
    assert inside.ok and inside.size == len(jpeg(1080, 1080)) and inside.kind == "jpeg"
    assert inside.path == (workspace / "campaigns" / "media" / "poster.jpg").resolve()
    assert check(workspace, "../bersama/logo.png").ok                  # the workspace folder holds config.toml
    assert check(workspace, str(workspace / "bersama" / "logo.png")).ok  # absolute, but inside
    # Without a config only the campaign file's folder tree is known.
    assert check(workspace, "../bersama/logo.png", with_config=False).code == "media_outside"
    assert media_roots(workspace / "campaigns" / "uji.toml", load_config(workspace / "config.toml")) == (
        workspace.resolve(),)


@pytest.mark.parametrize("name", ["/etc/passwd", "../../../../../../etc/passwd", "../../luar.jpg"])
def test_paths_leaving_the_allowed_folders_are_refused(workspace, name):
    result = check(workspace, name)
    assert result.code == "media_outside"
    assert result.params["file"] == name and str(workspace.resolve()) in result.params["allowed"]


def test_symlinks_are_followed_before_the_check(workspace, tmp_path_factory):
    outside = tmp_path_factory.mktemp("luar") / "rahasia.jpg"
    outside.write_bytes(jpeg(1, 1))
    media = workspace / "campaigns" / "media"
    (media / "tautan.jpg").symlink_to(outside)
    (media / "config.jpg").symlink_to(workspace / "config.toml")
    (media / "db.jpg").symlink_to(workspace / "planner.db")
    (media / "lagi.jpg").symlink_to(media / "poster.jpg")    # a link that stays inside is fine
    (media / "folder").symlink_to(Path("/etc"))
    assert check(workspace, "media/tautan.jpg").code == "media_outside"
    assert check(workspace, "media/config.jpg").code == "media_protected"
    assert check(workspace, "media/db.jpg").code == "media_protected"
    assert check(workspace, "media/lagi.jpg").ok
    assert check(workspace, "media/folder/passwd").code == "media_outside"


@pytest.mark.parametrize("name", ["../config.toml", "../planner.db", "../planner.db-wal", "../backups/planner-1.jpg"])
def test_planners_own_files_are_refused(workspace, name):
    (workspace / "planner.db-wal").write_bytes(b"\0" * 32)
    assert check(workspace, name).code == "media_protected"


def test_non_regular_files_are_refused_without_blocking(workspace):
    os.mkfifo(workspace / "campaigns" / "media" / "pipa.jpg")  # opening a FIFO to read would hang
    assert check(workspace, "media/pipa.jpg").code == "media_not_regular"
    assert check(workspace, "media").code == "media_not_regular"
    assert check(workspace, "media/tidak-ada.jpg").code == "media_missing"
    assert check(workspace, "media/nul\0.jpg").code == "media_missing"       # never a crash
    (workspace / "campaigns" / "media" / "putar.jpg").symlink_to("putar.jpg")
    assert check(workspace, "media/putar.jpg").code == "media_unreadable"   # a symlink loop
    assert check(workspace, "media/" + "a" * 300 + ".jpg").code == "media_unreadable"  # name too long


@pytest.mark.parametrize("name, data, code", [
    ("teks.jpg", b"Ini bukan gambar.\n", "media_content_unknown"),
    ("kosong.png", b"", "media_content_unknown"),
    ("png-asli.jpg", png(2, 2), "media_content_mismatch"),
    ("gambar.mp4", jpeg(2, 2), "media_content_mismatch"),
    ("iphone.jpg", b"\0\0\0\x18ftypheic" + b"\0" * 40, "media_content_other"),
    ("dokumen.gif", b"%PDF-1.4\n", "media_content_other"),
    ("klip.mov", mp4(2, 2), None),           # one container: .mov may hold MP4 and .mp4 QuickTime
    ("klip.mp4", mp4(2, 2, brand=b"qt  "), None),
    ("foto.jpeg", jpeg(2, 2), None),
    ("catatan.txt", b"teks", None),          # no media extension: the text rules refuse it (media_type)
])
def test_content_must_match_the_extension(workspace, name, data, code):
    (workspace / "campaigns" / "media" / name).write_bytes(data)
    result = check(workspace, f"media/{name}")
    assert result.code == code
    if code == "media_content_mismatch":
        assert result.params["suggested"] in ("png", "jpg")


def test_every_code_check_media_gives_is_listed():
    """PROBLEM_CODES is what the catalogue test checks for messages: no code may be left out of it."""
    import ast

    from planner.domain import media

    tree = ast.parse(Path(media.__file__).read_text("utf-8"))
    given = {kw.value.value for node in ast.walk(tree) if isinstance(node, ast.Call)
             for kw in node.keywords if kw.arg == "code" and isinstance(kw.value, ast.Constant)}
    assert given == set(media.PROBLEM_CODES)
