"""Media files of a campaign: where they may live, what their bytes really are, and what they look like.

- **Confinement.** A media path (relative to the campaign file, as written in it) is resolved with its
  symlinks followed (``os.path.realpath``). It must land inside the campaign file's folder tree or the
  workspace folder (the one holding config.toml), and it must be a regular file that is not config.toml,
  the database (with its -wal/-shm/-journal files) or a backup. Anything else would let a campaign file
  upload any readable file (``/etc/passwd``, ``../../x``, a symlink to config.toml) to every platform.
- **Content.** The first bytes are sniffed (no Pillow): a file named ``.jpg`` must hold a JPEG, and so on
  for every extension the platforms accept. Unknown extensions are left to the text rules, which refuse
  them on every platform (``media_type``).
- **Description.** ``media_digest`` (SHA-256 of the bytes, streamed) and ``describe_media`` (size,
  dimensions read from the image headers, digest, format), for the approval hash and ``planner review``;
  ``image_shape`` (width, height and, when a platform counts them, an animation's frames, read with Pillow).

Nothing here prints; problems are (code, params) pairs rendered from the ``problem.*`` catalogue.
"""

from __future__ import annotations

import hashlib
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

# Every code check_media gives (messages: problem.CODE.what/fix in planner/i18n/*/media.toml and core.toml).
PROBLEM_CODES = ("media_outside", "media_protected", "media_missing", "media_not_regular", "media_unreadable",
                 "media_content_mismatch", "media_content_other", "media_content_unknown")

HEAD_BYTES = 64
CHUNK = 1024 * 1024

# Formats the sniffer names; the first group are media, the others only make messages clearer.
FORMAT_NAMES = {
    "jpeg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WebP", "bmp": "BMP", "mp4": "MP4",
    "mov": "MOV (QuickTime)", "webm": "WebM", "heif": "HEIC/AVIF", "audio": "M4A",
    "pdf": "PDF", "zip": "ZIP/DOCX/XLSX", "sqlite": "SQLite",
}
MEDIA_FORMATS = ("jpeg", "png", "gif", "webp", "bmp", "mp4", "mov", "webm")

# The formats a file with this extension may hold. MP4 and QuickTime share one container (ISO base media
# file format) and players read both, so .mp4 and .mov accept either.
EXTENSION_FORMATS: dict[str, tuple[str, ...]] = {
    "jpg": ("jpeg",), "jpeg": ("jpeg",), "png": ("png",), "gif": ("gif",), "webp": ("webp",),
    "bmp": ("bmp",), "mp4": ("mp4", "mov"), "m4v": ("mp4", "mov"), "mov": ("mov", "mp4"), "webm": ("webm",),
}
# The extension to suggest for content of a given format.
FORMAT_EXTENSIONS = {"jpeg": "jpg", "png": "png", "gif": "gif", "webp": "webp", "bmp": "bmp", "mp4": "mp4",
                     "mov": "mov", "webm": "webm"}

_QUICKTIME_ATOMS = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1", b"avif", b"avis")
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ", b"F4B ")
_SQLITE = b"SQLite format 3\x00"


# --- sniffing -------------------------------------------------------------------------------------------

def sniff(head: bytes) -> str | None:
    """The format of a file from its first bytes (``HEAD_BYTES`` is enough), or None when unknown."""
    if head.startswith(b"\xff\xd8"):  # SOI; the next marker (FF xx) follows
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM" and len(head) >= 26 and head[6:10] == b"\0\0\0\0" \
            and struct.unpack_from("<I", head, 14)[0] in (12, 40, 52, 56, 64, 108, 124):
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS:
            return "heif"
        if brand in _AUDIO_BRANDS:
            return "audio"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in _QUICKTIME_ATOMS:
        return "mov"
    if head[:4] == b"\x1a\x45\xdf\xa3":  # EBML: WebM (and Matroska)
        return "webm"
    if head.startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    if head.startswith(_SQLITE):
        return "sqlite"
    if _looks_like_text(head):
        return "text"
    return None


