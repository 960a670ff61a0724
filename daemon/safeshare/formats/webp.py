"""WebP: keep the bitstream chunks byte for byte, rebuild the container around them.

Kept: VP8 / VP8L / ALPH, ICCP, ANIM and ANMF frames (each frame rebuilt from its allowed
sub-chunks); VP8X flags and the RIFF size are recomputed. EXIF and XMP are dropped; a fresh
EXIF chunk holding only Orientation is written when the picture needs one. Nothing after
the RIFF end survives.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, total_length, u32le, view
from safeshare.errors import CorruptImage, Truncated
from safeshare.findings import Findings, Kind
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.metadata import exif, xmp
from safeshare.metadata.embedded import classify_trailer
from safeshare.metadata.icc import sanitize_icc

FLAG_ANIMATION, FLAG_XMP, FLAG_EXIF, FLAG_ALPHA, FLAG_ICC = 0x02, 0x04, 0x08, 0x10, 0x20
IMAGE_CHUNKS = {b"VP8 ", b"VP8L", b"ALPH"}


@dataclass
class Layout:
    vp8x: bytes | None = None
    icc: bytes | None = None
    anim: Part | None = None
    image: list[Part] = field(default_factory=list)  # ANMF frames or ALPH + VP8/VP8L
    findings: Findings = field(default_factory=Findings)
    exif_orientation: int | None = None
    xmp_orientation: int | None = None

    @property
    def orientation(self) -> int:
        return self.exif_orientation or self.xmp_orientation or 1


def riff_chunk(fourcc: bytes, body: bytes | list[Part]) -> list[Part]:
    parts: list[Part] = body if isinstance(body, list) else [body]
    size = total_length(parts)
    return [fourcc + struct.pack("<I", size), *parts, *([b"\0"] if size & 1 else [])]


class WebP(ImageFormat):
    name = "WebP"
    canonical_suffix = ".webp"
    pillow_name = "WEBP"
    allowed_info = frozenset({"icc_profile", "exif", "loop", "duration", "background", "timestamp"})

    def inspect(self, data: Buffer) -> Inspection:
        layout = parse(data)
        return Inspection(layout.findings, layout.orientation)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        orientation = layout.orientation
        chunks: list[Part] = []
        if layout.vp8x is not None:
            chunks += riff_chunk(b"VP8X", _vp8x(layout, orientation))
        if layout.icc is not None and layout.vp8x is not None:
            chunks.append(layout.icc)
        if layout.anim is not None:
            chunks.append(layout.anim)
        chunks += layout.image
        if orientation != 1 and layout.vp8x is not None:
            chunks += riff_chunk(b"EXIF", exif.orientation_exif(orientation))
        else:
            orientation = 1  # a simple-format WebP cannot carry EXIF, nor could the input
        parts: list[Part] = [b"RIFF", struct.pack("<I", 4 + total_length(chunks)), b"WEBP"]
        return Cleaned(parts + chunks, self.name, layout.findings, orientation)


def _vp8x(layout: Layout, orientation: int) -> bytes:
    assert layout.vp8x is not None
    flags = layout.vp8x[0] & FLAG_ALPHA
    flags |= FLAG_ANIMATION if layout.anim is not None else 0
    flags |= FLAG_ICC if layout.icc is not None else 0
    flags |= FLAG_EXIF if orientation != 1 else 0
    return bytes([flags]) + b"\0\0\0" + layout.vp8x[4:10]


def parse(data: Buffer) -> Layout:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise CorruptImage("not a WebP file (bad RIFF header)")
    riff_end = 8 + u32le(data, 4, "RIFF size")
    if riff_end > len(data):
        raise Truncated("truncated: the file is shorter than its RIFF header says")
    layout = Layout()
    for fourcc, start, end in _chunks(data, 12, riff_end):
        _chunk(fourcc, data, start, end, layout)
    if not layout.image:
        raise CorruptImage("no image data in the WebP file")
    if riff_end < len(data):
        what, words = classify_trailer(data, riff_end + (riff_end & 1))
        kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what, Kind.TRAILER)
        if what != "padding" or len(data) - riff_end > 1:
            layout.findings.add(kind, "data after the end of the image", words, "WebP")
    return layout


def _chunks(data: Buffer, pos: int, end: int) -> list[tuple[bytes, int, int]]:
    """(fourcc, start of chunk, end of chunk including padding) for each chunk in range."""
    found = []
    while pos + 8 <= end:
        fourcc = bytes(data[pos : pos + 4])
        size = u32le(data, pos + 4, "WebP chunk size")
        stop = pos + 8 + size
        if stop > end:
            raise Truncated(f"truncated: WebP chunk {fourcc!r} runs past the end")
        found.append((fourcc, pos, min(stop + (size & 1), end)))
        pos = stop + (size & 1)
    if pos < end:
        raise CorruptImage("corrupt: stray bytes at the end of the WebP container")
    return found


def _chunk(fourcc: bytes, data: Buffer, start: int, end: int, layout: Layout) -> None:
    body = view(data, start + 8, start + 8 + u32le(data, start + 4, "WebP chunk size"))
    whole = view(data, start, end)
    if fourcc == b"VP8X":
        if len(body) < 10:
            raise CorruptImage("corrupt VP8X chunk")
        layout.vp8x = bytes(body[:10])
        if len(body) > 10:
            layout.findings.add(Kind.OTHER, "extra bytes in VP8X", f"{len(body) - 10}", "WebP")
    elif fourcc in IMAGE_CHUNKS:
        layout.image.append(whole)
    elif fourcc == b"ICCP":
        result = sanitize_icc(bytes(body), "WebP ICCP")
        layout.findings.extend(result.findings)
        if result.profile is not None:
            layout.icc = b"".join(bytes(p) for p in riff_chunk(b"ICCP", result.profile))
    elif fourcc == b"ANIM":
        layout.anim = whole
    elif fourcc == b"ANMF":
        layout.image += _frame(data, start, end, layout.findings)
    elif fourcc == b"EXIF":
        report = exif.read_exif(bytes(body), "WebP EXIF")
        layout.findings.extend(report.findings)
        if layout.exif_orientation is None:
            layout.exif_orientation = report.orientation
    elif fourcc == b"XMP ":
        xmp_report = xmp.read_xmp(bytes(body), "WebP XMP")
        layout.findings.extend(xmp_report.findings)
        layout.xmp_orientation = layout.xmp_orientation or xmp_report.orientation
    else:
        name = fourcc.decode("latin-1").encode("ascii", "backslashreplace").decode()
        layout.findings.add(Kind.OTHER, f"chunk '{name}'", "", "WebP")


def _frame(data: Buffer, start: int, end: int, found: Findings) -> list[Part]:
    """An ANMF chunk rebuilt from its 16-byte header and its image sub-chunks only."""
    header_end = start + 8 + 16
    if header_end > end:
        raise CorruptImage("corrupt ANMF chunk")
    body: list[Part] = [view(data, start + 8, header_end)]
    for fourcc, sub_start, sub_end in _chunks(data, header_end, end):
        if fourcc in IMAGE_CHUNKS:
            body.append(view(data, sub_start, sub_end))
        else:
            found.add(Kind.OTHER, f"frame chunk {fourcc!r}", "", "WebP")
    if len(body) == 1:
        # A frame without image data: decoders stop at it, so it is dropped, not written empty.
        found.add(Kind.OTHER, "frame without image data", "", "WebP")
        return []
    return riff_chunk(b"ANMF", body)
