"""What each kept TIFF tag may look like, and how many bytes an uncompressed strip needs.

A structural tag is copied byte for byte, so one given another type or count than the
specification allows carries whatever bytes were put there (ExifTool shows an ASCII
XResolution as text). A tag that does not fit is dropped with a finding, or the file is
refused when the picture cannot be decoded without it. Uncompressed strips and tiles are
cut to the bytes their pixels need: anything after them is not pixels.
"""

from __future__ import annotations

from safeshare.errors import CorruptImage
from safeshare.findings import Findings, Kind
from safeshare.metadata.embedded import human_size
from safeshare.metadata.tiff_ifd import Entry, TiffReader

INTEGER = frozenset({1, 3, 4, 16})  # BYTE, SHORT, LONG, LONG8: what readers accept for ints
SIGNED = frozenset({6, 8, 9, 17})  # strip arrays: rewritten; negative ones refused by tiff.py
SHORT = frozenset({3})
RATIONAL = frozenset({5})
ANY = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18})

# tag -> (name, allowed types, count rule, needed to decode the picture). Count rules:
# an int is an exact count; "spp" is 1 or SamplesPerPixel; "extra" at most SamplesPerPixel;
# "curve"/"map"/"transfer" depend on BitsPerSample; "dots" is 2 or 2 * SamplesPerPixel;
# "any" is checked elsewhere (strip and tile arrays, the ICC profile, JPEG tables).
RULES: dict[int, tuple[str, frozenset[int], int | str, bool]] = {
    254: ("NewSubfileType", INTEGER, 1, False),
    255: ("SubfileType", INTEGER, 1, False),
    256: ("ImageWidth", INTEGER, 1, True),
    257: ("ImageLength", INTEGER, 1, True),
    258: ("BitsPerSample", INTEGER, "spp", True),
    259: ("Compression", INTEGER, 1, True),
    262: ("PhotometricInterpretation", INTEGER, 1, True),
    263: ("Threshholding", INTEGER, 1, False),
    266: ("FillOrder", INTEGER, 1, True),
    273: ("StripOffsets", INTEGER | SIGNED, "any", True),
    274: ("Orientation", INTEGER, 1, False),
    277: ("SamplesPerPixel", INTEGER, 1, True),
    278: ("RowsPerStrip", INTEGER, 1, True),
    279: ("StripByteCounts", INTEGER | SIGNED, "any", True),
    280: ("MinSampleValue", INTEGER, "spp", False),
    281: ("MaxSampleValue", INTEGER, "spp", False),
    282: ("XResolution", RATIONAL, 1, False),
    283: ("YResolution", RATIONAL, 1, False),
    284: ("PlanarConfiguration", INTEGER, 1, True),
    290: ("GrayResponseUnit", SHORT, 1, False),
    291: ("GrayResponseCurve", SHORT, "curve", False),
    292: ("T4Options", INTEGER, 1, True),
    293: ("T6Options", INTEGER, 1, True),
    296: ("ResolutionUnit", INTEGER, 1, False),
    297: ("PageNumber", SHORT, 2, False),
    301: ("TransferFunction", SHORT, "transfer", False),
    317: ("Predictor", INTEGER, 1, True),
    318: ("WhitePoint", RATIONAL, 2, False),
    319: ("PrimaryChromaticities", RATIONAL, 6, False),
    320: ("ColorMap", SHORT, "map", True),
    321: ("HalftoneHints", SHORT, 2, False),
    322: ("TileWidth", INTEGER, 1, True),
    323: ("TileLength", INTEGER, 1, True),
    324: ("TileOffsets", INTEGER | SIGNED, "any", True),
    325: ("TileByteCounts", INTEGER | SIGNED, "any", True),
    332: ("InkSet", INTEGER, 1, True),
    334: ("NumberOfInks", INTEGER, 1, False),
    336: ("DotRange", frozenset({1, 3}), "dots", False),
    338: ("ExtraSamples", INTEGER, "extra", True),
    339: ("SampleFormat", INTEGER, "spp", True),
    340: ("SMinSampleValue", ANY - {2, 7}, "spp", False),
    341: ("SMaxSampleValue", ANY - {2, 7}, "spp", False),
    347: ("JPEGTables", frozenset({1, 7}), "any", True),
    529: ("YCbCrCoefficients", RATIONAL, 3, False),
    530: ("YCbCrSubSampling", INTEGER, 2, True),
    531: ("YCbCrPositioning", INTEGER, 1, False),
    532: ("ReferenceBlackWhite", RATIONAL, 6, False),
    34675: ("ICC profile", frozenset({1, 7}), "any", False),
}
TYPE_NAMES = {1: "BYTE", 2: "ASCII", 3: "SHORT", 4: "LONG", 5: "RATIONAL", 7: "UNDEFINED"}
LAYOUT_TAGS = frozenset({256, 257, 258, 259, 262, 277, 278, 284, 322, 323})
MAX_BITS = 16  # the largest bit depth a curve or colour map is indexed by


