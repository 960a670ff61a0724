"""TIFF sample layouts Pillow cannot read (packed 10/12/14-bit, 16/64-bit float, float RGB,
64-bit integers): cleaned like any TIFF, their copies checked by safeshare's own second
reading (formats/tiff_reread.py); layouts that are no picture stay refused with one line.

The files are written here (numpy and zlib, no TIFF library), tagged by ExifTool, cleaned by
the real command; ExifTool must then find nothing, and the strips or tiles of the copy must
be the original's, byte for byte (read by the small reader below). Where tifffile and
imagecodecs are installed, both files are also decoded and compared as arrays.
"""

from __future__ import annotations

import dataclasses
import struct
import subprocess
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat
from safeshare.formats.tiff import Tiff
from tests.conftest import json_lines, run_cli
from tests.helpers import exiftool_read, require_exiftool, residual_tags

H, W = 11, 13  # odd sizes: packed rows end mid-byte, tiles are partly padding
WIRED = hasattr(ImageFormat, "reads_with_pillow")  # verify.py and pipeline.py ask it per file
NOT_WIRED = "verify.py and pipeline.py do not yet ask Tiff.reads_with_pillow(cleaned)"
# The leak tags ExifTool writes into every input; none may be in a copy.
TAGGING = ["-GPSLatitude=48.85", "-GPSLatitudeRef=N", "-Make=Canon", "-Model=EOS", "-Artist=Alice"]


# ---- writing test files -------------------------------------------------------------------


