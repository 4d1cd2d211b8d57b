"""What the sandbox's emulators read from uploaded video, GIF and JPEG bytes, as the platforms do on their side.

The sandbox's own reader, written from ISO/IEC 14496-12 (the 'ftyp' box, 'moov' > 'mvhd' with its
timescale and duration), the GIF89a blocks and a JPEG's frame header (ITU T.81 SOFn): it does not use the
tool's planner.domain.media (nor Pillow, which validation reads GIFs with), so that a mistake there shows as a
disagreement here.
"""

from __future__ import annotations

import struct


def container(data: bytes) -> str | None:
    """"mp4", "mov" or "gif" from the first bytes, else None."""
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[4:8] == b"ftyp":
        return "mov" if data[8:12] == b"qt  " else "mp4"
    if data[4:8] in (b"moov", b"mdat", b"wide", b"free"):
        return "mov"
    return None


def mime_type(data: bytes) -> str | None:
    return {"gif": "image/gif", "mp4": "video/mp4", "mov": "video/quicktime"}.get(container(data) or "")


def seconds(data: bytes) -> float | None:
    """A movie's length from its 'mvhd' box (top-level 'moov' only), or None when there is none."""
    moov = _child(data, 0, len(data), b"moov")
    if moov is None:
        return None
    mvhd = _child(data, moov[0], moov[1], b"mvhd")
    if mvhd is None:
        return None
    body = data[mvhd[0]:mvhd[1]]
    try:
        if body[0] == 1:
            timescale, duration = struct.unpack(">IQ", body[20:32])
        else:
            timescale, duration = struct.unpack(">II", body[12:20])
    except (struct.error, IndexError):
        return None
    return duration / timescale if timescale else None


def _child(data: bytes, start: int, end: int, wanted: bytes) -> tuple[int, int] | None:
    position = start
    while position + 8 <= end:
        size, kind = struct.unpack(">I4s", data[position:position + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[position + 8:position + 16])[0], 16
        elif size == 0:
            size = end - position
        if size < header or position + size > end:
            return None
        if kind == wanted:
            return position + header, position + size
        position += size
    return None


def gif_shape(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, frames) of a GIF: the logical screen's size and the number of image descriptors, read
    by walking the blocks of the GIF89a specification (extensions and image data as sub-block chains); None
    when the bytes are not a GIF or end before the trailer is found."""
    if data[:6] not in (b"GIF87a", b"GIF89a") or len(data) < 13:
        return None
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    position = 13 + (3 * 2 ** ((packed & 7) + 1) if packed & 0x80 else 0)  # after the global colour table
    frames = 0
    try:
        while True:
            introducer = data[position]
            if introducer == 0x3B:  # trailer
                return width, height, frames
            if introducer == 0x21:  # extension: label, then sub-blocks
                position = _skip_sub_blocks(data, position + 2)
            elif introducer == 0x2C:  # image descriptor, local colour table, LZW minimum size, sub-blocks
                frames += 1
                local = data[position + 9]
                position += 10 + (3 * 2 ** ((local & 7) + 1) if local & 0x80 else 0)
                position = _skip_sub_blocks(data, position + 1)
            else:
                return None
    except IndexError:
        return None


def _skip_sub_blocks(data: bytes, position: int) -> int:
    while data[position]:
        position += data[position] + 1
    return position + 1


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a JPEG's first SOFn marker segment, None when the bytes hold none."""
    if data[:2] != b"\xff\xd8":
        return None
    position = 2
    while position + 4 <= len(data):
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte
            position += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            position += 2
            continue
        length = struct.unpack_from(">H", data, position + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if position + 9 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, position + 5)
            return width, height
        position += 2 + length
    return None
