"""Describe blobs found where they should not be: thumbnails, secondary images, trailers."""

from __future__ import annotations

import struct

from safeshare.binary import Buffer

_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} bytes"
    for unit in ("KB", "MB", "GB"):
        n_units = n / 1000 ** (("KB", "MB", "GB").index(unit) + 1)
        if n_units < 1000 or unit == "GB":
            return f"{n_units:.1f} {unit}"
    return f"{n} bytes"  # pragma: no cover - loop always returns


def jpeg_dimensions(data: bytes | memoryview) -> tuple[int, int] | None:
    """Width and height from the first SOF marker of a JPEG stream, without decoding."""
    view = memoryview(data)
    if bytes(view[:2]) != b"\xff\xd8":
        return None
    pos = 2
    while pos + 4 <= len(view):
        if view[pos] != 0xFF:
            return None
        marker = view[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        length = struct.unpack_from(">H", view, pos + 2)[0]
        if marker in _SOF_MARKERS and pos + 9 <= len(view):
            height, width = struct.unpack_from(">HH", view, pos + 5)
            return width, height
        if marker == 0xDA:
            return None
        pos += 2 + length
    return None


def png_dimensions(data: bytes | memoryview) -> tuple[int, int] | None:
    view = memoryview(data)
    if bytes(view[:8]) != b"\x89PNG\r\n\x1a\n" or len(view) < 24:
        return None
    width, height = struct.unpack_from(">II", view, 16)
    return width, height


def describe_image_blob(data: bytes | memoryview) -> str:
    """'JPEG 160x120, 5.2 KB' or '12.0 KB of data' when the blob is not a known image."""
    for name, probe in (("JPEG", jpeg_dimensions), ("PNG", png_dimensions)):
        size = probe(data)
        if size:
            return f"{name} {size[0]}x{size[1]}, {human_size(len(data))}"
    return human_size(len(data))


def _count(buf: Buffer, needle: bytes, start: int, limit: int = 64) -> int:
    found, pos = 0, buf.find(needle, start)
    while pos != -1 and found < limit:
        found += 1
        pos = buf.find(needle, pos + 1)
    return found


def _is_padding(buf: Buffer, start: int) -> bool:
    chunk = 1 << 20
    for pos in range(start, len(buf), chunk):
        if bytes(buf[pos : pos + chunk]).strip(b"\0").strip(b"\xff"):
            return False
    return True


def classify_trailer(buf: Buffer, start: int) -> tuple[str, str]:
    """What the bytes from `start` to the end are: ('video'|'image'|'padding'|'data', words)."""
    head = bytes(buf[start : start + 64])
    size = human_size(len(buf) - start)
    has_video = buf.find(b"ftyp", start) != -1
    if head[4:8] == b"ftyp":
        return "video", f"{size} motion-photo video (MP4)"
    if head.startswith(b"\xff\xd8"):
        images = max(1, _count(buf, b"\xff\xd8\xff", start))
        if has_video:
            return "video", f"{size} of hidden images and a motion-photo video"
        noun = "image" if images == 1 else "images"
        return "image", f"{images} hidden {noun} ({size})"
    if has_video:
        return "video", f"{size} with an embedded video (MP4)"
    if bytes(buf[-4:]) == b"SEFT":
        return "data", f"{size} Samsung trailer (SEFT)"
    if _is_padding(buf, start):
        return "padding", f"{size} of padding"
    return "data", f"{size} of unknown data"
