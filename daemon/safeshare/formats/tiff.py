"""TIFF: a new file holding only the structural tags of each full-resolution page.

The strips or tiles are copied byte for byte and the kept tag values keep their byte order,
so pixels are identical without decoding. Make/Model/Software/Artist/DateTime, EXIF, GPS,
GeoTIFF, XMP, IPTC, Photoshop data, sub-images and reduced-resolution pages are dropped.
Files the rewrite cannot express (old-style JPEG compression, strips past the end) are
re-encoded losslessly, then laid out as the rewrite lays out files: a clean copy cleaned
again stays byte for byte the same.

Pages whose sample layout Pillow cannot read (packed 10/12/14-bit, 16/24/64-bit float, float
RGB, 64-bit integers) are rewritten the same way, and their copy is checked by a reading of
our own instead of Pillow's (tiff_reread: the tags and image data must be the input's);
layouts that are not a grey or RGB picture in a lossless compression stay refused.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare import isolation
from safeshare.binary import Buffer, Part
from safeshare.errors import CorruptImage, UnsupportedFormat
from safeshare.findings import Findings, Kind
from safeshare.formats import tiff_reread
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection, source_of
from safeshare.formats.tiff_tags import check_tags, trim_chunks
from safeshare.metadata.exif import ExifReport, ExifWalker
from safeshare.metadata.icc import sanitize_icc
from safeshare.metadata.tiff_ifd import Entry, TiffReader

STRUCTURAL = frozenset(
    {
        254,
        255,
        256,
        257,
        258,
        259,
        262,
        263,
        266,
        273,
        274,
        277,
        278,
        279,
        280,
        281,
        282,
        283,
        284,
        290,
        291,
        292,
        293,
        296,
        297,
        301,
        317,
        318,
        319,
        320,
        321,
        322,
        323,
        324,
        325,
        332,
        334,
        336,
        338,
        339,
        340,
        341,
        347,
        529,
        530,
        531,
        532,
        34675,
    }
)
OFFSETS_TO_COUNTS = {273: 279, 324: 325}  # strips, tiles
NEW_SUBFILE_TYPE, COMPRESSION, ORIENTATION, OLD_JPEG, ICC_TAG = 254, 259, 274, 6, 34675
DNG_VERSION = 50706
_WIDE_TYPES = {16: 4, 17: 9, 18: 13}  # BigTIFF 8-byte types -> classic 4-byte types


@dataclass
class Page:
    entries: dict[int, Entry]
    chunks: list[tuple[int, int]]  # (offset, length) of each strip or tile
    offsets_tag: int
    replaced: dict[int, bytes] = field(default_factory=dict)  # tag -> new UNDEFINED value


@dataclass
class Layout:
    reader: TiffReader
    pages: list[Page]
    findings: Findings
    orientation: int
    reencode: bool  # pages the structural rewrite cannot express (old-style JPEG, damage)


class Tiff(ImageFormat):
    name = "TIFF"
    canonical_suffix = ".tif"
    pillow_name = "TIFF"
    in_process = True
    allowed_info = frozenset({"compression", "dpi", "resolution", "icc_profile"})
    exif_allowed = STRUCTURAL  # the TIFF tags are the image structure

    def inspect(self, data: Buffer) -> Inspection:
        layout = parse(data)
        return Inspection(layout.findings, layout.orientation)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        if not _pillow_reads(layout):
            return self._clean_unread(layout)
        if layout.reencode:
            from safeshare.formats import reencode  # Pillow's encoders: only for re-encoding

            out = isolation.pool().call(reencode.tiff, source_of(data, options), options.max_pixels)
            layout.findings.extend(out.findings)
            parts = _our_layout(out.data)
            return Cleaned(
                parts, self.name, layout.findings, 1, True, None, out.size, out.mode, frames=out.frames
            )
        pages = len(layout.pages)
        return Cleaned(write(layout), self.name, layout.findings, layout.orientation, frames=pages)

    def _clean_unread(self, layout: Layout) -> Cleaned:
        """A file with a page Pillow cannot read: rewritten as any other, and described in
        `reference` for `reread`. Refused when a page is no picture we accept, or damaged
        (Pillow cannot re-encode it)."""
        for page in layout.pages:
            problem = tiff_reread.refusal(_layout_values(layout.reader, page))
            if problem:
                raise UnsupportedFormat(problem)
        if layout.reencode:
            raise CorruptImage("TIFF image data runs past the end of the file (and cannot be re-encoded)")
        pages = len(layout.pages)
        return Cleaned(
            write(layout),
            self.name,
            layout.findings,
            layout.orientation,
            frames=pages,
            reference=reference(layout),
        )

    def reads_with_pillow(self, cleaned: Cleaned) -> bool:
        """Whether the verifier reads this output with Pillow; otherwise with `reread`."""
        return cleaned.reference is None

    def reread(self, output: Buffer, cleaned: Cleaned) -> str | None:
        if cleaned.reference is None:
            return "the clean copy has no reference to check it against"
        return tiff_reread.reread(output, cleaned.reference, cleaned.frames, cleaned.orientation, STRUCTURAL)


def parse(data: Buffer) -> Layout:
    if data[8:10] == b"CR":
        raise UnsupportedFormat("camera raw (Canon CR2) is not supported")
    reader = TiffReader(data)
    report = ExifReport()
    pages: list[Page] = []
    offset, orientation, reencode = reader.first_ifd, 1, False
    visited: set[int] = set()
    while offset and offset not in visited:  # a page list looping back ends there, as in libtiff
        visited.add(offset)
        ifd = reader.read_ifd(offset)
        if DNG_VERSION in ifd.entries:
            raise UnsupportedFormat("camera raw (DNG) is not supported")
        ExifWalker(reader, report, "TIFF", STRUCTURAL).walk_main(ifd, exif_section=False)
        if _is_reduced(reader, ifd.entries):
            report.findings.add(Kind.THUMBNAIL, "reduced-resolution page", "", "TIFF")
        else:
            page = _page(reader, ifd.entries, report.findings)
            if not pages and ORIENTATION in page.entries:
                orientation = reader.first_int(page.entries[ORIENTATION])
            reencode |= _compression(reader, page.entries) == OLD_JPEG or _runs_past_end(reader, page)
            pages.append(page)
        offset = ifd.next_offset
    if not pages:
        raise CorruptImage("no full-resolution image in the TIFF file")
    orientation = orientation if 1 <= orientation <= 8 else 1
    return Layout(reader, pages, report.findings, orientation, reencode)


def _layout_values(reader: TiffReader, page: Page) -> dict[int, tuple[int, ...]]:
    """The integer tags that say how a page's samples are laid out."""
    return {tag: reader.ints(entry) for tag, entry in page.entries.items() if tag in _SAMPLE_TAGS}


