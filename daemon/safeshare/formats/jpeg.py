"""JPEG (and MPO): keep the codec segments byte for byte, rebuild JFIF/Adobe, drop the rest.

Kept: SOI, DQT, DHT, DAC, DRI, SOFn, DNL, SOS + entropy-coded data, EOI; APP0 JFIF without
its thumbnail; APP2 ICC_PROFILE chunks in order; APP14 Adobe; a fresh minimal APP1 Exif
holding only Orientation. Table segments are re-emitted at the length their content needs,
so nothing can hide in slack after the tables. Nothing after EOI survives.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, u16be, view
from safeshare.errors import CorruptImage, Truncated
from safeshare.findings import Findings, Kind
from safeshare.formats.base import (
    Cleaned,
    CleanOptions,
    ImageFormat,
    Inspection,
    require_full_decode,
)
from safeshare.formats.jpeg_app import classify_app, read_jfif
from safeshare.metadata.embedded import classify_trailer
from safeshare.metadata.exif import orientation_exif
from safeshare.metadata.icc import sanitize_icc

SOI, EOI, SOS, COM = 0xD8, 0xD9, 0xDA, 0xFE
DQT, DHT, DAC, DRI, DNL, DHP, EXP = 0xDB, 0xC4, 0xCC, 0xDD, 0xDC, 0xDE, 0xDF
SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
STRUCTURAL = SOF_MARKERS | {DQT, DHT, DAC, DRI, DNL, DHP, EXP}
# The next marker between segments: 0xFF not followed by 00 (stuffing), RSTn or FF (fill).
_NEXT_MARKER = re.compile(rb"\xff[\x01-\xcf\xd8-\xfe]")
# The end of entropy-coded data. Reserved markers (0x01-0xBF) inside a scan are corruption
# that libjpeg skips while resynchronising on restart markers, so they stay in the scan.
ICC_CHUNK = 65519  # the most an APP2 segment holds after its 16-byte header
MAX_ICC_CHUNKS = 255  # its chunk count is one byte: more chunks are no profile, only memory
_SCAN_END = re.compile(rb"\xff[\xc0-\xcf\xd8-\xfe]")


@dataclass
class Layout:
    """A parsed JPEG: the parts to keep, in order, and what the rest carried."""

    keep: list[Part] = field(default_factory=list)
    jfif: bytes | None = None
    icc_chunks: list[tuple[int, bytes]] = field(default_factory=list)  # (sequence number, data)
    icc_overflow: int = 0  # ICC chunks beyond MAX_ICC_CHUNKS, not collected
    icc: list[Part] = field(default_factory=list)  # the sanitized profile as APP2 segments
    adobe: bytes | None = None
    findings: Findings = field(default_factory=Findings)
    exif_orientation: int | None = None
    xmp_orientation: int | None = None
    seen_exif: bool = False
    seen_xmp: bool = False
    unterminated: bool = False  # the last scan runs to the end of the file (no EOI)
    has_frame: bool = False  # an SOFn was seen
    has_scan: bool = False  # an SOS was seen
    markers: set[int] = field(default_factory=set)  # structural markers seen

    @property
    def orientation(self) -> int:
        """EXIF first, then XMP tiff:Orientation, as Pillow's exif_transpose reads it."""
        return self.exif_orientation or self.xmp_orientation or 1


def orientation_segment(orientation: int) -> bytes:
    """APP1 with a minimal Exif block: IFD0 holding Orientation and nothing else."""
    body = b"Exif\0\0" + orientation_exif(orientation)
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


class Jpeg(ImageFormat):
    name = "JPEG"
    canonical_suffix = ".jpg"
    pillow_name = "JPEG"
    in_process = True
    allowed_info = frozenset(
        {
            "jfif",
            "jfif_version",
            "jfif_unit",
            "jfif_density",
            "dpi",
            "icc_profile",
            "adobe",
            "adobe_transform",
            "progressive",
            "progression",
            "exif",
        }
    )

    def inspect(self, data: Buffer) -> Inspection:
        layout = parse(data)
        return Inspection(layout.findings, layout.orientation)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        if not layout.has_frame or not layout.has_scan:
            raise CorruptImage("corrupt: no image data (frame header and scan) before the end marker")
        if layout.unterminated:
            # Without an end marker only a decode can tell a complete image from a truncated
            # one. Rare, so the lossless path stays decode-free for every other file.
            require_full_decode(data, options, "truncated: the image data ends before its end marker")
        parts: list[Part] = [b"\xff\xd8"]
        if layout.jfif is not None:
            parts.append(layout.jfif)
        if layout.orientation != 1:
            parts.append(orientation_segment(layout.orientation))
        parts.extend(layout.icc)
        if layout.adobe is not None:
            parts.append(layout.adobe)
        parts.extend(layout.keep)
        parts.append(b"\xff\xd9")
        # Only the primary image is kept (MPO secondaries are findings), so one frame.
        return Cleaned(parts, self.name, layout.findings, layout.orientation, frames=1)