def _row_bytes(row: np.ndarray, bits: int, order: str) -> bytes:
    """One row of samples (width * samples values) as TIFF stores it."""
    if bits == row.dtype.itemsize * 8:
        return row.astype(row.dtype.newbyteorder(order)).tobytes()
    value = 0
    for sample in row.astype(np.uint64).tolist():  # packed: a bit stream, most significant first
        value = (value << bits) | int(sample)
    pad = -(len(row) * bits) % 8
    return (value << pad).to_bytes((len(row) * bits + pad) // 8, "big")


def _predicted(block: np.ndarray, predictor: int, order: str) -> bytes:
    """Rows of a strip or tile with the horizontal (2) or floating-point (3) predictor."""
    rows, _, spp = block.shape
    out = bytearray()
    for r in range(rows):
        row = block[r].reshape(-1)
        if predictor == 2:
            wide = row.view(np.dtype(f"u{row.dtype.itemsize}"))
            diff = wide.copy()
            diff[spp:] = wide[spp:] - wide[:-spp]
            out += diff.astype(diff.dtype.newbyteorder(order)).tobytes()
        else:  # byte planes, most significant first, then byte differences (libtiff fpDiff)
            size = row.dtype.itemsize
            planes = row.astype(row.dtype.newbyteorder(">")).view(np.uint8).reshape(-1, size).T.reshape(-1)
            diff = planes.copy()
            diff[spp:] = planes[spp:] - planes[:-spp]
            out += diff.tobytes()
    return bytes(out)


def make_tiff(
    pixels: np.ndarray,
    *,
    photometric: int,
    bits: int | None = None,
    compression: int = 1,
    predictor: int = 1,
    tile: int | None = None,
    rows: int | None = None,
    planar: int = 1,
    order: str = "<",
    extra: tuple[int, ...] = (),
    sample_format: tuple[int, ...] | None = None,
) -> bytes:
    """A one-page TIFF of `pixels` (height, width, samples)."""
    height, width, spp = pixels.shape
    bits = bits or pixels.dtype.itemsize * 8
    kind = {"u": 1, "i": 2, "f": 3, "c": 6}[pixels.dtype.kind]
    planes = [pixels[:, :, i : i + 1] for i in range(spp)] if planar == 2 else [pixels]
    blocks: list[np.ndarray] = []
    for plane in planes:
        if tile:
            shape = (-(-height // tile) * tile, -(-width // tile) * tile, plane.shape[2])
            padded = np.zeros(shape, plane.dtype)
            padded[:height, :width] = plane
            corners = [(y, x) for y in range(0, height, tile) for x in range(0, width, tile)]
            blocks += [padded[y : y + tile, x : x + tile] for y, x in corners]
        else:
            step = rows or height
            blocks += [plane[y : y + step] for y in range(0, height, step)]
    chunks = []
    for block in blocks:
        if compression != 1 and predictor != 1:
            raw = _predicted(block, predictor, order)
        else:
            raw = b"".join(_row_bytes(block[r].reshape(-1), bits, order) for r in range(block.shape[0]))
        chunks.append(zlib.compress(raw) if compression == 8 else raw)
    tags: dict[int, tuple[int, list[int]]] = {
        256: (4, [width]),
        257: (4, [height]),
        258: (3, [bits] * spp),
        259: (3, [compression]),
        262: (3, [photometric]),
        277: (3, [spp]),
        284: (3, [planar]),
        339: (3, list(sample_format or [kind] * spp)),
    }
    if predictor != 1:
        tags[317] = (3, [predictor])
    if extra:
        tags[338] = (3, list(extra))
    offsets, counts = (324, 325) if tile else (273, 279)
    if tile:
        tags[322] = tags[323] = (4, [tile])
    else:
        tags[278] = (4, [rows or height])
    data = bytearray(struct.pack(order + "2sHI", b"II" if order == "<" else b"MM", 42, 0))
    positions = []
    for chunk in chunks:
        positions.append(len(data))
        data += chunk
    data += b"\0" * (len(data) & 1)
    tags[offsets], tags[counts] = (4, positions), (4, [len(c) for c in chunks])
    ifd_at = len(data)
    values_at = ifd_at + 2 + 12 * len(tags) + 4
    head, values = bytearray(struct.pack(order + "H", len(tags))), bytearray()
    for tag in sorted(tags):
        typ, vals = tags[tag]
        raw = struct.pack(f"{order}{len(vals)}{'H' if typ == 3 else 'I'}", *vals)
        head += struct.pack(order + "HHI", tag, typ, len(vals))
        if len(raw) <= 4:
            head += raw.ljust(4, b"\0")
        else:
            head += struct.pack(order + "I", values_at + len(values))
            values += raw
    head += struct.pack(order + "I", 0)
    data += head + values
    struct.pack_into(order + "I", data, 4, ifd_at)
    return bytes(data)


def _samples(dtype: str, spp: int, bits: int | None = None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    kind = np.dtype(dtype).kind
    if kind == "f":
        return (rng.standard_normal((H, W, spp)) * 100).astype(dtype)
    if kind == "c":
        return (rng.standard_normal((H, W, spp)) + 1j).astype(dtype)
    top = (1 << bits) - 1 if bits else int(np.iinfo(dtype).max)
    low = 0 if kind == "u" or bits else int(np.iinfo(dtype).min)
    return rng.integers(low, top, (H, W, spp), dtype=dtype, endpoint=True)


# name -> (samples, make_tiff options)
VARIANTS: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
    "12-bit grey, packed, big-endian": (_samples("u2", 1, 12), {"bits": 12, "photometric": 1, "order": ">"}),
    "10-bit grey, packed": (_samples("u2", 1, 10), {"bits": 10, "photometric": 1}),
    "14-bit grey, packed, strips": (_samples("u2", 1, 14), {"bits": 14, "photometric": 1, "rows": 4}),
    "12-bit RGB, packed": (_samples("u2", 3, 12), {"bits": 12, "photometric": 2}),
    "16-bit float grey": (_samples("f2", 1), {"photometric": 1}),
    "16-bit float grey, Deflate, predictor 3": (
        _samples("f2", 1),
        {"photometric": 1, "compression": 8, "predictor": 3},
    ),
    "32-bit float RGB": (_samples("f4", 3), {"photometric": 2}),
    "32-bit float RGB, tiled": (_samples("f4", 3), {"photometric": 2, "tile": 16}),
    "32-bit float RGB, planar": (_samples("f4", 3), {"photometric": 2, "planar": 2}),
    "32-bit float RGB, Deflate, predictor 3, big-endian": (
        _samples("f4", 3),
        {"photometric": 2, "compression": 8, "predictor": 3, "order": ">"},
    ),
    "32-bit float RGBA, tiled, Deflate, predictor 3": (
        _samples("f4", 4),
        {"photometric": 2, "extra": (2,), "compression": 8, "predictor": 3, "tile": 16},
    ),
    "64-bit float grey": (_samples("f8", 1), {"photometric": 1}),
    "64-bit float grey, Deflate, predictor 3, strips": (
        _samples("f8", 1),
        {"photometric": 1, "compression": 8, "predictor": 3, "rows": 3},
    ),
    "64-bit unsigned grey": (_samples("u8", 1), {"photometric": 1}),
    "64-bit signed grey, Deflate, predictor 2": (
        _samples("i8", 1),
        {"photometric": 1, "compression": 8, "predictor": 2},
    ),
}
# Layouts Pillow reads: they keep the Pillow reading (no reference).
PILLOW_VARIANTS: dict[str, tuple[np.ndarray, dict[str, Any]]] = {
    "8-bit grey": (_samples("u1", 1), {"photometric": 1}),
    "12-bit grey, packed, little-endian": (_samples("u2", 1, 12), {"bits": 12, "photometric": 1}),
    "16-bit signed grey": (_samples("i2", 1), {"photometric": 1}),
    "32-bit signed grey": (_samples("i4", 1), {"photometric": 1}),
    "32-bit unsigned grey": (_samples("u4", 1), {"photometric": 1}),
    "32-bit float grey, Deflate, predictor 3": (
        _samples("f4", 1),
        {"photometric": 1, "compression": 8, "predictor": 3},
    ),
    "32-bit float grey, tiled": (_samples("f4", 1), {"photometric": 1, "tile": 16}),
}
# name -> (samples, options, the start of the one-line reason)
REFUSED: dict[str, tuple[np.ndarray, dict[str, Any], str]] = {
    "complex float": (
        _samples("c8", 1),
        {"photometric": 1},
        "TIFF with 64-bit complex float samples is data, not a picture",
    ),
    "12-bit float": (
        _samples("u2", 1, 12),
        {"bits": 12, "photometric": 1, "sample_format": (3,)},
        "TIFF with 12-bit float samples is not supported",
    ),
    "CMYK float": (
        _samples("f4", 4),
        {"photometric": 5},
        "TIFF with CMYK colour and 32-bit float samples is not supported",
    ),
    "mixed sample types": (
        _samples("f4", 3),
        {"photometric": 2, "sample_format": (3, 3, 1)},
        "TIFF whose samples differ in type or bit depth is not supported",
    ),
    "predictor on packed 12-bit": (
        _samples("u2", 1, 12),
        {"bits": 12, "photometric": 1, "order": ">", "predictor": 2},
        "TIFF predictor 2 with 12-bit unsigned integer samples is not supported",
    ),
}


def _chunks(data: bytes) -> list[bytes]:
    """The strips or tiles of the first page, read apart from safeshare's readers."""
    order = "<" if data[:2] == b"II" else ">"
    (at,) = struct.unpack_from(order + "I", data, 4)
    (count,) = struct.unpack_from(order + "H", data, at)
    values: dict[int, tuple[int, ...]] = {}
    for i in range(count):
        tag, typ, n, inline = struct.unpack_from(order + "HHI4s", data, at + 2 + 12 * i)
        code = {3: "H", 4: "I"}.get(typ)
        if code is None:
            continue
        raw = inline if n * struct.calcsize(code) <= 4 else data[struct.unpack(order + "I", inline)[0] :]
        values[tag] = struct.unpack_from(f"{order}{n}{code}", raw)
    offsets, counts = (values[273], values[279]) if 273 in values else (values[324], values[325])
    return [data[o : o + c] for o, c in zip(offsets, counts, strict=True)]


def _tagged(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / "in" / (name.replace(" ", "_").replace(",", "") + ".tif")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    tool = require_exiftool()
    subprocess.run([tool, "-q", "-q", "-overwrite_original", *TAGGING, str(path)], check=True)
    return path


def _clean(paths: list[Path], out: Path) -> dict[str, dict[str, Any]]:
    done = run_cli("clean", "--json", "-o", str(out), *map(str, paths))
    return {Path(r["input"]).name: r for r in json_lines(done.stdout)}


# ---- through the command ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(VARIANTS) + list(PILLOW_VARIANTS))
def test_variant_is_cleaned_without_leaks_and_keeps_its_image_data(tmp_path: Path, name: str) -> None:
    if name in VARIANTS and not WIRED:
        pytest.skip(NOT_WIRED)
    pixels, options = {**VARIANTS, **PILLOW_VARIANTS}[name]
    source = _tagged(tmp_path, name, make_tiff(pixels, **options))
    assert {"GPS:GPSLatitude", "IFD0:Make", "IFD0:Artist"} <= set(exiftool_read([source])[str(source)])
    result = _clean([source], tmp_path / "out")[source.name]
    assert result["status"] == "cleaned", result
    assert result["mode"] == "lossless"
    output = Path(result["output"])
    record = exiftool_read([output])[str(output.resolve())]
    assert not residual_tags(record), residual_tags(record)
    assert not [k for k in record if k.startswith("GPS") or k.endswith((":Make", ":Model", ":Artist"))]
    assert _chunks(output.read_bytes()) == _chunks(source.read_bytes())


def test_variants_decode_to_the_same_arrays_with_tifffile(tmp_path: Path) -> None:
    if not WIRED:
        pytest.skip(NOT_WIRED)
    tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed: arrays not compared")
    pytest.importorskip("imagecodecs", reason="imagecodecs is not installed: tifffile cannot decode these")
    sources = [_tagged(tmp_path, name, make_tiff(p, **o)) for name, (p, o) in VARIANTS.items()]
    results = _clean(sources, tmp_path / "out")
    for (name, (pixels, options)), source in zip(VARIANTS.items(), sources, strict=True):
        result = results[source.name]
        assert result["status"] == "cleaned", (name, result)
        before, after = tifffile.imread(source), tifffile.imread(result["output"])
        assert before.dtype == after.dtype and before.shape == after.shape, name
        assert before.tobytes() == after.tobytes(), name
        planes = np.moveaxis(before, 0, -1) if options.get("planar") == 2 else before
        assert np.array_equal(planes.reshape(pixels.shape), pixels), name  # the writer above is right


def test_files_written_by_tifffile_are_cleaned(tmp_path: Path) -> None:
    """LZW, Zstandard and tifffile's own layouts, which the writer above does not make."""
    if not WIRED:
        pytest.skip(NOT_WIRED)
    tifffile = pytest.importorskip("tifffile", reason="tifffile is not installed: its files not tried")
    pytest.importorskip("imagecodecs", reason="imagecodecs is not installed: tifffile cannot encode these")
    rng = np.random.default_rng(3)
    folder = tmp_path / "in"
    folder.mkdir()
    made = {
        "f16_lzw_pred3.tif": (
            (rng.standard_normal((H, W)) * 9).astype("f2"),
            {"compression": "lzw", "predictor": 3},
        ),
        "f64_rgb_zstd.tif": (rng.standard_normal((H, W, 3)), {"compression": "zstd", "photometric": "rgb"}),
        # Little-endian: tifffile 2026.3 writes big-endian packed samples it cannot read back.
        "u12_rgb_packed.tif": (
            rng.integers(0, 4095, (H, W, 3), dtype="u2"),
            {"bitspersample": 12, "photometric": "rgb"},
        ),
        "f32_rgb_lzw_tiled.tif": (
            rng.standard_normal((40, 40, 3)).astype("f4"),
            {"compression": "lzw", "predictor": 3, "tile": (16, 16), "photometric": "rgb"},
        ),
    }
    for name, (array, options) in made.items():
        tifffile.imwrite(folder / name, array, metadata=None, **options)
        subprocess.run([require_exiftool(), "-q", "-q", "-overwrite_original", *TAGGING, str(folder / name)])
    results = _clean(sorted(folder.iterdir()), tmp_path / "out")
    for name, (array, _) in made.items():
        assert results[name]["status"] == "cleaned", results[name]
        after = tifffile.imread(results[name]["output"])
        assert after.dtype == array.dtype and np.array_equal(after, array), name
        record = exiftool_read([Path(results[name]["output"])])
        assert not residual_tags(next(iter(record.values())))


@pytest.mark.parametrize("name", list(REFUSED))
def test_layouts_that_are_no_picture_are_refused_with_one_line(tmp_path: Path, name: str) -> None:
    pixels, options, reason = REFUSED[name]
    source = tmp_path / "in.tif"
    source.write_bytes(make_tiff(pixels, **options))
    result = _clean([source], tmp_path / "out")[source.name]
    assert result["status"] == "refused"
    assert result["reason"].startswith(reason), result["reason"]
    assert "\n" not in result["reason"]
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_damaged_variant_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "cut.tif"
    whole = make_tiff(_samples("f2", 1), photometric=1)
    cut = bytearray(whole)
    struct.pack_into("<I", cut, _first_entry(cut, 279) + 8, 9999)
    source.write_bytes(bytes(cut))  # StripByteCounts says more than the file holds
    result = _clean([source], tmp_path / "out")[source.name]
    assert result["status"] == "refused"
    assert "runs past the end" in result["reason"]


# ---- the second reading on its own --------------------------------------------------------


def _cleaned(name: str) -> tuple[Cleaned, bytes]:
    pixels, options = {**VARIANTS, **PILLOW_VARIANTS}[name]
    cleaned = Tiff().clean(bytearray(make_tiff(pixels, **options)), CleanOptions())
    return cleaned, b"".join(bytes(part) for part in cleaned.parts)


@pytest.mark.parametrize("name", list(PILLOW_VARIANTS))
def test_layouts_pillow_reads_keep_the_pillow_reading(name: str) -> None:
    cleaned, _ = _cleaned(name)
    assert cleaned.reference is None
    assert Tiff().reads_with_pillow(cleaned)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_other_layouts_are_read_again_by_safeshare(name: str) -> None:
    cleaned, output = _cleaned(name)
    assert cleaned.reference is not None and not Tiff().reads_with_pillow(cleaned)
    assert Tiff().reread(output, cleaned) is None
    again = Tiff().clean(bytearray(output), CleanOptions())  # a clean copy is its own clean copy
    assert b"".join(bytes(part) for part in again.parts) == output
    assert again.reference == cleaned.reference


def _first_entry(output: bytearray, tag: int) -> int:
    (at,) = struct.unpack_from("<I", output, 4)
    (count,) = struct.unpack_from("<H", output, at)
    entries = [at + 2 + 12 * i for i in range(count)]
    return next(e for e in entries if struct.unpack_from("<H", output, e)[0] == tag)


def _tampered(change: str) -> str | None:
    cleaned, output = _cleaned("32-bit float RGB, planar")
    data = bytearray(output)
    if change == "pixel":
        data[20] ^= 1
    elif change == "width":
        entry = _first_entry(data, 256)
        struct.pack_into("<I", data, entry + 8, W + 1)
    elif change == "tag":
        entry = _first_entry(data, 284)  # PlanarConfiguration turned into HostComputer
        struct.pack_into("<H", data, entry, 316)
    elif change == "appended":
        data += b"GPS 48.85N"
    elif change == "truncated":
        del data[-30:]
    elif change == "orientation":
        return Tiff().reread(bytes(data), dataclasses.replace(cleaned, orientation=6))
    elif change == "pages":
        return Tiff().reread(bytes(data), dataclasses.replace(cleaned, frames=2))
    return Tiff().reread(bytes(data), cleaned)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ("pixel", "output page 1 image data differs from the original's"),
        ("width", "output page 1 tags differ from the original's"),
        ("tag", "output still carries TIFF tag 316 on page 1"),
        ("appended", "output carries 10 bytes outside its image"),
        ("truncated", "lies outside the file"),
        ("orientation", "output orientation 1, expected 6"),
        ("pages", "the clean copy has no usable reference to check it against"),
    ],
)
def test_second_reading_finds_what_differs(change: str, problem: str) -> None:
    found = _tampered(change)
    assert found is not None and problem in found, found


def test_second_reading_is_not_the_cleaners_parser() -> None:
    import ast

    import safeshare.formats.tiff_reread as reread

    tree = ast.parse(Path(reread.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    ours = {m for m in imported if m and m.startswith("safeshare")}
    assert ours <= {"safeshare.binary"}, ours  # nothing of the cleaner's TIFF or IFD parsing