_SAMPLE_TAGS = frozenset({258, 259, 262, 266, 277, 284, 317, 338, 339})


def _pillow_reads(layout: Layout) -> bool:
    little = layout.reader.endian == "<"
    return all(tiff_reread.pillow_reads(little, _layout_values(layout.reader, p)) for p in layout.pages)


def reference(layout: Layout) -> bytes:
    """What each page of the copy must hold (tiff_reread.digest_page), from the kept input
    values: the tags as `write` keeps them, the strips or tiles as they are cut."""
    r = layout.reader
    out = bytearray()
    for page in layout.pages:
        tags: dict[int, tiff_reread.TagValue] = {}
        for tag, entry in page.entries.items():
            if tag in page.replaced:
                tags[tag] = tiff_reread.tag_value("raw", 7, None, page.replaced[tag])
            elif tag == OFFSETS_TO_COUNTS[page.offsets_tag]:
                tags[tag] = ("i", tuple(length for _, length in page.chunks))
            elif tag == ORIENTATION:
                tags[tag] = ("i", (r.first_int(entry),))
            elif entry.type in tiff_reread.INT_TYPES:
                tags[tag] = ("i", r.ints(entry))
            else:
                tags[tag] = ("raw", entry.type, r.raw(entry))
        chunks = (r.data[start : start + length] for start, length in page.chunks)
        out += tiff_reread.digest_page(tags, chunks)
    return bytes(out)


def _our_layout(encoded: bytes) -> list[Part]:
    """A re-encoded TIFF rewritten as `write` lays files out (image data first, then the
    IFDs). Pillow interleaves the pages of a multi-page file; cleaning that copy again
    would move them, and a clean copy must be its own clean copy."""
    again = parse(encoded)
    return [encoded] if again.reencode else write(again)


def _is_reduced(reader: TiffReader, entries: dict[int, Entry]) -> bool:
    return NEW_SUBFILE_TYPE in entries and bool(reader.first_int(entries[NEW_SUBFILE_TYPE]) & 1)


def _compression(reader: TiffReader, entries: dict[int, Entry]) -> int:
    return reader.first_int(entries[COMPRESSION]) if COMPRESSION in entries else 1