def parse(data: Buffer) -> Layout:
    if len(data) < 4 or data[:2] != b"\xff\xd8":
        raise CorruptImage("not a JPEG stream (no start-of-image marker)")
    layout = Layout()
    pos = 2
    while True:
        pos = _next_marker_position(data, pos, layout)
        marker = data[pos + 1]
        if marker == EOI:
            _trailer(data, pos + 2, layout)
            return _with_icc(layout)
        if marker == SOI:
            raise CorruptImage("a second start-of-image marker inside the image")
        if marker < 0xC0:
            # A reserved marker is corrupt data: libjpeg stops reading the image here, so
            # everything from this point on is treated as bytes after the end.
            _trailer(data, pos, layout)
            return _with_icc(layout)
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2  # stray standalone marker outside a scan: carries nothing, dropped
            continue
        length = u16be(data, pos + 2, "JPEG segment length")
        if length < 2:
            raise CorruptImage(f"JPEG segment 0xFF{marker:02X} has an impossible length")
        end = pos + 2 + length
        segment = view(data, pos, end)
        if marker == SOS:
            if not layout.has_frame:
                raise CorruptImage("corrupt: image data before the frame header")
            layout.has_scan = True
            layout.keep.append(_canonical(segment, marker))
            scan_end = _scan_end(data, end)
            layout.keep.append(view(data, end, scan_end))
            if scan_end == len(data):
                layout.unterminated = True
                return _with_icc(layout)
            end = scan_end
        elif marker in STRUCTURAL:
            if marker in SOF_MARKERS and layout.has_frame and DHP not in layout.markers:
                raise CorruptImage("corrupt: a second frame header")  # only hierarchical JPEGs have several
            layout.has_frame = layout.has_frame or marker in SOF_MARKERS
            layout.markers.add(marker)
            layout.keep.append(_canonical(segment, marker))
        else:
            _metadata_segment(marker, bytes(segment[4:]), layout)
        pos = end


def _with_icc(layout: Layout) -> Layout:
    """Reassemble the ICC chunks in sequence order, keep only its colour tags, re-chunk it."""
    if layout.icc_overflow:
        total = len(layout.icc_chunks) + layout.icc_overflow
        layout.findings.add(Kind.OTHER, "invalid colour profile (removed)", f"{total} chunks", "ICC profile")
        layout.icc_chunks.clear()
    if not layout.icc_chunks:
        return layout
    first: list[tuple[int, bytes]] = []  # a sequence number seen again starts another profile
    seen: set[int] = set()
    for chunk in layout.icc_chunks:
        if chunk[0] not in seen:
            seen.add(chunk[0])
            first.append(chunk)
    if len(first) < len(layout.icc_chunks):
        extra = sum(len(data) for _, data in layout.icc_chunks) - sum(len(data) for _, data in first)
        layout.findings.add(Kind.OTHER, "second colour profile", f"{extra} bytes", "ICC profile")
    profile = b"".join(data for _, data in sorted(first, key=lambda c: c[0]))
    result = sanitize_icc(profile)
    layout.findings.extend(result.findings)
    if result.profile is not None:
        pieces = [result.profile[i : i + ICC_CHUNK] for i in range(0, len(result.profile), ICC_CHUNK)]
        for seq, piece in enumerate(pieces, 1):
            body = b"ICC_PROFILE\0" + bytes([seq, len(pieces)]) + piece
            layout.icc.append(b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body)
    return layout


