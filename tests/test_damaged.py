"""Damaged files are handled the way image readers handle them, or refused with a reason."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image

from safeshare.batch import clean_one
from safeshare.pipeline import Pipeline, Settings, Status
from tests import synth
from tests.helpers import same_pixels


def _clean(tmp_path: Path, name: str, data: bytes) -> tuple[Status, str, bytes]:
    source = tmp_path / name
    source.write_bytes(data)
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    return result.status, result.reason, result.output.read_bytes() if result.output else b""


def _last_next_pointer(data: bytes) -> int:
    """Offset of the next-IFD pointer of the last IFD of a little-endian TIFF."""
    offset = struct.unpack_from("<I", data, 4)[0]
    while True:
        count = struct.unpack_from("<H", data, offset)[0]
        pointer = offset + 2 + 12 * count
        following = struct.unpack_from("<I", data, pointer)[0]
        if following == 0:
            return pointer
        offset = following


def test_tiff_page_list_looping_back_ends_there(tmp_path: Path) -> None:
    data = bytearray(synth.tiff(pages=2, with_thumbnail_page=False))
    first_ifd = struct.unpack_from("<I", data, 4)[0]
    struct.pack_into("<I", data, _last_next_pointer(bytes(data)), first_ifd)  # page 2 -> page 1
    status, reason, out = _clean(tmp_path, "loop.tif", bytes(data))
    assert status is Status.CLEANED, reason
    assert Image.open(io.BytesIO(out)).n_frames == 2


def test_gif_with_stray_bytes_between_blocks_keeps_every_frame(tmp_path: Path) -> None:
    data = synth.gif()[: -len(synth.TRAILER)]
    screen_end = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    damaged = data[:screen_end] + b"JUNKJUNK" + data[screen_end:]
    status, reason, out = _clean(tmp_path, "junk.gif", damaged)
    assert status is Status.CLEANED, reason
    assert b"JUNK" not in out and same_pixels(damaged, out)


def test_gif_frame_placed_far_out_is_refused_as_too_large(tmp_path: Path) -> None:
    """A 4x4 frame at (65000, 65000) makes decoders allocate a 4-gigapixel canvas."""
    buffer = io.BytesIO()
    Image.new("P", (4, 4)).save(buffer, "GIF")
    data = bytearray(buffer.getvalue())
    descriptor = 13 + (3 << ((data[10] & 7) + 1))
    assert data[descriptor] == 0x2C
    struct.pack_into("<HH", data, descriptor + 1, 65000, 65000)  # left, top
    status, reason, _ = _clean(tmp_path, "bomb.gif", bytes(data))
    assert status is Status.REFUSED and "over the limit" in reason


def test_pillow_messages_carry_no_object_addresses(tmp_path: Path) -> None:
    png = bytearray(synth.raw_png(4, 4, 8, 2, bytes(48), False))
    png[25] = 1  # IHDR colour type 1 does not exist: Pillow cannot identify the file
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))
    status, reason, _ = _clean(tmp_path, "odd.png", bytes(png))
    assert status is Status.REFUSED and "0x" not in reason and "BytesIO" not in reason


def test_tiff_strip_claiming_more_bytes_than_the_file_is_reencoded(tmp_path: Path) -> None:
    """libtiff reads what is there; the page is decoded and re-encoded losslessly instead of
    being copied with an impossible byte count."""
    buffer = io.BytesIO()
    synth.picture((40, 30)).save(buffer, "TIFF")
    data = bytearray(buffer.getvalue())
    offset = struct.unpack_from("<I", data, 4)[0]
    for i in range(struct.unpack_from("<H", data, offset)[0]):
        at = offset + 2 + 12 * i
        if struct.unpack_from("<H", data, at)[0] == 279:  # StripByteCounts
            struct.pack_into("<HHII", data, at, 279, 4, 1, 35_711_440)
    status, reason, out = _clean(tmp_path, "strip.tif", bytes(data))
    assert status is Status.CLEANED, reason
    assert Image.open(io.BytesIO(out)).tobytes() == synth.picture((40, 30)).tobytes()
