"""Data planted in the structures a lossless clean keeps: kept PNG chunks of the wrong
length or given twice, bytes after the zlib stream of the image data, TIFF strips longer
than their pixels, TIFF structural tags of the wrong type or count. Each crafted from a
real corpus file, cleaned by the real command; the marker must be gone and the pixels the
same, or the file refused with a reason.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from safeshare.metadata.tiff_ifd import TiffReader
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS, same_pixels

MARK = b"SECRETMARKER123"
RGB_PNG = CORPUS / "png" / "pillow__exif.png"  # 512x512 RGB
GREY_PNG = CORPUS / "png" / "pillow__copyleft.png"  # L
RAW_TIFF = CORPUS / "tiff" / "pillow__ifd_tag_type.tiff"  # uncompressed 16-bit grey, PageNumber


# PNG --------------------------------------------------------------------------------


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, pos = [], 8
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def build(parts: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(synth.png_chunk(kind, body) for kind, body in parts)


def plain(source: Path) -> list[tuple[bytes, bytes]]:
    """The corpus picture's image chunks only (its metadata is tested elsewhere)."""
    return [(k, b) for k, b in chunks(source.read_bytes()) if k in (b"IHDR", b"PLTE", b"IDAT", b"IEND")]


def with_early(source: Path, extra: list[tuple[bytes, bytes]]) -> bytes:
    base = plain(source)
    return build(base[:1] + extra + base[1:])


def with_image_data(source: Path, idat: list[bytes]) -> bytes:
    base = plain(source)
    return build([base[0], *((b"IDAT", d) for d in idat), (b"IEND", b"")])


def image_data(source: Path) -> bytes:
    return b"".join(b for k, b in chunks(source.read_bytes()) if k == b"IDAT")


def apng(extra_frame_data: bytes = b"", extra_chunk: bool = False) -> bytes:
    """A two-frame APNG of the corpus picture; `extra_frame_data` after the second frame's
    zlib stream, or in an fdAT of its own."""
    im = Image.open(RGB_PNG).convert("RGB").resize((64, 64))
    out = io.BytesIO()
    im.save(out, "PNG", save_all=True, append_images=[im.rotate(90)], duration=100)
    parts = chunks(out.getvalue())
    (last,) = [i for i, (k, _) in enumerate(parts) if k == b"fdAT"]
    body = parts[last][1]
    if extra_chunk:
        seq = struct.pack(">I", struct.unpack(">I", body[:4])[0] + 1)
        parts.insert(last + 1, (b"fdAT", seq + extra_frame_data))
    else:
        parts[last] = (b"fdAT", body + extra_frame_data)
    return build(parts)


def _srgb_profile() -> bytes:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return b"ICC profile\0\0" + zlib.compress(profile)


WRONG_LENGTH = {
    "gAMA": (RGB_PNG, b"gAMA", struct.pack(">I", 45455)),
    "pHYs": (RGB_PNG, b"pHYs", struct.pack(">IIB", 2835, 2835, 1)),
    "cICP": (RGB_PNG, b"cICP", b"\x01\x0d\x00\x01"),
    "cLLI": (RGB_PNG, b"cLLI", b"\0" * 8),
    "sRGB": (RGB_PNG, b"sRGB", b"\0"),
    "sBIT": (RGB_PNG, b"sBIT", b"\x08\x08\x08"),
    "sBIT-grey": (GREY_PNG, b"sBIT", b"\x08"),
    "cHRM": (RGB_PNG, b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000)),
    "mDCV": (RGB_PNG, b"mDCV", b"\0" * 24),
}

