"""GIF: keep the screen, colour tables, frames and loop count; drop every other extension.

Kept: header, logical screen descriptor, global colour table, graphic control extensions,
image descriptors with their local colour tables and LZW data (byte for byte), and the
NETSCAPE/ANIMEXTS loop count rebuilt canonically. Comments, XMP and every other
application or plain-text extension are dropped. Nothing after the trailer survives.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, u8, view
from safeshare.errors import CorruptImage, TooLarge, Truncated
from safeshare.findings import Findings, Kind
from safeshare.formats.base import (
    Cleaned,
    CleanOptions,
    ImageFormat,
    Inspection,
    require_full_decode,
)
from safeshare.metadata import exif, xmp
from safeshare.metadata.embedded import classify_trailer, human_size
from safeshare.metadata.values import decode_text

LOOP_APPS = (b"NETSCAPE2.0", b"ANIMEXTS1.0")
_BLOCK_START = re.compile(rb"[\x21\x2c\x3b]")  # extension, image descriptor, trailer


@dataclass
class Layout:
    parts: list[Part] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    terminated: bool = False
    frames: int = 0
    largest_frame: int = 0  # pixels of the canvas the frames reach (not just the screen)


class Gif(ImageFormat):
    name = "GIF"
    canonical_suffix = ".gif"
    pillow_name = "GIF"
    allowed_info = frozenset({"version", "background", "transparency", "duration", "loop", "extension"})

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(parse(data).findings)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        if layout.largest_frame > options.max_pixels:
            raise TooLarge(
                f"a frame of {layout.largest_frame} pixels is over the limit of {options.max_pixels}"
            )
        if not layout.terminated:
            require_full_decode(data, options, "truncated: the GIF ends before its trailer")
        return Cleaned([*layout.parts, b";"], self.name, layout.findings)


def parse(data: Buffer) -> Layout:
    if len(data) < 13 or bytes(data[:6]) not in (b"GIF87a", b"GIF89a"):
        raise CorruptImage("not a GIF file (bad header)")
    layout = Layout()
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    layout.parts.append(view(data, 0, pos))
    while pos < len(data):
        block = data[pos]
        if block == 0x3B:
            layout.terminated = True
            _trailer(data, pos + 1, layout)
            break
        if block == 0x2C:
            pos = _image(data, pos, layout)
        elif block == 0x21:
            pos = _extension(data, pos, layout)
        else:
            pos = _skip_stray_bytes(data, pos, layout)
    if layout.frames == 0:
        raise Truncated("truncated: the GIF holds no complete image")
    return layout


def _skip_stray_bytes(data: Buffer, pos: int, layout: Layout) -> int:
    """Bytes where a block should start: dropped up to the next block, as Pillow reads it."""
    start = pos
    match = _BLOCK_START.search(data, pos)  # not byte by byte: 30 MB of junk took 10 s
    pos = len(data) if match is None else match.start()
    layout.findings.add(Kind.OTHER, "stray bytes between blocks", human_size(pos - start), "GIF")
    return pos


def _skip_sub_blocks(data: Buffer, pos: int) -> int:
    """Position after a chain of data sub-blocks and its zero terminator."""
    while True:
        size = u8(data, pos, "GIF data sub-block")
        if size == 0:
            return pos + 1
        pos += 1 + size
        if pos > len(data):
            raise Truncated("truncated: a GIF data block runs past the end of the file")


def _image(data: Buffer, pos: int, layout: Layout) -> int:
    if pos + 10 > len(data):
        raise Truncated("truncated: a GIF image descriptor is cut off")
    flags = data[pos + 9]
    data_start = pos + 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    u8(data, data_start, "GIF LZW code size")
    end = _skip_sub_blocks(data, data_start + 1)
    layout.parts.append(view(data, pos, end))
    layout.frames += 1
    left, top, width, height = struct.unpack_from("<HHHH", data, pos + 1)
    # Decoders grow the canvas to hold a frame placed far out: that area is what costs memory.
    layout.largest_frame = max(layout.largest_frame, (left + width) * (top + height))
    return end


def _extension(data: Buffer, pos: int, layout: Layout) -> int:
    label = u8(data, pos + 1, "GIF extension label")
    end = _skip_sub_blocks(data, pos + 2)
    body = view(data, pos + 2, end)
    if label == 0xF9:
        if len(body) < 6 or body[0] != 4:
            raise CorruptImage("corrupt GIF graphic control extension")
        layout.parts.append(b"\x21\xf9\x04" + bytes(body[1:5]) + b"\0")
    elif label == 0xFF:
        _application(bytes(body), layout)
    elif label == 0xFE:
        text = decode_text(_joined_sub_blocks(bytes(body))).strip("\0 ")
        if text:
            layout.findings.add(Kind.TEXT, "comment", text, "GIF comment")
    elif label == 0x01:
        layout.findings.add(Kind.TEXT, "plain-text extension", "", "GIF")
    else:
        layout.findings.add(Kind.OTHER, f"extension 0x{label:02X}", "", "GIF")
    return end


def _application(body: bytes, layout: Layout) -> None:
    ident = body[1:12] if body[:1] == b"\x0b" else b""
    rest = body[12:]
    if ident in LOOP_APPS:
        loop = _loop_count(rest)
        if loop is not None:
            layout.parts.append(b"\x21\xff\x0b" + ident + b"\x03\x01" + struct.pack("<H", loop) + b"\0")
        return
    if ident == b"XMP DataXMP":
        # XMP is stored raw (its bytes double as sub-block sizes), so read the raw span.
        layout.findings.extend(xmp.read_xmp(rest, "GIF XMP").findings)
    elif ident[:8] in (b"MGK8BIM0", b"MGKIPTC0"):
        layout.findings.extend(exif.read_photoshop(_joined_sub_blocks(rest), "GIF"))
    elif ident[:8] == b"ICCRGBG1":
        layout.findings.add(Kind.OTHER, "ICC profile extension", human_size(len(rest)), "GIF")
    else:
        name = ident.decode("latin-1").encode("ascii", "backslashreplace").decode()
        layout.findings.add(Kind.OTHER, f"application extension '{name}'", "", "GIF")


def _loop_count(sub_blocks: bytes) -> int | None:
    """The loop count from the sub-block with id 1, if there is one."""
    pos = 0
    while pos < len(sub_blocks) and sub_blocks[pos]:
        size = sub_blocks[pos]
        block = sub_blocks[pos + 1 : pos + 1 + size]
        if len(block) >= 3 and block[0] == 1:
            count: int = struct.unpack_from("<H", block, 1)[0]
            return count
        pos += 1 + size
    return None


def _joined_sub_blocks(chain: bytes) -> bytes:
    out, pos = bytearray(), 0
    while pos < len(chain) and chain[pos]:
        out += chain[pos + 1 : pos + 1 + chain[pos]]
        pos += 1 + chain[pos]
    return bytes(out)


def _trailer(data: Buffer, start: int, layout: Layout) -> None:
    if start < len(data):
        what, words = classify_trailer(data, start)
        kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what, Kind.TRAILER)
        layout.findings.add(kind, "data after the end of the image", words, "GIF")