def _next_marker_position(data: Buffer, pos: int, layout: Layout) -> int:
    """Skip fill bytes (0xFF 0xFF...) and stray junk up to the next marker."""
    if pos + 2 > len(data):
        raise Truncated("truncated: the image data ends before its end marker")
    if data[pos] == 0xFF and data[pos + 1] not in (0x00, 0xFF):
        return pos
    match = _NEXT_MARKER.search(data, pos)
    if match is None:
        raise Truncated("truncated: the image data ends before its end marker")
    skipped = match.start() - pos
    if any(b != 0xFF for b in bytes(data[pos : match.start()])):
        layout.findings.add(Kind.OTHER, "stray bytes between segments", f"{skipped}", "JPEG")
    found: int = match.start()
    return found


def _scan_end(data: Buffer, start: int) -> int:
    """End of the entropy-coded data after an SOS header; the file's end if no marker."""
    match = _SCAN_END.search(data, start)
    end: int = len(data) if match is None else match.start()
    return end


def _canonical(segment: memoryview, marker: int) -> Part:
    """The segment at exactly the length its tables need (slack could hide data)."""
    needed = _needed_length(segment, marker)
    declared = len(segment) - 2
    if needed > declared:
        raise CorruptImage(f"JPEG segment 0xFF{marker:02X} is shorter than its content")
    if needed == declared:
        return segment
    return b"\xff" + bytes([marker]) + struct.pack(">H", needed) + bytes(segment[4 : 2 + needed])


def _needed_length(seg: memoryview, marker: int) -> int:
    """Length (including the 2 length bytes) that the segment's content defines."""
    body = bytes(seg[4:])
    if marker == DQT:
        return 2 + _table_run(body, lambda p: 1 + (128 if body[p] >> 4 else 64), _valid_table_id)
    if marker == DHT:
        return 2 + _table_run(body, lambda p: 17 + sum(body[p + 1 : p + 17]), _valid_table_id)
    if marker in SOF_MARKERS:
        return 2 + 6 + 3 * (body[5] if len(body) > 5 else 0)
    if marker == SOS:
        return 2 + 1 + 2 * (body[0] if body else 0) + 3
    if marker in (DRI, DNL):
        return 4
    return 2 + len(body)  # DAC, DHP, EXP: copied as they are


def _valid_table_id(table_byte: int) -> bool:
    """DQT precision / DHT class is 0 or 1; the destination is 0..3."""
    return table_byte >> 4 <= 1 and table_byte & 0x0F <= 3


def _table_run(body: bytes, table_size: Callable[[int], int], valid: Callable[[int], bool]) -> int:
    """Bytes taken by the valid tables at the start of `body`; what follows is slack."""
    pos = 0
    while pos < len(body) and valid(body[pos]):
        pos += table_size(pos)
    if pos == 0:
        raise CorruptImage("JPEG table segment holds no valid table")
    return pos


def _metadata_segment(marker: int, body: bytes, layout: Layout) -> None:
    """APPn and COM: keep the colour parts, turn everything else into findings."""
    if marker == 0xE0 and body.startswith(b"JFIF\0"):
        if layout.jfif is None:
            layout.jfif = read_jfif(body, layout.findings)
        return
    if marker == 0xE2 and body.startswith(b"ICC_PROFILE\0") and len(body) > 14:
        if len(layout.icc_chunks) < MAX_ICC_CHUNKS:
            layout.icc_chunks.append((body[12], body[14:]))
        else:
            layout.icc_overflow += 1
        return
    if marker == 0xEE and body.startswith(b"Adobe") and len(body) >= 12:
        if layout.adobe is None:
            layout.adobe = b"\xff\xee\x00\x0e" + body[:12]
        return
    result = classify_app(marker, body, layout.findings)
    if result.exif_orientation is not None or result.is_exif:
        if not layout.seen_exif:
            layout.exif_orientation = result.exif_orientation
        layout.seen_exif = True
    if result.xmp_orientation is not None and not layout.seen_xmp:
        layout.xmp_orientation = result.xmp_orientation
    layout.seen_xmp = layout.seen_xmp or result.is_xmp


def _trailer(data: Buffer, start: int, layout: Layout) -> None:
    if start >= len(data):
        return
    what, words = classify_trailer(data, start)
    kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what, Kind.TRAILER)
    layout.findings.add(kind, "data after the end of the image", words, "JPEG trailer")