CASES: dict[str, bytes] = {
    **{
        f"long_{n}.png": with_early(src, [(kind, body + MARK)])
        for n, (src, kind, body) in WRONG_LENGTH.items()
    },
    "two_gAMA.png": with_early(RGB_PNG, [(b"gAMA", struct.pack(">I", 45455)), (b"gAMA", MARK[:4])]),
    "two_sRGB.png": with_early(RGB_PNG, [(b"sRGB", b"\0"), (b"sRGB", b"\1")]),
    "two_cHRM.png": with_early(RGB_PNG, [(b"cHRM", b"\0" * 32), (b"cHRM", MARK * 2 + b"\0\0")]),
    "two_iCCP.png": with_early(RGB_PNG, [(b"iCCP", _srgb_profile()), (b"iCCP", _srgb_profile())]),
    "palette_of_rgb.png": with_early(RGB_PNG, [(b"PLTE", MARK * 3)]),
    "idat_tail.png": with_image_data(RGB_PNG, [image_data(RGB_PNG) + MARK]),
    "idat_extra.png": with_image_data(RGB_PNG, [image_data(RGB_PNG), MARK]),
    "idat_extra_zlib.png": with_image_data(RGB_PNG, [image_data(RGB_PNG), zlib.compress(MARK * 100)]),
    "idat_split_tail.png": with_image_data(
        RGB_PNG, [image_data(RGB_PNG)[:1000], image_data(RGB_PNG)[1000:] + MARK, MARK]
    ),
    "fdat_tail.png": apng(MARK),
}
REFUSED: dict[str, tuple[bytes, str]] = {
    "trns_rgb.png": (with_early(RGB_PNG, [(b"tRNS", b"\0\1\0\1\0\1" + MARK)]), "tRNS chunk is 21 bytes"),
    "trns_grey.png": (with_early(GREY_PNG, [(b"tRNS", b"\0\1" + MARK)]), "tRNS chunk is 17 bytes"),
    "two_trns.png": (with_early(GREY_PNG, [(b"tRNS", b"\0\1"), (b"tRNS", b"\0\2")]), "two tRNS chunks"),
    "actl.png": (with_early(RGB_PNG, [(b"acTL", struct.pack(">II", 1, 0) + MARK)]), "acTL chunk is 23"),
    "fdat_extra.png": (apng(MARK, extra_chunk=True), "fdAT chunk after the end of its frame"),
}


# TIFF -------------------------------------------------------------------------------


def _entries(data: bytes) -> tuple[str, dict[int, int]]:
    """Byte order and where each entry of the first IFD is."""
    reader = TiffReader(data)
    (count,) = struct.unpack_from(reader.endian + "H", data, reader.first_ifd)
    places = {}
    for i in range(count):
        at = reader.first_ifd + 2 + 12 * i
        places[struct.unpack_from(reader.endian + "H", data, at)[0]] = at
    return reader.endian, places


def retag(data: bytes, tag: int, typ: int, count: int, value: bytes) -> bytes:
    """`data` with the entry of `tag` given another type, count and value (appended)."""
    endian, places = _entries(data)
    out = bytearray(data)
    at = places[tag]
    if len(value) <= 4:
        pointer = value.ljust(4, b"\0")
    else:
        pointer = struct.pack(endian + "I", len(out))
        out += value
    out[at + 2 : at + 12] = struct.pack(endian + "HI", typ, count) + pointer
    return bytes(out)


def strip_slack(data: bytes, offsets_tag: int = 273, counts_tag: int = 279) -> bytes:
    """The last strip (or tile) moved to the end of the file with MARK after its pixels,
    and its byte count saying so."""
    reader = TiffReader(data)
    ifd = reader.read_ifd(reader.first_ifd)
    offsets, counts = reader.ints(ifd.entries[offsets_tag]), reader.ints(ifd.entries[counts_tag])
    out = bytearray(data)
    new_at = len(out)
    out += data[offsets[-1] : offsets[-1] + counts[-1]] + MARK
    for tag, value in ((offsets_tag, new_at), (counts_tag, counts[-1] + len(MARK))):
        entry = ifd.entries[tag]
        fmt = reader.endian + {3: "H", 4: "I"}[entry.type]
        size = struct.calcsize(fmt)
        struct.pack_into(fmt, out, entry.offset + size * (entry.count - 1), value)
    return bytes(out)


def tiled(planar: bool) -> bytes:
    """The corpus picture as uncompressed 16x16 tiles (tifffile's writer), one plane per
    channel when `planar`."""
    pixels = np.asarray(Image.open(RGB_PNG).convert("RGB").resize((40, 24)))
    out = io.BytesIO()
    if planar:
        planes = pixels.transpose(2, 0, 1)
        tifffile.imwrite(out, planes, photometric="rgb", tile=(16, 16), planarconfig="separate")
    else:
        tifffile.imwrite(out, pixels, photometric="rgb", tile=(16, 16))
    return out.getvalue()