def check_tags(reader: TiffReader, kept: dict[int, Entry], found: Findings) -> dict[int, Entry]:
    """`kept` without the tags whose type or count is not what the tag allows; CorruptImage
    when such a tag is needed to decode the picture."""
    spp = _single(reader, kept, 277, "SamplesPerPixel")
    bits = _bits(reader, kept, spp)
    result: dict[int, Entry] = {}
    for tag, entry in kept.items():
        rule = RULES.get(tag)
        if rule is None:
            result[tag] = entry
            continue
        name, types, counts, needed = rule
        if entry.type in types and _count_fits(entry.count, counts, spp, bits):
            result[tag] = entry
            continue
        shape = f"{TYPE_NAMES.get(entry.type, f'type {entry.type}')}, {entry.count} values"
        if needed:
            raise CorruptImage(f"TIFF tag {name} has the wrong type or count ({shape})")
        found.add(Kind.OTHER, f"malformed tag {name} (removed)", shape, "TIFF")
    return result


def _single(reader: TiffReader, kept: dict[int, Entry], tag: int, name: str) -> int:
    entry = kept.get(tag)
    if entry is None:
        return 1
    if entry.type not in INTEGER or entry.count != 1:
        shape = f"{TYPE_NAMES.get(entry.type, f'type {entry.type}')}, {entry.count} values"
        raise CorruptImage(f"TIFF tag {name} has the wrong type or count ({shape})")
    return reader.first_int(entry)


def _bits(reader: TiffReader, kept: dict[int, Entry], spp: int) -> int:
    entry = kept.get(258)
    if entry is None or entry.type not in INTEGER or not _count_fits(entry.count, "spp", spp, 0):
        return 1  # checked as a tag of its own
    return reader.first_int(entry)


def _count_fits(count: int, rule: int | str, spp: int, bits: int) -> bool:
    if isinstance(rule, int):
        return count == rule
    if rule == "spp":
        return count in (1, spp)
    if rule == "extra":
        return 1 <= count <= spp
    if rule == "dots":
        return count in (2, 2 * spp)
    if rule in ("curve", "map", "transfer"):
        levels = 1 << bits if 1 <= bits <= MAX_BITS else -1
        allowed = {"curve": (levels,), "map": (3 * levels,)}.get(rule, (levels, 3 * levels))
        return count in allowed
    return True  # "any"


def needed_sizes(reader: TiffReader, entries: dict[int, Entry], tiles: bool, n: int) -> list[int] | None:
    """How many bytes each of the `n` uncompressed strips or tiles holds pixels for; None
    when that is not simple to know (compressed, subsampled YCbCr, odd layouts)."""
    try:
        values = {tag: reader.ints(e) for tag, e in entries.items() if tag in LAYOUT_TAGS}
    except CorruptImage:
        return None
    one = {tag: v[0] for tag, v in values.items() if v}
    if one.get(259, 1) != 1 or one.get(262) == 6 or 256 not in one or 257 not in one:
        return None
    width, height, spp = one[256], one[257], one.get(277, 1)
    bits = values.get(258) or (1,)
    bits = bits * spp if len(bits) == 1 else bits
    planar = one.get(284, 1) == 2
    if len(bits) != spp or width <= 0 or height <= 0 or min(bits) <= 0:
        return None
    planes = [[b] for b in bits] if planar else [list(bits)]
    sizes: list[int] = []
    for plane in planes:
        if tiles:
            if one.get(322, 0) <= 0 or one.get(323, 0) <= 0:
                return None
            across = -(-width // one[322]) * -(-height // one[323])
            sizes += [one[323] * -(-one[322] * sum(plane) // 8)] * across
        else:
            rows = min(one.get(278, height), height) or height
            row_bytes = -(-width * sum(plane) // 8)
            sizes += [min(rows, height - top) * row_bytes for top in range(0, height, rows)]
    return sizes if len(sizes) == n else None


def trim_chunks(
    reader: TiffReader, entries: dict[int, Entry], chunks: list[tuple[int, int]], tiles: bool, found: Findings
) -> list[tuple[int, int]]:
    """Uncompressed strips or tiles cut to the bytes their pixels need, with a finding for
    what was after them."""
    if any(start + length > len(reader.data) for start, length in chunks):
        return chunks  # damaged: the page is decoded and re-encoded (tiff._runs_past_end)
    sizes = needed_sizes(reader, entries, tiles, len(chunks))
    if sizes is None:
        return chunks
    cut = [(start, min(length, size)) for (start, length), size in zip(chunks, sizes, strict=True)]
    extra = sum(length for _, length in chunks) - sum(length for _, length in cut)
    if extra:
        what = (
            "data hidden after the pixels of a tile" if tiles else "data hidden after the pixels of a strip"
        )
        found.add(Kind.TRAILER, what, human_size(extra), "TIFF")
    return cut
