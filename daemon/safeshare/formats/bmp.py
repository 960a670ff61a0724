"""BMP: copy the pixels, rebuild the headers around them.

Kept: the info header (BITMAPCOREHEADER, BITMAPINFOHEADER, V2, V3, V4 or V5, resolution
included), the colour masks, the palette (its unused fourth bytes zeroed; colours no pixel
uses are kept: the table is part of the picture) and the pixel array. An uncompressed pixel
array is rewritten with what no reader decodes set to zero, each reported when it held
anything: the padding at the end of each row (to 4 bytes, and the bits after the last pixel
of a 1, 2 or 4-bit row) and the bits of each pixel outside its colour masks (the X byte of
32-bit BI_RGB, the top bit of 16-bit 5-5-5); the values decoded are the same. A V4 or V5
header's endpoints and gamma are zeroed unless it says LCS_CALIBRATED_RGB, the only colour
space in which readers use them. bfOffBits, bfSize and biSizeImage are recomputed, so bytes
between the headers and the pixels and after the pixels are dropped (reported as hidden or
appended data). A V5 header's linked profile is a file path (it often names the user): it
is dropped and the header says sRGB. An embedded profile is reduced to its colour tags, as
in other formats, and written after the pixel array. RLE data (which has no padding) is
kept up to where a decoder stops reading it (end of bitmap, or the last pixel), which must
lie within its stated size. Refused: OS/2 version 2 headers, JPEG or PNG inside BMP, and
compressions the image library cannot read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, u32le, unpack, view
from safeshare.errors import CorruptImage, TooLarge, Truncated, UnsupportedFormat
from safeshare.findings import Findings, Kind
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.metadata.embedded import classify_trailer, human_size
from safeshare.metadata.icc import sanitize_icc

HEADERS = {12: "core", 40: "info", 52: "V2", 56: "V3", 108: "V4", 124: "V5"}
RAW, RLE8, RLE4, BITFIELDS = 0, 1, 2, 3
BITS = {1, 2, 4, 8, 16, 24, 32}
SRGB, LINKED, EMBEDDED = 0x73524742, 0x4C494E4B, 0x4D424544  # bV5CSType: 'sRGB' 'LINK' 'MBED'
CALIBRATED = 0  # LCS_CALIBRATED_RGB: the only colour space whose endpoints and gamma are read
ENDPOINTS = slice(60, 108)  # CIEXYZTRIPLE bV4Endpoints and bV4GammaRed/Green/Blue
CHUNK = 1 << 20  # pixel bytes rewritten at a time (whole rows)
WHERE = "BMP"


@dataclass
class Layout:
    header: bytearray  # the info header, as it will be written
    masks: Part = b""  # BI_BITFIELDS masks after a 40-byte header
    palette: bytes = b""
    pixels: memoryview = field(default_factory=lambda: memoryview(b""))  # as they will be written
    profile: bytes | None = None  # embedded ICC profile to write after the pixels
    findings: Findings = field(default_factory=Findings)


class Bmp(ImageFormat):
    name = "BMP"
    canonical_suffix = ".bmp"
    pillow_name = "BMP"
    in_process = True  # Pillow's BMP reader is pure Python
    allowed_info = frozenset({"compression", "dpi"})

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(parse(data).findings, 1)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data, options.max_pixels, rewrite=True)
        header = layout.header
        pixels_at = 14 + len(header) + len(layout.masks) + len(layout.palette)
        total = pixels_at + len(layout.pixels) + len(layout.profile or b"")
        if total > 0xFFFFFFFF:
            raise TooLarge("a BMP file cannot be larger than 4 GB")
        if len(header) > 12:
            struct.pack_into("<I", header, 20, len(layout.pixels))  # biSizeImage
        if layout.profile is not None:
            at = pixels_at + len(layout.pixels) - 14  # from the start of the info header
            struct.pack_into("<II", header, 112, at, len(layout.profile))
        parts: list[Part] = [b"BM" + struct.pack("<IHHI", total, 0, 0, pixels_at), bytes(header)]
        parts += [layout.masks, layout.palette, layout.pixels]
        if layout.profile is not None:
            parts.append(layout.profile)
        return Cleaned([p for p in parts if len(p)], self.name, layout.findings)


def parse(data: Buffer, max_pixels: int | None = None, rewrite: bool = False) -> Layout:
    """The parts of a BMP and what else it holds; `rewrite`: build the cleaned pixel array
    (otherwise the pixels are only looked at, and `Layout.pixels` may still hold them)."""
    if data[:2] != b"BM":
        raise CorruptImage("not a BMP file (bad signature)")
    if len(data) < 18:
        raise Truncated("truncated: the BMP headers are cut off")
    off_bits, size = u32le(data, 10, "BMP header"), u32le(data, 14, "BMP header size")
    if size in (16, 64):
        raise UnsupportedFormat("unsupported format: OS/2 BMP (version 2 header)")
    if size not in HEADERS:
        raise CorruptImage(f"corrupt: unknown BMP header size {size}")
    layout = Layout(bytearray(view(data, 14, 14 + size)))
    header = layout.header
    if size == 12:
        width, height, _, bits = struct.unpack_from("<HHHH", header, 4)
        compression, size_image, colours, entry = RAW, 0, 0, 3
    else:
        width, height, _, bits, compression, size_image = struct.unpack_from("<iiHHII", header, 4)
        colours, entry = u32le(header, 32, "BMP header"), 4
    rows = abs(height)
    if width <= 0 or rows == 0:
        raise CorruptImage(f"corrupt: BMP size {width}x{height}")
    if max_pixels is not None and width * rows > max_pixels:
        raise TooLarge(f"{width}x{rows} pixels is over the limit of {max_pixels}")
    _check_coding(bits, compression)
    pos = 14 + size
    if size == 40 and compression == BITFIELDS:
        layout.masks, pos = view(data, pos, pos + 12), pos + 12
    if bits <= 8:
        count = colours or 1 << bits
        if count > 1 << bits:
            raise CorruptImage(f"corrupt: a BMP palette of {count} colours for {bits}-bit pixels")
        layout.palette = _palette(bytes(view(data, pos, pos + count * entry)), entry, layout.findings)
        pixels_at = pos if off_bits == 14 + size else off_bits  # as the image library reads it
        pos += count * entry
    else:
        pixels_at = off_bits
        struct.pack_into("<I", header, 32, 0)  # an optional colour table, not written
        pos += min(colours * 4, max(0, off_bits - pos))
    if pixels_at < pos:
        raise CorruptImage("corrupt: the BMP pixel data overlaps its headers")
    covered = [(0, pos), (pixels_at, pixels_at + _pixel_bytes(data, pixels_at, layout, size_image))]
    layout.pixels = view(data, pixels_at, covered[1][1])
    if compression in (RAW, BITFIELDS):
        layout.pixels = _scrub(layout, width, rows, bits, _unused_bits(layout, bits, compression), rewrite)
    if size == 124:
        covered += _profile(data, layout)
    elif size == 108 and u32le(header, 56, "BMP colour space") in (LINKED, EMBEDDED):
        struct.pack_into("<I", header, 56, SRGB)  # a V4 header cannot hold a profile
    if size >= 108 and u32le(header, 56, "BMP colour space") != CALIBRATED and any(header[ENDPOINTS]):
        layout.findings.add(Kind.OTHER, "bytes hidden in the BMP header's unused colour fields", "", WHERE)
        header[ENDPOINTS] = bytes(ENDPOINTS.stop - ENDPOINTS.start)
    _uncovered(data, covered, layout.findings)
    return layout


def _check_coding(bits: int, compression: int) -> None:
    if compression in (4, 5):
        raise UnsupportedFormat("unsupported format: BMP holding a JPEG or PNG image")
    allowed = {RAW: BITS, RLE8: {8}, RLE4: {4}, BITFIELDS: {16, 24, 32}}
    if compression not in allowed:
        raise UnsupportedFormat(f"unsupported format: BMP compression {compression}")
    if bits not in allowed[compression]:
        raise UnsupportedFormat(f"unsupported format: BMP with {bits}-bit pixels (compression {compression})")


def _palette(raw: bytes, entry: int, found: Findings) -> bytes:
    if entry == 3 or not any(raw[3::4]):
        return raw
    found.add(Kind.OTHER, "bytes hidden in the palette's unused fields", "", WHERE)
    palette = bytearray(raw)
    palette[3::4] = bytes(len(raw) // 4)
    return bytes(palette)


def _pixel_bytes(data: Buffer, start: int, layout: Layout, size_image: int) -> int:
    """How many bytes of pixel data a decoder reads from `start`."""
    header = layout.header
    if len(header) == 12:
        width, rows, _, bits = struct.unpack_from("<HHHH", header, 4)
        compression = RAW
    else:
        width, height, _, bits, compression = struct.unpack_from("<iiHHI", header, 4)
        rows = abs(height)
    if compression in (RLE8, RLE4):
        if size_image == 0 or start + size_image > len(data):
            raise CorruptImage("corrupt: the RLE-compressed BMP's data size is missing or too large")
        if start % 2:
            raise CorruptImage("corrupt: the BMP's RLE data starts at an odd offset")
        return _rle_length(data, start, start + size_image, width, rows, compression == RLE4)
    length: int = (width * bits + 31) // 32 * 4 * rows
    if start + length > len(data):
        raise Truncated("truncated: the BMP pixel data runs past the end of the file")
    return length


def _rle_length(data: Buffer, start: int, end: int, width: int, rows: int, rle4: bool) -> int:
    """Bytes of RLE data up to where the image library's decoder stops reading them."""
    short = CorruptImage("corrupt: the BMP's RLE data ends before the image does")
    dest, pos, x, i = width * rows, 0, 0, start
    ended = False  # by an end-of-bitmap code, not by the last pixel
    while pos < dest and not ended:
        if i + 2 > end:
            raise short
        count, value = int(data[i]), int(data[i + 1])
        i += 2
        if count:  # a run of one value, cut at the end of the row
            run = min(count, max(0, width - x))
            pos, x = pos + run, x + run
        elif value == 0:  # end of line
            pos, x = -(-pos // width) * width, 0
        elif value == 1:  # end of bitmap
            ended = True
        elif value == 2:  # delta: skip right and up
            if i + 2 > end:
                raise short
            pos += min(dest - pos, int(data[i]) + int(data[i + 1]) * width)
            x, i = pos % width, i + 2
        else:  # absolute: `value` pixels follow, padded to 16 bits
            run = min(dest - pos, value)
            i += (run + 1) // 2 if rle4 else run
            if i > end:
                raise short
            pos += run
            if pos == dest:
                break
            x += value
            i += (i - start) % 2
    i = min(i, end)
    while not ended and i + 2 <= end and data[i] == 0 and data[i + 1] in (0, 1):
        ended, i = data[i + 1] == 1, i + 2  # the closing codes, which decoders stop before
    return i - start


def _unused_bits(layout: Layout, bits: int, compression: int) -> int:
    """The bits of each pixel no reader decodes: those outside every colour mask (the
    masks Pillow reads: after a 40-byte header, or in a V2+ header; alpha from V3 on)."""
    if bits not in (16, 24, 32):
        return 0
    full = (1 << bits) - 1
    if compression == RAW:
        return {16: 0x8000, 24: 0, 32: 0xFF000000}[bits]  # 5-5-5, and BGRX
    header = layout.header
    if len(header) == 40:
        masks = struct.unpack("<III", bytes(layout.masks))
    else:
        masks = struct.unpack_from("<IIII" if len(header) >= 56 else "<III", header, 40)
    used = 0
    for mask in masks:
        used |= mask
    return full & ~used if used & full else 0  # no masks at all: Pillow reads BGRA


def _scrub(layout: Layout, width: int, rows: int, bits: int, unused: int, rewrite: bool) -> memoryview:
    """The pixel array with row padding and `unused` pixel bits zeroed, reported when they
    held anything. Read a chunk of whole rows at a time (`inspect` reads it all too, so that
    its findings are those of `clean`); a copy is built only when `rewrite`, and only from
    the first chunk that changes: a clean array is returned as it is."""
    pixels, found = layout.pixels, layout.findings
    stride, used = (width * bits + 31) // 32 * 4, (width * bits + 7) // 8
    size = bits // 8 if bits >= 8 else 1  # bytes per pixel
    tail = (width * bits) % 8  # bits of the last pixel byte that hold pixels (0: all)
    keep_tail = bytes(b & (0xFF00 >> tail) for b in range(256)) if tail else None
    tail_values = set(keep_tail or b"")  # the values a row's last byte may keep
    tables = [
        (k, bytes(b & ~(unused >> 8 * k) & 0xFF for b in range(256)))
        for k in range(size)
        if unused >> 8 * k & 0xFF
    ]
    per_chunk = max(1, CHUNK // stride) * stride
    out: bytearray | None = None
    padded = hidden = 0  # non-zero padding bytes; chunks with data in unused pixel bits
    for start in range(0, rows * stride, per_chunk):
        chunk = pixels[start : start + per_chunk]
        fixed = bytearray(chunk)
        lines = len(fixed) // stride
        for p in range(used, stride):
            padded += lines - fixed[p::stride].count(0)
            fixed[p::stride] = bytes(lines)
        if keep_tail is not None:
            last = bytes(fixed[used - 1 :: stride])
            trimmed = last.translate(keep_tail)
            if trimmed != last:  # count the bytes that change, without a loop over the rows
                padded += len(last) - sum(last.count(v) for v in tail_values)
            fixed[used - 1 :: stride] = trimmed
        before = bytes(fixed) if tables else b""
        for k, table in tables:
            if stride % size == 0:  # whole pixels in every row: one slice for the chunk
                fixed[k::size] = bytes(fixed[k::size]).translate(table)
            else:
                for row in range(0, len(fixed), stride):
                    at = slice(row + k, row + used, size)
                    fixed[at] = bytes(fixed[at]).translate(table)
        hidden += bool(tables) and before != fixed
        if rewrite and out is None and fixed != chunk:
            out = bytearray(pixels[:start])
        if out is not None:
            out += fixed
    if padded:
        found.add(Kind.OTHER, "data hidden in the row padding", human_size(padded), WHERE)
    if hidden:
        found.add(Kind.OTHER, "data hidden in the pixels' unused bits", "", WHERE)
    return pixels if out is None else memoryview(out)


def _profile(data: Buffer, layout: Layout) -> list[tuple[int, int]]:
    """A V5 header's profile: linked (a path) dropped, embedded cleaned; its span in `data`."""
    header, found = layout.header, layout.findings
    kind = u32le(header, 56, "BMP colour space")
    offset, size, reserved = unpack("<III", header, 112, "BMP V5 header")
    if reserved:
        found.add(Kind.OTHER, "bytes hidden in the BMP header's reserved field", "", WHERE)
    struct.pack_into("<III", header, 112, 0, 0, 0)
    start, end = 14 + offset, 14 + offset + size
    if kind == LINKED:
        struct.pack_into("<I", header, 56, SRGB)
        raw = bytes(data[start:end]) if end <= len(data) else b""
        path = raw.split(b"\0")[0].decode("cp1252", "replace")
        found.add(Kind.NAME, "linked colour profile path", path, "BMP V5 header")
    elif kind == EMBEDDED:
        if size == 0 or end > len(data):
            raise Truncated("truncated: the BMP's embedded colour profile runs past the end of the file")
        result = sanitize_icc(bytes(view(data, start, end)), "BMP colour profile")
        found.extend(result.findings)
        layout.profile = result.profile
        if result.profile is None:
            struct.pack_into("<I", header, 56, SRGB)
    return [(start, end)] if size and end <= len(data) and kind in (LINKED, EMBEDDED) else []


def _uncovered(data: Buffer, covered: list[tuple[int, int]], found: Findings) -> None:
    """Report the bytes no kept part covers: gaps inside the file, and what follows it."""
    gap, reached = 0, 0
    for start, end in sorted(covered):
        gap += max(0, start - reached)
        reached = max(reached, end)
    if gap:
        found.add(Kind.TRAILER, "hidden data between the headers and the pixels", human_size(gap), WHERE)
    if reached < len(data):
        what, words = classify_trailer(data, reached)
        if what == "padding" and len(data) - reached < 4:
            return  # a few zero bytes some writers add to round the file size
        kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what, Kind.TRAILER)
        found.add(kind, "data after the end of the image", words, WHERE)