TIFF = RAW_TIFF.read_bytes()
CASES |= {
    "strip_slack.tif": strip_slack(TIFF),
    "strip_slack_lab.tif": strip_slack((CORPUS / "tiff" / "pillow__hopper.Lab.tif").read_bytes()),
    "strip_slack_tiles.tif": strip_slack(tiled(False), 324, 325),
    "strip_slack_planar_tiles.tif": strip_slack(tiled(True), 324, 325),
    "xres_ascii.tif": retag(TIFF, 282, 2, 16, MARK + b"\0"),
    "xres_three.tif": retag(TIFF, 282, 5, 3, struct.pack("<II", 72, 1) + MARK + b"\0"),
    "page_ascii.tif": retag(TIFF, 297, 2, 16, MARK + b"\0"),
    "page_long_count.tif": retag(TIFF, 297, 3, 8, MARK + b"\0"),
}
REFUSED |= {
    "bps_count.tif": (retag(TIFF, 258, 3, 8, struct.pack("<H", 16) + MARK[:14]), "BitsPerSample"),
    "spp_ascii.tif": (retag(TIFF, 277, 2, 16, MARK + b"\0"), "SamplesPerPixel"),
}
REMOVED = {
    "long_": "malformed",
    "two_": "second",
    "palette_": "unused PLTE",
    "idat_": "data hidden after the compressed image data",
    "fdat_": "data hidden after the compressed image data",
    "strip_slack_t": "data hidden after the pixels of a tile",
    "strip_slack_p": "data hidden after the pixels of a tile",
    "strip_slack.": "data hidden after the pixels of a strip",
    "strip_slack_l": "data hidden after the pixels of a strip",
    "xres_": "malformed tag XResolution",
    "page_": "malformed tag PageNumber",
}


@pytest.fixture(scope="module")
def cleaned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("slack")
    (root / "in").mkdir()
    for name, data in CASES.items():
        (root / "in" / name).write_bytes(data)
    for name, (data, _) in REFUSED.items():
        (root / "in" / name).write_bytes(data)
    proc = run_cli("clean", str(root / "in"), "--output", str(root / "out"), "--json")
    reports = {Path(r["input"]).name: r for r in json_lines(proc.stdout)}
    return root, reports


@pytest.mark.parametrize("name", sorted(CASES))
def test_planted_data_in_kept_structures_is_removed(
    name: str, cleaned: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    root, reports = cleaned
    report = reports[name]
    assert report["status"] == "cleaned", report
    out = Path(report["output"]).read_bytes()
    assert MARK not in out and MARK[:4] not in out
    assert zlib.compress(MARK * 100) not in out
    assert same_pixels(root / "in" / name, Path(report["output"]))
    (word,) = [w for prefix, w in REMOVED.items() if name.startswith(prefix)]
    assert any(word in r["what"] for r in report["removed"]), report["removed"]
    again = json_lines(run_cli("inspect", report["output"], "--json").stdout)[0]
    assert again["carries"] == [], "the clean copy still carries something"


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_a_needed_structure_that_does_not_fit_refuses_the_file(
    name: str, cleaned: tuple[Path, dict[str, dict[str, Any]]]
) -> None:
    report = cleaned[1][name]
    assert report["status"] == "refused" and REFUSED[name][1] in report["reason"], report


def test_only_the_first_of_a_once_only_chunk_is_kept(cleaned: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    reports = cleaned[1]
    for name, kind in (("two_gAMA.png", b"gAMA"), ("two_iCCP.png", b"iCCP"), ("two_sRGB.png", b"sRGB")):
        kept = [body for k, body in chunks(Path(reports[name]["output"]).read_bytes()) if k == kind]
        first = next(body for k, body in chunks(CASES[name]) if k == kind)
        assert len(kept) == 1 and (kind == b"iCCP" or kept[0] == first), name


def test_the_image_data_is_cut_exactly_at_the_end_of_its_stream(
    cleaned: tuple[Path, dict[str, dict[str, Any]]],
) -> None:
    for name in ("idat_tail.png", "idat_extra.png", "idat_extra_zlib.png", "idat_split_tail.png"):
        out = Path(cleaned[1][name]["output"]).read_bytes()
        assert b"".join(b for k, b in chunks(out) if k == b"IDAT") == image_data(RGB_PNG), name


def test_a_clean_png_keeps_its_image_data_chunks_as_they_are() -> None:
    from safeshare.formats import png

    data = RGB_PNG.read_bytes()
    kept = [bytes(p) for p in png.parse(data).keep]
    assert [p for p in kept if p[4:8] == b"IDAT"] == [
        synth.png_chunk(b"IDAT", b) for k, b in chunks(data) if k == b"IDAT"
    ]