def _page(reader: TiffReader, entries: dict[int, Entry], found: Findings) -> Page:
    kept = check_tags(reader, {tag: e for tag, e in entries.items() if tag in STRUCTURAL}, found)
    if ORIENTATION in kept and not 1 <= (reader.ints(kept[ORIENTATION]) or (0,))[0] <= 8:
        del kept[ORIENTATION]  # a value no viewer applies: the page shows upright, so say nothing
    replaced: dict[int, bytes] = {}
    if ICC_TAG in kept:
        icc = sanitize_icc(reader.raw(kept[ICC_TAG]), "TIFF ICC profile")
        found.extend(icc.findings)
        if icc.profile is None:
            del kept[ICC_TAG]
        else:
            replaced[ICC_TAG] = icc.profile
    for offsets_tag, counts_tag in OFFSETS_TO_COUNTS.items():
        if offsets_tag in kept:
            if counts_tag not in kept:
                raise CorruptImage("TIFF image data without byte counts")
            offsets, counts = reader.ints(kept[offsets_tag]), reader.ints(kept[counts_tag])
            if len(offsets) != len(counts):
                raise CorruptImage("TIFF strip offsets and byte counts disagree")
            if min(offsets + counts, default=0) < 0:  # signed types: no place in a file
                raise CorruptImage("TIFF strip offsets or byte counts are negative")
            chunks = trim_chunks(
                reader, kept, list(zip(offsets, counts, strict=True)), offsets_tag == 324, found
            )
            return Page(kept, chunks, offsets_tag, replaced)
    raise CorruptImage("TIFF page without image data")


def _runs_past_end(reader: TiffReader, page: Page) -> bool:
    """Strips claiming more bytes than the file has: libtiff reads what is there, so the
    page is decoded and re-encoded rather than copied with impossible byte counts."""
    return any(start + length > len(reader.data) for start, length in page.chunks)


def write(layout: Layout) -> list[Part]:
    """A classic TIFF in the input's byte order: all image data, then one IFD per page."""
    r, endian = layout.reader, layout.reader.endian
    parts: list[Part] = []
    pos = 8
    page_offsets: list[list[int]] = []
    for page in layout.pages:
        new_offsets = []
        for start, length in page.chunks:
            new_offsets.append(pos if length else 0)
            if length:
                parts.append(r.data[start : start + length])
                pos += length
        page_offsets.append(new_offsets)
    if pos & 1:
        parts.append(b"\0")
        pos += 1
    if pos > 0xFFFFFFFF:
        raise UnsupportedFormat("TIFF output over 4 GB")
    # IFD sizes do not depend on where they go, so place them all before building them.
    sizes = [len(_ifd_bytes(r, p, o, 0, 0)) for p, o in zip(layout.pages, page_offsets, strict=True)]
    ifd_at = [pos + sum(sizes[:i]) for i in range(len(sizes))]
    if ifd_at[-1] + sizes[-1] > 0xFFFFFFFF:
        raise UnsupportedFormat("TIFF output over 4 GB")
    for i, (page, offsets) in enumerate(zip(layout.pages, page_offsets, strict=True)):
        following = ifd_at[i + 1] if i + 1 < len(ifd_at) else 0
        parts.append(_ifd_bytes(r, page, offsets, ifd_at[i], following))
    header = (b"II" if endian == "<" else b"MM") + struct.pack(endian + "HI", 42, ifd_at[0])
    return [header, *parts]


def _ifd_bytes(r: TiffReader, page: Page, new_offsets: list[int], at: int, following: int) -> bytes:
    """One IFD at file offset `at`, its long values right after it, linking to `following`."""
    endian = r.endian
    tags = sorted(page.entries)
    values_at = at + 2 + 12 * len(tags) + 4
    head = bytearray(struct.pack(endian + "H", len(tags)))
    values = bytearray()
    for tag in tags:
        typ, count, raw = _entry_value(r, page, tag, new_offsets, endian)
        head += struct.pack(endian + "HHI", tag, typ, count)
        if len(raw) <= 4:
            head += raw.ljust(4, b"\0")
        else:
            head += struct.pack(endian + "I", values_at + len(values))
            values += raw + (b"\0" if len(raw) & 1 else b"")
    head += struct.pack(endian + "I", following)
    return bytes(head + values)


def _entry_value(
    r: TiffReader, page: Page, tag: int, new_offsets: list[int], endian: str
) -> tuple[int, int, bytes]:
    entry = page.entries[tag]
    if tag in page.replaced:
        value = page.replaced[tag]
        return 7, len(value), value
    if tag == page.offsets_tag:
        return 4, len(new_offsets), struct.pack(f"{endian}{len(new_offsets)}I", *new_offsets)
    if tag == OFFSETS_TO_COUNTS[page.offsets_tag]:
        counts = [length for _, length in page.chunks]
        return 4, len(counts), struct.pack(f"{endian}{len(counts)}I", *counts)
    if tag == ORIENTATION:  # one SHORT, as the specification has it (readers differ on others)
        return 3, 1, struct.pack(endian + "H", r.first_int(entry))
    if entry.type in _WIDE_TYPES:
        values = r.ints(entry)
        narrow = _WIDE_TYPES[entry.type]
        fmt = "i" if narrow == 9 else "I"
        try:
            return narrow, len(values), struct.pack(f"{endian}{len(values)}{fmt}", *values)
        except struct.error as exc:
            raise UnsupportedFormat("BigTIFF values too large for a classic TIFF") from exc
    return entry.type, entry.count, r.raw(entry)
