"""TIFF sample layouts Pillow cannot read (packed 10/12/14-bit, 16/24/64-bit float, float
RGB, 64-bit integers), and the second reading of their clean copies.

Which layouts Pillow reads is Pillow's own table (`TiffImagePlugin.OPEN_INFO`), asked with
the key Pillow builds from the tags; those files keep the Pillow reading. The others are
accepted only when they are grey or RGB pictures (with extra samples) of one sample type,
in a lossless compression libtiff and tifffile decode; the rest stay refused, each with a
one-line reason.

Their copies are checked by `reread`: a walk of the output written apart from the cleaner
(its own header, IFD and value parsing, nothing shared with `metadata.tiff_ifd`), which
asserts that every page holds only structural tags, whose values are the kept input
values, and strips or tiles whose bytes are the input's, byte for byte, and that nothing
in the file lies outside its header, directories, values and image data. The cleaner
states what it kept as one digest per page of tags and one of image data (`digest_page`
on the input's values), in `Cleaned.reference`; this reading recomputes both from the
output. A mismatch says which page and which half.
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from collections.abc import Iterable, Mapping

from safeshare.binary import Buffer

TagValue = tuple[str, tuple[int, ...]] | tuple[str, int, bytes]  # ("i", ints) or ("raw", type, bytes)
DIGEST = 32
PAGE_REFERENCE = 2 * DIGEST  # tags digest, then image data digest

# The TIFF field types an integer may be stored as (a LONG8 is narrowed to a LONG when a
# BigTIFF is rewritten as a classic TIFF, so the kind is compared, not the type).
INT_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}
CLASSIC_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
STRIPS, STRIP_COUNTS, TILES, TILE_COUNTS, ORIENTATION = 273, 279, 324, 325, 274
MAX_PAGES, MAX_ENTRIES = 4096, 4096

# The layouts accepted without Pillow: what libtiff and tifffile decode as a picture.
GREY_OR_RGB = {0: 1, 1: 1, 2: 3}  # PhotometricInterpretation -> colour samples
LOSSLESS = {1: "none", 5: "LZW", 8: "Deflate", 32946: "Deflate", 32773: "PackBits", 34925: "LZMA"}
LOSSLESS[50000] = "Zstandard"
BITS = {1: set(range(1, 33)) | {64}, 2: {8, 16, 32, 64}, 3: {16, 24, 32, 64}}
KIND = {1: "unsigned integer", 2: "signed integer", 3: "float", 4: "undefined", 5: "complex integer"}
KIND[6] = "complex float"
PHOTOMETRIC = {3: "palette", 4: "mask", 5: "CMYK", 6: "YCbCr", 8: "CIELab", 32844: "LogL", 32845: "LogLuv"}


def tag_value(kind: str, typ: int, ints: tuple[int, ...] | None, raw: bytes) -> TagValue:
    """A tag's value as the digest compares it: integers by value, anything else by bytes."""
    return ("i", ints) if kind == "i" and ints is not None else ("raw", typ, raw)


def digest_page(tags: Mapping[int, TagValue], chunks: Iterable[Buffer | memoryview]) -> bytes:
    """The reference of one page: a digest of its tags (without the strip or tile offsets,
    which move) and one of its image data, each chunk's length and bytes in order."""
    described = sorted((tag, value) for tag, value in tags.items() if tag not in (STRIPS, TILES))
    data = hashlib.sha256()
    for chunk in chunks:
        data.update(struct.pack("<Q", len(chunk)))
        data.update(chunk)
    return hashlib.sha256(repr(described).encode()).digest() + data.digest()


# ---- which layouts ---------------------------------------------------------------------