def _looks_like_text(head: bytes) -> bool:
    if not head:
        return False
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the end of the sample
            return False
        decoded = head[:exc.start].decode("utf-8")
    return all(c.isprintable() or c in "\r\n\t" for c in decoded)


def format_name(fmt: str | None) -> str:
    """A format's usual name ("JPEG", "MP4"), the same in every language."""
    return FORMAT_NAMES.get(fmt or "", fmt or "?")


def extension_of(name: str | Path) -> str:
    suffix = Path(str(name)).suffix
    return suffix[1:].lower() if suffix else ""


# --- digest and description ---------------------------------------------------------------------------

def media_digest(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of the file's bytes, read in 1 MiB chunks. Raises OSError when it cannot be read."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def describe_media(path: str | os.PathLike) -> dict:
    """``{"file", "size", "width", "height", "sha256", "kind"}`` of one media file.

    ``file`` is the file's name (no folder), ``size`` its bytes, ``width``/``height`` pixels read from the
    PNG, JPEG, GIF, WebP or BMP header (or an MP4/MOV's first visual track), None when not found;
    ``kind`` is the sniffed format ("jpeg", "png", "gif", "webp", "bmp", "mp4", "mov", "webm", ...) or
    None. One pass over the bytes. Raises OSError when the file cannot be read.
    """
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        head = handle.read(HEAD_BYTES)
        kind = sniff(head)
        try:
            dimensions = _dimensions(handle, head, kind, size)
        except (OSError, struct.error, ValueError):
            dimensions = None
        handle.seek(0)
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    width, height = dimensions or (None, None)
    return {"file": path.name, "size": size, "width": width, "height": height, "sha256": digest.hexdigest(),
            "kind": kind}


def _dimensions(handle: BinaryIO, head: bytes, kind: str | None, size: int) -> tuple[int, int] | None:
    if kind == "png" and head[12:16] == b"IHDR" and len(head) >= 24:
        return struct.unpack_from(">II", head, 16)
    if kind == "gif" and len(head) >= 10:
        return struct.unpack_from("<HH", head, 6)
    if kind == "webp":
        return _webp_size(head)
    if kind == "bmp":
        if struct.unpack_from("<I", head, 14)[0] == 12:
            return struct.unpack_from("<HH", head, 18)
        width, height = struct.unpack_from("<ii", head, 18)
        return abs(width), abs(height)
    if kind == "jpeg":
        return _jpeg_size(handle)
    if kind in ("mp4", "mov"):
        return _track_size(handle, size)
    return None


def _webp_size(head: bytes) -> tuple[int, int] | None:
    chunk = head[12:16]
    if chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack_from("<HH", head, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = struct.unpack_from("<I", head, 21)[0]
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(head) >= 30:
        return (int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1)
    return None


# Start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are not frames.
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(handle: BinaryIO) -> tuple[int, int] | None:
    """Walk the marker segments up to the first start-of-frame: (width, height)."""
    handle.seek(2)
    for _ in range(10_000):
        byte = handle.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            return None  # not at a marker: a broken file
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes
            marker = handle.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD8:  # no length
            continue
        if code in (0xD9, 0xDA):  # end of image, start of scan: no frame header before them
            return None
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if length < 2:
            return None
        if code in _SOF:
            frame = handle.read(5)
            if len(frame) < 5:
                return None
            height, width = struct.unpack_from(">HH", frame, 1)
            return width, height
        handle.seek(length - 2, os.SEEK_CUR)
    return None


def _boxes(handle: BinaryIO, start: int, end: int):
    """(type, payload start, payload end) of the ISO-BMFF boxes between ``start`` and ``end``."""
    position = start
    for _ in range(10_000):
        if position + 8 > end:
            return
        handle.seek(position)
        header = handle.read(8)
        if len(header) < 8:
            return
        box_size, box_type = struct.unpack(">I4s", header)
        payload = position + 8
        if box_size == 1:
            large = handle.read(8)
            if len(large) < 8:
                return
            box_size = struct.unpack(">Q", large)[0]
            payload += 8
        elif box_size == 0:
            box_size = end - position
        if box_size < payload - position or position + box_size > end:
            return
        yield box_type, payload, position + box_size
        position += box_size


def _track_size(handle: BinaryIO, size: int) -> tuple[int, int] | None:
    """The first track with a picture: width and height from its 'tkhd' (16.16 fixed point, last 8 bytes)."""
    for box_type, start, end in _boxes(handle, 0, size):
        if box_type != b"moov":
            continue
        for trak_type, trak_start, trak_end in list(_boxes(handle, start, end)):
            if trak_type != b"trak":
                continue
            for inner_type, inner_start, inner_end in list(_boxes(handle, trak_start, trak_end)):
                if inner_type == b"tkhd" and inner_end - inner_start >= 84:
                    handle.seek(inner_end - 8)
                    width, height = struct.unpack(">II", handle.read(8))
                    if width >> 16 and height >> 16:
                        return width >> 16, height >> 16
        return None
    return None


def _movie_duration(handle: BinaryIO, size: int) -> float | None:
    """Seconds from the movie header ('moov' > 'mvhd'): duration / timescale, version 0 or 1 (ISO 14496-12)."""
    for box_type, start, end in _boxes(handle, 0, size):
        if box_type != b"moov":
            continue
        for inner_type, inner_start, inner_end in list(_boxes(handle, start, end)):
            if inner_type != b"mvhd":
                continue
            handle.seek(inner_start)
            header = handle.read(min(32, inner_end - inner_start))
            if len(header) < 4:
                return None
            if header[0] == 1:  # version 1: 64-bit creation and modification times and duration
                if len(header) < 32:
                    return None
                timescale, duration = struct.unpack_from(">IQ", header, 20)
            else:
                if len(header) < 20:
                    return None
                timescale, duration = struct.unpack_from(">II", header, 12)
            if not timescale or duration in (0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF):  # all ones: unknown
                return None
            return duration / timescale
        return None
    return None


def image_shape(path: str | os.PathLike, *, frames: bool = False) -> tuple[int | None, int | None, int | None]:
    """(width, height, frames) of an image: width and height from its header (``describe_media``); with
    ``frames``, all three read with Pillow (an animated GIF's ``n_frames``; 1 for a still image), the header's
    size kept when Pillow cannot read the file. None where unknown. Raises OSError when unreadable."""
    described = describe_media(path)
    if frames:
        import warnings

        from PIL import Image

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    return image.width, image.height, int(getattr(image, "n_frames", 1))
        except Exception:  # not an image Pillow reads, damaged frames, a decompression bomb: no frame count
            pass
    return described["width"], described["height"], None


def video_duration(path: str | os.PathLike) -> float | None:
    """Length in seconds of an MP4/MOV file (its movie header), or None when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            return _movie_duration(handle, os.fstat(handle.fileno()).st_size)
    except (OSError, struct.error, ValueError):
        return None


def media_info(path: str | os.PathLike):
    """The ``text_rules.MediaInfo`` of a file on disk (size, sniffed format, a video's length): what an
    adapter checks against the platform's rules just before uploading. Raises OSError when unreadable."""
    from planner.domain.text_rules import MediaInfo

    path = Path(path)
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        kind = sniff(handle.read(HEAD_BYTES))
    duration = video_duration(path) if kind in ("mp4", "mov") else None
    return MediaInfo(name=path.name, size_bytes=size, format=kind, duration=duration)


# --- confinement and checking -------------------------------------------------------------------------

@dataclass(frozen=True)
class MediaCheck:
    """The outcome of checking one media path: ``code`` is None when it is fine (then path, size, kind are
    set); otherwise a ``problem.*`` code with its message parameters."""

    name: str
    path: Path | None = None
    size: int | None = None
    kind: str | None = None
    duration: float | None = None  # seconds, for MP4/MOV whose movie header could be read
    code: str | None = None
    params: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.code is None


def media_roots(campaign_file: Path, config=None) -> tuple[Path, ...]:
    """The folders media may live in (real paths): the campaign file's folder tree and the workspace's."""
    roots = [Path(os.path.realpath(Path(campaign_file).parent))]
    if config is not None:
        roots.append(Path(os.path.realpath(config.base_dir)))
    # A folder inside another adds nothing (campaigns/ is usually inside the workspace).
    return tuple(root for root in dict.fromkeys(roots)
                 if not any(other != root and _inside(root, other) for other in roots))


def protected_files(config) -> tuple[set[Path], tuple[Path, ...]]:
    """(files, folders) that are never media: config.toml, the database and its side files, the backups."""
    if config is None:
        return set(), ()
    files = {Path(os.path.realpath(config.path))}
    database = Path(os.path.realpath(config.database))
    files |= {database, *(database.with_name(database.name + suffix) for suffix in ("-wal", "-shm", "-journal"))}
    return files, (Path(os.path.realpath(config.backup_dir)),)


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)


def check_media(name: str, campaign_file: Path, config=None) -> MediaCheck:
    """Check one media path as written in ``campaign_file``: confined, a regular file, content as named."""
    if "\0" in name:  # no file can have this name (and the control character is reported on its own)
        return MediaCheck(name, code="media_missing", params={"file": name})
    real = Path(os.path.realpath(Path(campaign_file).parent / name))
    roots = media_roots(campaign_file, config)
    allowed = ", ".join(str(root) for root in roots)
    if not any(_inside(real, root) for root in roots):
        return MediaCheck(name, code="media_outside", params={"file": name, "resolved": str(real),
                                                               "allowed": allowed})
    files, folders = protected_files(config)
    if real in files or any(_inside(real, folder) for folder in folders):
        return MediaCheck(name, code="media_protected", params={"file": name, "resolved": str(real)})
    try:
        before = os.stat(real)
    except FileNotFoundError:
        return MediaCheck(name, code="media_missing", params={"file": name})
    except OSError as exc:
        return MediaCheck(name, code="media_unreadable", params={"file": name, "error": _error_text(exc)})
    if not stat.S_ISREG(before.st_mode):
        return MediaCheck(name, code="media_not_regular", params={"file": name, "allowed": allowed})
    try:
        # O_NONBLOCK: were the file swapped for a FIFO since stat(), opening it must not hang.
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return MediaCheck(name, code="media_unreadable", params={"file": name, "error": _error_text(exc)})
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return MediaCheck(name, code="media_not_regular", params={"file": name, "allowed": allowed})
        head = os.read(fd, HEAD_BYTES)
    except OSError as exc:
        return MediaCheck(name, code="media_unreadable", params={"file": name, "error": _error_text(exc)})
    finally:
        os.close(fd)
    kind = sniff(head)
    extension = extension_of(name)
    expected = EXTENSION_FORMATS.get(extension)
    if expected is not None and kind not in expected:
        params = {"file": name, "extension": extension, "claimed": format_name(expected[0])}
        # The size is kept, so that the size limits are still checked.
        if kind in FORMAT_EXTENSIONS:  # another media format: renaming fixes it
            return MediaCheck(name, size=info.st_size, kind=kind, code="media_content_mismatch",
                              params={**params, "actual": format_name(kind), "suggested": FORMAT_EXTENSIONS[kind]})
        if kind in FORMAT_NAMES:  # a known format no platform takes (HEIC, PDF, a database...)
            return MediaCheck(name, size=info.st_size, kind=kind, code="media_content_other",
                              params={**params, "actual": format_name(kind)})
        # Text or unrecognised bytes.
        return MediaCheck(name, size=info.st_size, kind=kind, code="media_content_unknown", params=params)
    duration = video_duration(real) if kind in ("mp4", "mov") else None
    return MediaCheck(name, path=real, size=info.st_size, kind=kind, duration=duration)


def _error_text(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__
