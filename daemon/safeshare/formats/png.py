"""PNG and APNG: copy the image and colour chunks byte for byte, drop every other chunk.

Kept: IHDR, PLTE, tRNS, IDAT, IEND, cHRM, gAMA, iCCP (its free-text name reset, its
profile reduced to colour; a chunk that is so already is kept as it is), sRGB, sBIT,
cICP, mDCV, cLLI, pHYs, and acTL/fcTL/fdAT for animation; a fresh eXIf holding only
Orientation when the picture needs one. Nothing after IEND survives. Each kept chunk is
checked to hold only what its type does (png_chunks: length, once only, image data cut at
the end of its zlib stream).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, u32be, view
from safeshare.errors import CorruptImage, TooLarge, Truncated
from safeshare.findings import Findings, Kind
from safeshare.formats.base import (
    Cleaned,
    CleanOptions,
    ImageFormat,
    Inspection,
    require_full_decode,
)
from safeshare.formats.png_chunks import ChunkState, admit
from safeshare.formats.png_text import read_text_chunk
from safeshare.metadata import exif
from safeshare.metadata.embedded import classify_trailer, human_size
from safeshare.metadata.icc import sanitize_icc
from safeshare.metadata.inflate import InflateBudget

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEEP = {
    b"IHDR",
    b"PLTE",
    b"tRNS",
    b"IDAT",
    b"cHRM",
    b"gAMA",
    b"sRGB",
    b"sBIT",
    b"cICP",
    b"mDCV",
    b"cLLI",
    b"pHYs",
    b"acTL",
    b"fcTL",
    b"fdAT",
}
TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
ICC_NAME = b"ICC profile"
ICC_NOT_READ = "colour profile (not read: over the size budget)"


@dataclass
class Layout:
    keep: list[Part] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    exif_blob: bytes | None = None  # eXIf wins over the ImageMagick text profile, as in Pillow
    text_exif_blob: bytes | None = None
    xmp_orientation: int | None = None
    terminated: bool = False
    budget: InflateBudget = field(default_factory=InflateBudget)  # all inflation of this file
    icc_over_budget: bool = False
    chunks: ChunkState = field(default_factory=ChunkState)  # what the kept chunks allow

    @property
    def orientation(self) -> int:
        blob = self.exif_blob if self.exif_blob is not None else self.text_exif_blob
        exif_orientation = exif.read_exif(blob).orientation if blob is not None else None
        return exif_orientation or self.xmp_orientation or 1


def chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def orientation_chunk(orientation: int) -> bytes:
    return chunk(b"eXIf", exif.orientation_exif(orientation))


class Png(ImageFormat):
    name = "PNG"
    canonical_suffix = ".png"
    pillow_name = "PNG"
    in_process = True
    allowed_info = frozenset(
        {
            "dpi",
            "aspect",
            "gamma",
            "chromaticity",
            "srgb",
            "icc_profile",
            "transparency",
            "exif",
            "cicp",
            "interlace",
            "loop",
            "duration",
            "disposal",
            "blend",
            "default_image",
            "bbox",
        }
    )

    def inspect(self, data: Buffer) -> Inspection:
        layout = parse(data)
        return Inspection(layout.findings, layout.orientation)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        if layout.icc_over_budget:
            # Refused rather than cleaned without the profile: the colours of the copy
            # would change (the profile is kept to avoid exactly that), and a profile
            # this large, or behind this much compressed text, only comes from a hostile
            # file. `inspect` reports it as a finding instead.
            raise TooLarge(
                f"the colour profile cannot be read within the {layout.budget.limit >> 20} MB "
                "budget for compressed metadata"
            )
        if not any(bytes(part[4:8]) == b"IDAT" for part in layout.keep):
            raise CorruptImage("corrupt: no image data (IDAT chunk)")
        if not layout.terminated:
            require_full_decode(data, options, "truncated: the image data ends before its IEND chunk")
        orientation = layout.orientation
        parts: list[Part] = [SIGNATURE, layout.keep[0]]  # IHDR first; eXIf before IDAT
        if orientation != 1:
            parts.append(orientation_chunk(orientation))
        parts.extend(layout.keep[1:])
        parts.append(chunk(b"IEND", b""))
        return Cleaned(parts, self.name, layout.findings, orientation)


def parse(data: Buffer) -> Layout:
    if len(data) < 8 or data[:8] != SIGNATURE:
        raise CorruptImage("not a PNG stream (bad signature)")
    layout = Layout()
    pos = 8
    while pos < len(data):
        if pos + 8 > len(data):
            raise Truncated("truncated: a PNG chunk header is cut off")
        length = u32be(data, pos, "PNG chunk length")
        kind = bytes(data[pos + 4 : pos + 8])
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data):
            raise Truncated(f"truncated: the {_name(kind)} chunk runs past the end of the file")
        if pos == 8 and kind != b"IHDR":
            raise CorruptImage("corrupt: the first PNG chunk is not IHDR")
        if kind == b"IEND":
            layout.terminated = True
            if end < len(data):
                what, words = classify_trailer(data, end)
                found_kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what)
                layout.findings.add(found_kind or Kind.TRAILER, "data after IEND", words, "PNG")
            break
        _chunk(kind, data, pos, end, layout)
        pos = end
    return layout


def _chunk(kind: bytes, data: Buffer, pos: int, end: int, layout: Layout) -> None:
    body_view = view(data, pos + 8, end - 4)
    if kind in KEEP or kind == b"iCCP":
        part = admit(kind, data, pos, end, layout.chunks, layout.findings)
        if part is not None and kind == b"iCCP":
            part = _clean_iccp(bytes(body_view), layout)
        if part is not None:
            layout.keep.append(part)
    elif kind == b"eXIf":
        blob = bytes(body_view)
        layout.findings.extend(exif.read_exif(blob, "PNG eXIf").findings)
        if layout.exif_blob is None:
            layout.exif_blob = blob
    elif kind in TEXT_CHUNKS:
        text = read_text_chunk(kind, bytes(body_view), layout.findings, layout.budget)
        if text.exif_blob is not None and layout.text_exif_blob is None:
            layout.text_exif_blob = text.exif_blob
        if text.xmp_orientation is not None and layout.xmp_orientation is None:
            layout.xmp_orientation = text.xmp_orientation
    elif kind == b"tIME":
        layout.findings.add(Kind.TIMESTAMP, "modified", _time_value(bytes(body_view)), "PNG tIME")
    elif kind == b"caBX":
        layout.findings.add(Kind.PROVENANCE, "content credentials (C2PA)", "", "PNG caBX")
    else:
        private = "private " if kind[:1].islower() or kind[1:2].islower() else ""
        layout.findings.add(Kind.OTHER, f"{private}chunk {_name(kind)}", "", "PNG")


def _clean_iccp(body: bytes, layout: Layout) -> bytes | None:
    """iCCP rebuilt: a neutral name (tools put user or device names there) and the profile
    reduced to its colour tags; None when it holds no valid profile, or when it does not
    inflate within what is left of the file's budget (then `icc_over_budget` is set)."""
    found = layout.findings
    name, sep, rest = body.partition(b"\0")
    if name.lower() != ICC_NAME.lower():
        found.add(Kind.OTHER, "ICC profile name", name.decode("latin-1"), "PNG iCCP")
    zlib_stream = bool(sep) and rest[:1] == b"\0"
    if zlib_stream and layout.budget.spent:
        layout.icc_over_budget = True
        found.add(Kind.OTHER, ICC_NOT_READ, human_size(len(rest)), "PNG iCCP")
        return None
    inflated = layout.budget.inflate(rest[1:], layout.budget.limit) if zlib_stream else None
    if inflated is not None and not inflated.complete and layout.budget.spent:
        layout.icc_over_budget = True  # cut at the budget: it is larger than what is left
        found.add(Kind.OTHER, ICC_NOT_READ, human_size(len(rest)), "PNG iCCP")
        return None
    if inflated is None or not inflated.complete:
        found.add(Kind.OTHER, "invalid colour profile (removed)", f"{len(rest)} bytes", "PNG iCCP")
        return None
    result = sanitize_icc(inflated.data, "PNG iCCP")
    found.extend(result.findings)
    if result.profile is None:
        return None
    if result.profile == inflated.data and name.lower() == ICC_NAME.lower() and _only_zlib(rest[1:]):
        # Already clean (a copy we or Pillow wrote): kept as it is, so that cleaning a clean
        # copy gives the same bytes; compressing it again could give others.
        return chunk(b"iCCP", body)
    return chunk(b"iCCP", ICC_NAME + b"\0\0" + zlib.compress(result.profile, 9))


def _only_zlib(stream: bytes) -> bool:
    """True when `stream` is one complete zlib stream with no bytes after its end."""
    inflater = zlib.decompressobj()
    try:
        while stream and not inflater.eof:
            inflater.decompress(stream, 1 << 20)  # output is dropped: only the end matters
            stream = inflater.unconsumed_tail
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data


def _time_value(body: bytes) -> str:
    if len(body) != 7:
        return ""
    year, month, day, hour, minute, second = struct.unpack(">HBBBBB", body)
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


def _name(kind: bytes) -> str:
    return "'" + kind.decode("latin-1").encode("ascii", "backslashreplace").decode() + "'"