def pillow_reads(little_endian: bool, values: Mapping[int, tuple[int, ...]]) -> bool:
    """Whether Pillow's TIFF reader knows this page's pixel layout: the key its `_setup`
    builds, looked up in its own table (a wrong guess only changes which reading checks
    the copy, never whether one does)."""
    from PIL import TiffImagePlugin

    one = {tag: v[0] for tag, v in values.items() if v}
    if one.get(259, 1) not in TiffImagePlugin.COMPRESSION_INFO:
        return False
    photo = one.get(262, 0)
    sample_format = values.get(339) or (1,)
    if len(set(sample_format)) == 1:
        sample_format = sample_format[:1]
    bits = values.get(258) or (1,)
    extra = values.get(338) or ()
    spp = one.get(277, 1)
    if one.get(284, 1) == 2 and extra and max(extra) == 0:
        bits, spp, extra = bits[: -len(extra)], spp - len(extra), ()
    if spp < len(bits):
        bits = bits[:spp]
    elif spp > len(bits) == 1:
        bits = bits * spp
    prefix = b"II" if little_endian else b"MM"
    return (prefix, photo, sample_format, one.get(266, 1), bits, extra) in TiffImagePlugin.OPEN_INFO


def refusal(values: Mapping[int, tuple[int, ...]]) -> str | None:
    """Why a page Pillow cannot read is not accepted either (one line), or None."""
    one = {tag: v[0] for tag, v in values.items() if v}
    spp = one.get(277, 1)
    formats = values.get(339) or (1,)
    bits = values.get(258) or (1,)
    if len(set(formats)) > 1 or len(set(bits)) > 1:
        return "TIFF whose samples differ in type or bit depth is not supported"
    kind, depth = formats[0], bits[0]
    what = f"{depth}-bit {KIND.get(kind, f'SampleFormat {kind}')}"
    if kind not in BITS:
        return f"TIFF with {what} samples is data, not a picture: not supported"
    if depth not in BITS[kind]:
        return f"TIFF with {what} samples is not supported (no common reader decodes them)"
    photo = one.get(262)
    if photo not in GREY_OR_RGB:
        name = PHOTOMETRIC.get(photo, f"PhotometricInterpretation {photo}") if photo is not None else "no"
        return f"TIFF with {name} colour and {what} samples is not supported"
    extra = values.get(338) or ()
    if spp != GREY_OR_RGB[photo] + len(extra):
        return f"TIFF with {spp} samples per pixel for its colour type is not supported"
    compression = one.get(259, 1)
    if compression not in LOSSLESS:
        return f"TIFF with {what} samples in compression {compression} is not supported"
    predictor = one.get(317, 1)
    fits = {1: True, 2: depth % 8 == 0, 3: kind == 3}.get(predictor, False)
    if not fits:
        return f"TIFF predictor {predictor} with {what} samples is not supported"
    if one.get(266, 1) not in (1, 2) or one.get(284, 1) not in (1, 2):
        return f"TIFF with {what} samples in an unknown fill order or planar layout is not supported"
    return None


# ---- the second reading ----------------------------------------------------------------


class _Problem(Exception):
    pass


