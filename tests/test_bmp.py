"""BMP: the pixel array copied byte for byte, headers rebuilt, everything else dropped.

Files are made with Pillow, or built by hand where Pillow writes no such BMP (V5 headers
with profiles, bit fields, RLE8). Every clean copy must decode to the same pixels."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import pytest
from PIL import Image, ImageCms

from safeshare.batch import clean_one
from safeshare.errors import CorruptImage, InputError, Truncated, UnsupportedFormat
from safeshare.findings import Kind
from safeshare.formats import CleanOptions, detect
from safeshare.formats.bmp import Bmp
from safeshare.pipeline import Pipeline, Settings, Status
from tests.conftest import json_lines, run_cli

SRGB, LINKED, EMBEDDED = b"BGRs", b"KNIL", b"DEBM"  # bV5CSType as the bytes stored
PATH = b"C:\\Users\\alice.smith\\AppData\\profile.icm\0"


def picture(mode: str, size: tuple[int, int] = (37, 21)) -> Image.Image:
    image = Image.new("RGB", size)
    image.putdata(
        [((x * 7) % 256, (y * 11) % 256, (x * y) % 256) for y in range(size[1]) for x in range(size[0])]
    )
    if mode == "P":
        return image.quantize(colors=200)
    return image.convert(mode)


def pillow_bmp(mode: str) -> bytes:
    out = io.BytesIO()
    picture(mode).save(out, "BMP", dpi=(300, 300))
    return out.getvalue()


def info(width: int, height: int, bits: int, compression: int = 0, size: int = 40, **v5: int) -> bytes:
    """A BITMAPINFOHEADER (40) or V5 header (124) with bit-field masks and profile fields."""
    head = struct.pack("<IiiHHIIiiII", size, width, height, 1, bits, compression, 0, 2835, 2835, 0, 0)
    if size == 40:
        return head
    masks = struct.pack("<IIII", 0xFF0000, 0xFF00, 0xFF, 0xFF000000)
    cs = struct.pack("<I", v5.get("cs", 0x73524742))
    tail = struct.pack("<IIII", 4, v5.get("offset", 0), v5.get("length", 0), 0)
    return head + masks + cs + bytes(48) + tail


def assemble(header: bytes, extra: bytes, pixels: bytes, gap: bytes = b"", after: bytes = b"") -> bytes:
    offset = 14 + len(header) + len(extra) + len(gap)
    body = header + extra + gap + pixels + after
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, offset) + body


def rows32(width: int, height: int) -> bytes:
    return b"".join(
        bytes([x % 256, y * 9 % 256, (x + y) % 256, (x * y) % 256])
        for y in range(height)
        for x in range(width)
    )


def v5(cs: bytes, payload: bytes, before_pixels: bool) -> bytes:
    """A 32-bit V5 BMP with `payload` (profile or path) before or after the pixel array."""
    width, height = 9, 7
    pixels = rows32(width, height)
    where = 124 + (0 if before_pixels else len(pixels))
    header = info(width, height, 32, 3, 124, cs=struct.unpack("<I", cs)[0], offset=where, length=len(payload))
    if before_pixels:
        return assemble(header, b"", pixels, gap=payload)
    return assemble(header, b"", pixels, after=payload)


def rle8(image: Image.Image) -> bytes:
    """An 8-bit RLE BMP of a palette image, bottom-up: runs, one absolute run, EOL, EOB."""
    width, height = image.size
    data = image.tobytes()
    stream = bytearray()
    for y in range(height - 1, -1, -1):
        row = data[y * width : (y + 1) * width]
        stream += bytes([0, 4]) + row[:4]  # absolute mode, 4 pixels (even: no padding)
        x = 4
        while x < width:
            run = 1
            while x + run < width and run < 255 and row[x + run] == row[x]:
                run += 1
            stream += bytes([run, row[x]])
            x += run
        stream += b"\0\0"
    stream += b"\0\1"
    palette = image.getpalette() or []
    colours = len(palette) // 3
    table = b"".join(
        bytes([palette[i * 3 + 2], palette[i * 3 + 1], palette[i * 3], 0]) for i in range(colours)
    )
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(stream), 2835, 2835, colours, 0)
    return assemble(header, table, bytes(stream))


def clean(data: bytes) -> bytes:
    cleaned = Bmp().clean(data, CleanOptions())
    return b"".join(bytes(p) for p in cleaned.parts)


def decoded(data: bytes) -> tuple[tuple[int, int], str, bytes, dict[str, object]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size, image.mode, image.tobytes(), dict(image.info)


def assert_same_picture(original: bytes, output: bytes) -> None:
    a, b = decoded(original), decoded(output)
    assert a[:3] == b[:3]
    assert a[3].get("dpi") == b[3].get("dpi")
    assert Bmp().inspect(output).findings.items == []  # the copy carries nothing more
    assert clean(output) == output  # and cleaning it again changes nothing


@pytest.mark.parametrize("mode", ["P", "RGB", "1", "L"])
def test_pillow_bmps_are_copied_pixel_for_pixel(mode: str) -> None:
    data = pillow_bmp(mode)
    assert detect(data[:64]).name == "BMP"
    assert Bmp().inspect(data).findings.items == []
    out = clean(data)
    assert_same_picture(data, out)
    assert out == data  # a plain Pillow BMP is already clean


def test_32_bit_bitfields_in_an_info_header() -> None:
    width, height = 11, 5
    masks = struct.pack("<III", 0xFF0000, 0xFF00, 0xFF)
    data = assemble(info(width, -height, 32, 3), masks, rows32(width, height))  # top-down
    out = clean(data)
    assert decoded(data)[1] == "RGB"
    assert_same_picture(data, out)


def test_gap_and_trailing_data_are_dropped_and_reported() -> None:
    plain = pillow_bmp("RGB")
    offset = struct.unpack_from("<I", plain, 10)[0]
    data = assemble(plain[14:offset], b"", plain[offset:], gap=b"SECRET-GAP" * 5, after=b"SECRET-TAIL" * 9)
    found = Bmp().inspect(data).findings
    assert {f.what for f in found} == {
        "hidden data between the headers and the pixels",
        "data after the end of the image",
    }
    assert found.kinds() == {Kind.TRAILER}
    out = clean(data)
    assert b"SECRET" not in out and out == plain
    assert_same_picture(data, out)


def test_linked_profile_path_is_dropped_and_reported() -> None:
    for before in (True, False):
        data = v5(LINKED, PATH, before)
        found = Bmp().inspect(data).findings
        assert [(f.kind, f.value) for f in found] == [(Kind.NAME, PATH[:-1].decode())]
        out = clean(data)
        assert b"alice" not in out and out[14 + 56 : 14 + 60] == SRGB
        assert struct.unpack_from("<II", out, 14 + 112) == (0, 0)
        assert decoded(data)[1] == "RGBA"
        assert_same_picture(data, out)


def test_embedded_profile_is_kept_after_the_pixels() -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for before in (True, False):
        data = v5(EMBEDDED, profile, before)
        out = clean(data)
        offset, length = struct.unpack_from("<II", out, 14 + 112)
        pixels_at = struct.unpack_from("<I", out, 10)[0]
        assert out[14 + 56 : 14 + 60] == EMBEDDED
        assert 14 + offset == pixels_at + 9 * 7 * 4 and 14 + offset + length == len(out)
        assert struct.unpack_from(">I", out, 14 + offset)[0] == length
        assert_same_picture(data, out)


def test_rle8_is_kept_up_to_its_end_of_bitmap() -> None:
    image = picture("P", (40, 12))
    data = rle8(image)
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.tobytes() == image.tobytes()  # the hand-made file is right
    # Bytes inside biSizeImage after the end-of-bitmap code are never read: dropped.
    stated = struct.unpack_from("<I", data, 34)[0]
    padded = bytearray(data + b"HIDDEN")
    struct.pack_into("<I", padded, 34, stated + 6)
    struct.pack_into("<I", padded, 2, len(padded))
    assert [f.what for f in Bmp().inspect(bytes(padded)).findings] == ["data after the end of the image"]
    out = clean(bytes(padded))
    assert b"HIDDEN" not in out and out == data
    assert_same_picture(data, out)


def test_rle_data_running_past_its_stated_size_is_refused() -> None:
    data = bytearray(rle8(picture("P", (40, 12))))
    stated = struct.unpack_from("<I", data, 34)[0]
    struct.pack_into("<I", data, 34, stated - 12)  # the decoder would read past it
    with pytest.raises(CorruptImage, match="RLE"):
        Bmp().clean(bytes(data), CleanOptions())
    struct.pack_into("<I", data, 34, 0)
    with pytest.raises(CorruptImage, match="data size"):
        Bmp().clean(bytes(data), CleanOptions())


def test_palette_padding_bytes_are_zeroed() -> None:
    data = bytearray(pillow_bmp("P"))
    data[14 + 40 + 3] = 0x41  # the fourth byte of the first palette entry
    assert [f.what for f in Bmp().inspect(bytes(data)).findings] == [
        "bytes hidden in the palette's unused fields"
    ]
    out = clean(bytes(data))
    assert out == pillow_bmp("P")


@pytest.mark.parametrize(
    "change,error,message",
    [
        (lambda d: d[:14] + struct.pack("<I", 64) + d[18:], UnsupportedFormat, "OS/2"),
        (lambda d: d[:14] + struct.pack("<I", 99) + d[18:], CorruptImage, "header size"),
        (lambda d: d[:30] + struct.pack("<I", 4) + d[34:], UnsupportedFormat, "JPEG or PNG"),
        (lambda d: d[:30] + struct.pack("<I", 7) + d[34:], UnsupportedFormat, "compression 7"),
        (lambda d: d[:28] + struct.pack("<H", 12) + d[30:], UnsupportedFormat, "12-bit"),
        (lambda d: d[: len(d) - 10], Truncated, "pixel data"),
        (lambda d: d[:20], Truncated, "truncated"),
        (lambda d: d[:18] + struct.pack("<i", 0) + d[22:], CorruptImage, "size"),
    ],
)
def test_what_cannot_be_cleaned_is_refused_with_a_reason(change: object, error: type, message: str) -> None:
    assert callable(change)
    with pytest.raises(error, match=message):
        Bmp().clean(change(pillow_bmp("RGB")), CleanOptions())


def test_hostile_headers_never_crash() -> None:
    base = v5(EMBEDDED, b"x" * 200, False)
    for pos in range(2, 14 + 124, 2):
        for value in (0, 1, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF):
            data = bytearray(base)
            struct.pack_into("<I", data, pos, value)
            try:
                Bmp().inspect(bytes(data))
                Bmp().clean(bytes(data), CleanOptions(max_pixels=10**7))
            except InputError:
                pass


def test_the_pipeline_publishes_a_verified_bmp(tmp_path: Path) -> None:
    plain = pillow_bmp("RGB")
    offset = struct.unpack_from("<I", plain, 10)[0]
    source = tmp_path / "scan.bmp"
    source.write_bytes(assemble(plain[14:offset], b"", plain[offset:], after=b"TRAILER" * 4))
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.status is Status.CLEANED, result.reason
    assert (tmp_path / "out" / "scan.bmp").read_bytes() == plain


def test_safeshare_clean_does_not_refuse_bmp(tmp_path: Path) -> None:
    source = tmp_path / "photo.bmp"
    source.write_bytes(v5(LINKED, PATH, False))
    out = tmp_path / "out"
    proc = run_cli("clean", str(source), "--output", str(out), "--json")
    assert proc.returncode == 0, proc.stderr
    [record] = json_lines(proc.stdout)
    assert record["status"] == "cleaned" and record["format"] == "BMP" and record["mode"] == "lossless"
    assert any(f["kind"] == "name" for f in record["removed"])
    published = (out / "photo.bmp").read_bytes()
    assert b"alice" not in published
    assert decoded(published)[:3] == decoded(source.read_bytes())[:3]


MARK = b"LEAKGPS+48.8584+002.2945/SN123"


def raw_bmp(width: int, height: int, bits: int, rows: bytes, palette: bytes = b"") -> bytes:
    colours = len(palette) // 4
    header = struct.pack("<IiiHHIIiiII", 40, width, height, 1, bits, 0, len(rows), 2835, 2835, colours, 0)
    return assemble(header, palette, rows)


def pixel_array(data: bytes) -> bytes:
    return data[struct.unpack_from("<I", data, 10)[0] :]


def test_row_padding_is_zeroed_and_reported() -> None:
    rows = b"".join(b"\x10\x20\x30" + MARK[i : i + 1] for i in range(len(MARK)))  # 1 pad byte a row
    data = raw_bmp(1, len(MARK), 24, rows)
    found = Bmp().inspect(data).findings
    assert [(f.kind, f.what, f.value) for f in found] == [
        (Kind.OTHER, "data hidden in the row padding", "30 bytes")
    ]
    out = clean(data)
    assert MARK[:4] not in out and pixel_array(out) == b"\x10\x20\x30\0" * len(MARK)
    assert_same_picture(data, out)


def test_bits_after_the_last_pixel_of_a_row_are_padding() -> None:
    palette = b"\0\0\0\0\xff\xff\xff\0"
    rows = b"\xbf\xff\xff\xff" + b"\xa0\0\0\0"  # 3 pixels of 1 bit: 5 bits and 3 bytes of padding
    data = raw_bmp(3, 2, 1, rows, palette)
    assert [f.what for f in Bmp().inspect(data).findings] == ["data hidden in the row padding"]
    out = clean(data)
    assert pixel_array(out) == b"\xa0\0\0\0\xa0\0\0\0"
    assert_same_picture(data, out)


def test_the_x_byte_of_32_bit_pixels_is_zeroed_and_reported() -> None:
    pixels = b"".join(b"\x10\x20\x30" + MARK[i : i + 1] for i in range(len(MARK)))
    data = raw_bmp(len(MARK), 1, 32, pixels)
    assert decoded(data)[1] == "RGB"
    found = Bmp().inspect(data).findings
    assert [(f.kind, f.what) for f in found] == [(Kind.OTHER, "data hidden in the pixels' unused bits")]
    out = clean(data)
    assert pixel_array(out) == b"\x10\x20\x30\0" * len(MARK)
    assert_same_picture(data, out)


@pytest.mark.parametrize("masks", [None, (0x7C00, 0x3E0, 0x1F)])
def test_the_top_bit_of_16_bit_555_pixels_is_zeroed(masks: tuple[int, int, int] | None) -> None:
    width, height = 5, 3  # 10 bytes a row, 2 of them padding
    rows = b"".join(
        struct.pack("<5H", *((x * 977 + y * 131) | 0x8000 for x in range(5))) + b"\0\0" for y in range(3)
    )
    if masks is None:
        data = raw_bmp(width, height, 16, rows)
    else:
        data = assemble(info(width, height, 16, 3), struct.pack("<III", *masks), rows)
    assert [f.what for f in Bmp().inspect(data).findings] == ["data hidden in the pixels' unused bits"]
    out = clean(data)
    assert all(b < 0x80 for b in pixel_array(out)[1::2])
    assert_same_picture(data, out)


def test_pixels_using_every_bit_are_kept_as_they_are() -> None:
    width, height = 5, 3
    rows = b"".join(struct.pack("<5H", *(0xFFFF - x * 977 - y for x in range(5))) + b"\0\0" for y in range(3))
    data = assemble(info(width, height, 16, 3), struct.pack("<III", 0xF800, 0x7E0, 0x1F), rows)  # 5-6-5
    assert Bmp().inspect(data).findings.items == []
    assert pixel_array(clean(data)) == pixel_array(data)
    alpha = v5(SRGB, b"", True)  # 32-bit, the fourth byte is alpha (the mask says so)
    assert decoded(alpha)[1] == "RGBA"
    assert Bmp().inspect(alpha).findings.items == []
    assert pixel_array(clean(alpha)) == pixel_array(alpha)


def test_32_bit_masks_without_alpha_leave_a_byte_that_is_zeroed() -> None:
    width, height = 9, 7
    header = bytearray(info(width, height, 32, 3, 124))
    struct.pack_into("<I", header, 52, 0)  # no alpha mask: BGRX
    data = assemble(bytes(header), b"", rows32(width, height))
    assert decoded(data)[1] == "RGB"
    assert [f.what for f in Bmp().inspect(data).findings] == ["data hidden in the pixels' unused bits"]
    out = clean(data)
    assert not any(pixel_array(out)[3::4])
    assert_same_picture(data, out)


def test_a_large_array_is_rewritten_from_the_first_row_that_changes() -> None:
    width, height = 1001, 1200  # 3004 bytes a row, 1 of padding: several chunks
    row = bytes(range(256)) * 11 + bytes(range(187)) + b"\0"
    rows = bytearray(row * height)
    rows[1100 * 3004 + 3003] = rows[1199 * 3004 + 3003] = 0x41  # the padding of rows 1100, 1199
    data = raw_bmp(width, height, 24, bytes(rows))
    assert [f.value for f in Bmp().inspect(data).findings] == ["2 bytes"]
    out = clean(data)
    assert pixel_array(out) == row * height
    assert_same_picture(data, out)
    clean_data = raw_bmp(width, height, 24, row * height)
    cleaned = Bmp().clean(clean_data, CleanOptions())
    assert cleaned.findings.items == [] and isinstance(cleaned.parts[-1], memoryview)
    assert cleaned.parts[-1].obj is clean_data  # a clean array is not copied


def test_palette_entries_no_pixel_uses_are_kept() -> None:
    """A colour table is part of the picture (editors keep and reuse its colours): unused
    entries are kept as they are, without a finding (see docs/decisions.md)."""
    palette = b"\0\0\0\0" + b"".join(MARK[i : i + 3].ljust(3, b"\0") + b"\0" for i in range(0, 30, 3))
    palette = palette.ljust(1024, b"\0")
    data = raw_bmp(4, 4, 8, bytes(16), palette)
    assert Bmp().inspect(data).findings.items == []
    out = clean(data)
    assert out == data
    assert_same_picture(data, out)


@pytest.mark.parametrize("space", [SRGB, b" niW", LINKED])
def test_endpoints_and_gamma_are_zeroed_unless_calibrated(space: bytes) -> None:
    payload = PATH if space == LINKED else b""
    data = bytearray(v5(space, payload, False))
    data[14 + 60 : 14 + 108] = MARK.ljust(36, b"\0") + b"GPS1GPS2GPS3"
    found = Bmp().inspect(bytes(data)).findings
    assert "bytes hidden in the BMP header's unused colour fields" in [f.what for f in found]
    out = clean(bytes(data))
    assert out[14 + 60 : 14 + 108] == bytes(48) and b"GPS" not in out
    assert_same_picture(bytes(data), out)


def test_calibrated_endpoints_and_gamma_are_kept() -> None:
    data = bytearray(v5(b"\0\0\0\0", b"", False))
    data[14 + 60 : 14 + 108] = struct.pack("<12I", *range(1, 13))
    assert Bmp().inspect(bytes(data)).findings.items == []
    out = clean(bytes(data))
    assert out[14 + 60 : 14 + 108] == data[14 + 60 : 14 + 108]
    assert_same_picture(bytes(data), out)
