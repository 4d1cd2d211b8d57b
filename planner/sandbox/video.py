"""What the sandbox's emulators read from uploaded video and GIF bytes, as the platforms do on their side.

The sandbox's own reader, written from ISO/IEC 14496-12 (the 'ftyp' box, 'moov' > 'mvhd' with its
timescale and duration) and the GIF89a header: it does not use the tool's planner.domain.media, so that a
mistake there shows as a disagreement here.
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