class _Walk:
    """A classic TIFF (what the cleaner writes), parsed on its own."""

    def __init__(self, data: Buffer) -> None:
        self.data = data
        if len(data) < 8 or bytes(data[:4]) not in (b"II*\0", b"MM\0*"):
            raise _Problem("output is not a classic TIFF")
        self.e = "<" if bytes(data[:2]) == b"II" else ">"
        self.used: list[tuple[int, int]] = [(0, 4)]  # the first IFD offset is read next

    def take(self, start: int, size: int, what: str) -> memoryview:
        if start < 0 or size < 0 or start + size > len(self.data):
            raise _Problem(f"output {what} lies outside the file")
        if size:
            self.used.append((start, start + size))
        return memoryview(self.data)[start : start + size]

    def u32(self, at: int) -> int:
        value: int = struct.unpack(self.e + "I", self.take(at, 4, "directory"))[0]
        return value

    def page(self, at: int, number: int) -> tuple[dict[int, TagValue], list[memoryview], int, int]:
        """(tags, chunks, orientation, next page) of the IFD at `at`."""
        if at & 1:
            raise _Problem(f"output page {number} starts at an odd offset")
        (count,) = struct.unpack(self.e + "H", self.take(at, 2, "directory"))
        if not 0 < count <= MAX_ENTRIES:
            raise _Problem(f"output page {number} has {count} tags")
        head = self.take(at + 2, 12 * count, "directory")
        tags: dict[int, TagValue] = {}
        ints: dict[int, tuple[int, ...]] = {}
        previous = -1
        for i in range(count):
            tag, typ, n = struct.unpack_from(self.e + "HHI", head, 12 * i)
            if tag <= previous:
                raise _Problem(f"output page {number} has its tags out of order")
            previous = tag
            if typ not in CLASSIC_SIZES:
                raise _Problem(f"output page {number} tag {tag} has type {typ}")
            size = CLASSIC_SIZES[typ] * n
            if size > 4:
                (value_at,) = struct.unpack_from(self.e + "I", head, 12 * i + 8)
                raw = bytes(self.take(value_at, size, f"tag {tag} value"))
            else:
                raw = bytes(head[12 * i + 8 :][:size])
            values = struct.unpack(f"{self.e}{n}{INT_TYPES[typ]}", raw) if typ in INT_TYPES else None
            if values is not None:
                ints[tag] = values
            tags[tag] = tag_value("i" if values is not None else "raw", typ, values, raw)
        following = self.u32(at + 2 + 12 * count)
        chunks = self._chunks(ints, number)
        orientation = ints.get(ORIENTATION, (1,))[0] if ints.get(ORIENTATION) else 1
        return tags, chunks, orientation, following

    def _chunks(self, ints: dict[int, tuple[int, ...]], number: int) -> list[memoryview]:
        pairs = [(o, c) for o, c in ((STRIPS, STRIP_COUNTS), (TILES, TILE_COUNTS)) if o in ints or c in ints]
        if len(pairs) != 1 or pairs[0][0] not in ints or pairs[0][1] not in ints:
            raise _Problem(f"output page {number} has no single set of strips or tiles")
        offsets, counts = ints[pairs[0][0]], ints[pairs[0][1]]
        if len(offsets) != len(counts):
            raise _Problem(f"output page {number} strip offsets and byte counts disagree")
        what = f"page {number} image data"
        return [self.take(o, c, what) if c else memoryview(b"") for o, c in zip(offsets, counts, strict=True)]

    def unaccounted(self) -> int:
        """Bytes of the file outside every part read, other than one zero pad byte after a part."""
        spans = sorted(self.used)
        if any(b[0] < a[1] for a, b in itertools.pairwise(spans)):
            raise _Problem("output parts overlap")
        ends = [end for _, end in spans]
        starts = [start for start, _ in spans[1:]] + [len(self.data)]
        stray = 0
        for end, start in zip(ends, starts, strict=True):
            gap = bytes(self.data[end:start])
            stray += len(gap) if len(gap) > 1 or gap.strip(b"\0") else 0
        return stray


def reread(
    output: Buffer, reference: bytes, frames: int | None, orientation: int, allowed: frozenset[int]
) -> str | None:
    """The problem with `output` as the clean copy `reference` describes, or None."""
    pages = len(reference) // PAGE_REFERENCE
    if not pages or len(reference) % PAGE_REFERENCE or (frames is not None and frames != pages):
        return "the clean copy has no usable reference to check it against"
    try:
        walk = _Walk(output)
        at, number, first_orientation = walk.u32(4), 0, 1
        seen: set[int] = set()
        while at:
            number += 1
            if at in seen or number > min(pages, MAX_PAGES):
                return f"output has more than the {pages} pages kept"
            seen.add(at)
            tags, chunks, page_orientation, at = walk.page(at, number)
            extra = sorted(set(tags) - allowed)
            if extra:
                return f"output still carries TIFF tag {extra[0]} on page {number}"
            first_orientation = page_orientation if number == 1 else first_orientation
            mine = digest_page(tags, chunks)
            expected = reference[(number - 1) * PAGE_REFERENCE :][:PAGE_REFERENCE]
            if mine[:DIGEST] != expected[:DIGEST]:
                return f"output page {number} tags differ from the original's"
            if mine[DIGEST:] != expected[DIGEST:]:
                return f"output page {number} image data differs from the original's"
        if number != pages:
            return f"output has {number} pages, expected {pages}"
        if first_orientation != orientation:
            return f"output orientation {first_orientation}, expected {orientation}"
        stray = walk.unaccounted()
    except _Problem as exc:
        return str(exc)
    except struct.error:
        return "output directory is malformed"
    return f"output carries {stray} bytes outside its image" if stray else None
