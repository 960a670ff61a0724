"""Synthetic files with a secret in every place of the leak-class table, for every format.

A clean copy must hold none of the secrets (in any encoding), nothing ExifTool can read
beyond the allowlist, no bytes after the end, and the same picture.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.findings import Kind
from safeshare.formats import CleanOptions
from safeshare.metadata.icc import sanitize_icc
from safeshare.pipeline import Pipeline, Result, Settings, Status
from tests import synth
from tests.helpers import bytes_after_end, exiftool_read, frames, psnr, residual_tags, same_pixels

BUILDERS: dict[str, Callable[[], bytes]] = {
    "jpeg-baseline.jpg": lambda: synth.jpeg(),
    "jpeg-progressive.jpg": lambda: synth.jpeg(progressive=True),
    "jpeg-grey.jpg": lambda: synth.jpeg(mode="L"),
    "jpeg-cmyk.jpg": lambda: synth.jpeg(mode="CMYK"),
    "png-rgb.png": lambda: synth.png(),
    "png-rgba.png": lambda: synth.png("RGBA"),
    "png-palette-trns.png": lambda: synth.png("P"),
    "png-grey16.png": lambda: synth.png("I;16"),
    "webp-lossy.webp": lambda: synth.webp("lossy"),
    "webp-lossless.webp": lambda: synth.webp("lossless"),
    "webp-alpha.webp": lambda: synth.webp("alpha"),
    "webp-animated.webp": lambda: synth.webp("animated"),
    "gif-animated.gif": lambda: synth.gif(),
    "gif-still.gif": lambda: synth.gif(animated=False),
    "tiff-multipage.tif": lambda: synth.tiff(),
    "heic-motion.heic": lambda: synth.heic(),
    "avif.avif": lambda: synth.avif(),
}
REENCODED = {"heic-motion.heic", "avif.avif"}


def clean(tmp_path: Path, name: str, data: bytes, **settings: object) -> Result:
    source = tmp_path / "in" / name
    source.parent.mkdir(exist_ok=True)
    source.write_bytes(data)
    return clean_one(Pipeline(Settings(**settings)), source, tmp_path / "out")  # type: ignore[arg-type]


def assert_clean(result: Result) -> bytes:
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None
    data = result.output.read_bytes()
    leaked = [s for s in synth.secret_bytes() if s in data]
    assert not leaked, f"secrets left in the output: {leaked}"
    assert bytes_after_end(data) == 0
    return data


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_no_secret_survives(tmp_path: Path, name: str) -> None:
    data = BUILDERS[name]()
    assert any(s in data for s in synth.secret_bytes())  # the planted secrets are really there
    result = clean(tmp_path, name, data)
    out = assert_clean(result)
    assert result.output is not None
    record = exiftool_read([result.output])[str(result.output.resolve())]
    assert residual_tags(record) == []
    kinds = result.findings.kinds()
    assert {Kind.GPS, Kind.NAME, Kind.SOFTWARE} <= kinds
    if name in REENCODED:
        assert result.reencoded and result.output.suffix == ".jpg"
        assert psnr(frames(data)[0], frames(out)[0]) >= 40
    elif name.startswith("tiff"):  # the reduced-resolution page is dropped on purpose
        assert [f.tobytes() for f in frames(out)] == [f.tobytes() for f in frames(data)[:2]]
    else:
        assert not result.reencoded
        assert same_pixels(data, out, first_only=name.startswith("jpeg"))


@pytest.mark.parametrize(
    "name",
    [
        "jpeg-baseline.jpg",
        "png-rgb.png",
        "webp-lossy.webp",
        "gif-animated.gif",
        "tiff-multipage.tif",
        "heic-motion.heic",
    ],
)
def test_every_leak_class_is_reported(tmp_path: Path, name: str) -> None:
    result = clean(tmp_path, name, BUILDERS[name]())
    classes = {f.leak.value for f in result.findings}
    assert {"location", "time", "device", "person", "software and history"} <= classes
    if name.split("-")[0] in ("jpeg", "png", "webp", "gif", "heic"):
        assert "appended data" in classes


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp", "tiff"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_all_eight_orientations_display_as_before(tmp_path: Path, fmt: str, orientation: int) -> None:
    builders = {
        "jpeg": lambda: synth.jpeg(orientation=orientation),
        "png": lambda: synth.png(orientation=orientation),
        "webp": lambda: synth.webp("lossless", orientation=orientation),
        "tiff": lambda: synth.tiff(pages=1, orientation=orientation, with_thumbnail_page=False),
    }
    data = builders[fmt]()
    result = clean(tmp_path, f"o{orientation}.{fmt}", data)
    out = assert_clean(result)
    shown_before, shown_after = frames(data)[0], frames(out)[0]
    assert shown_after.size == shown_before.size and shown_after.tobytes() == shown_before.tobytes()
    assert Image.open(io.BytesIO(out)).getexif().get(0x0112, 1) == orientation


PNG_LAYOUTS = [(16, 2, False), (16, 2, True), (8, 2, True), (16, 6, False), (8, 0, True), (16, 0, True)]


@pytest.mark.parametrize("depth,color_type,interlace", PNG_LAYOUTS)
def test_png_bit_depths_and_interlacing(tmp_path: Path, depth: int, color_type: int, interlace: bool) -> None:
    width, height = 37, 23  # odd sizes exercise every Adam7 pass
    channels = {0: 1, 2: 3, 6: 4}[color_type]
    pixels = bytes((i * 7 + i // 3) % 256 for i in range(width * height * channels * depth // 8))
    data = synth.splice_png(
        synth.raw_png(width, height, depth, color_type, pixels, interlace), synth.png_leaks()
    )
    result = clean(tmp_path, "raw.png", data)
    out = assert_clean(result)
    assert out[24] == depth and out[28] == int(interlace)  # IHDR bit depth and interlace kept
    assert same_pixels(data, out)


def test_apng_keeps_its_animation(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    first = synth.picture()
    first.save(
        buffer,
        "PNG",
        save_all=True,
        append_images=[first.rotate(90), first.rotate(180)],
        duration=[50, 80, 120],
        loop=2,
    )
    data = synth.splice_png(buffer.getvalue(), synth.png_leaks())
    out = assert_clean(clean(tmp_path, "anim.png", data))
    after = Image.open(io.BytesIO(out))
    assert after.n_frames == 3 and after.info["loop"] == 2
    assert same_pixels(data, out)


def test_animation_timing_and_loop_kept(tmp_path: Path) -> None:
    for name in ("webp-animated.webp", "gif-animated.gif"):
        data = BUILDERS[name]()
        out = assert_clean(clean(tmp_path, name, data))
        before, after = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(out))
        assert after.n_frames == before.n_frames > 1
        assert after.info.get("loop") == before.info.get("loop")
        durations = []
        for image in (before, after):
            durations.append([(image.seek(i), image.info.get("duration"))[1] for i in range(image.n_frames)])
        assert durations[0] == durations[1]


def test_transparency_kept(tmp_path: Path) -> None:
    palette = assert_clean(clean(tmp_path, "p.png", BUILDERS["png-palette-trns.png"]()))
    assert Image.open(io.BytesIO(palette)).info.get("transparency") == 3
    rgba = assert_clean(clean(tmp_path, "a.webp", BUILDERS["webp-alpha.webp"]()))
    assert Image.open(io.BytesIO(rgba)).mode == "RGBA"


def test_icc_profile_kept_with_only_its_colour_tags(tmp_path: Path) -> None:
    from PIL import ImageCms

    for name in (
        "jpeg-baseline.jpg",
        "png-rgba.png",
        "webp-alpha.webp",
        "tiff-multipage.tif",
        "heic-motion.heic",
    ):
        data = BUILDERS[name]()
        result = clean(tmp_path, name, data)
        out = assert_clean(result)
        before = Image.open(io.BytesIO(data)).info["icc_profile"]
        after = Image.open(io.BytesIO(out)).info["icc_profile"]
        assert after == sanitize_icc(before).profile and len(after) < len(before)
        assert ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(after))).startswith("sRGB")
        device = [f for f in result.findings if f.kind is Kind.DEVICE and "colour profile" in f.what]
        assert {f.value for f in device} == {"SecretMaker Displays", synth.CAMERA}, name


@pytest.mark.parametrize("fmt", ["jpeg", "png", "webp"])
def test_bytes_that_are_no_colour_profile_are_dropped(tmp_path: Path, fmt: str) -> None:
    """A profile slot can carry anything; what is not a valid ICC profile does not survive."""
    smuggled = b"SECRET home=48.8584N,2.2945E " * 4
    if fmt == "jpeg":
        data = synth.jpeg(extras=False)
        segment = b"\xff\xe2" + struct.pack(">H", len(smuggled) + 16) + b"ICC_PROFILE\0\1\1" + smuggled
        data = data[:2] + segment + data[2:]
    elif fmt == "png":
        iccp = synth.png_chunk(b"iCCP", b"x\0\0" + zlib.compress(smuggled))
        data = synth.splice_png(synth.raw_png(4, 4, 8, 2, bytes(48), False), [iccp], trailer=False)
    else:
        body = synth.webp("lossless")[12 : -len(synth.TRAILER)]
        body = body[:18] + b"ICCP" + struct.pack("<I", len(smuggled)) + smuggled + body[18:]
        data = b"RIFF" + struct.pack("<I", 4 + len(body)) + b"WEBP" + body
    result = clean(tmp_path, f"icc.{fmt}", data)
    assert_clean(result)
    assert any(f.what == "invalid colour profile (removed)" for f in result.findings)


def test_heic_with_alpha_becomes_png_to_keep_transparency(tmp_path: Path) -> None:
    import pillow_heif

    buffer = io.BytesIO()
    pillow_heif.from_pillow(synth.picture((64, 48), "RGBA")).save(buffer, quality=90)
    result = clean(tmp_path, "alpha.heic", buffer.getvalue())
    assert result.status is Status.CLEANED and result.output is not None
    assert result.output.suffix == ".png" and Image.open(result.output).mode == "RGBA"


def test_convert_to_png_is_lossless_against_the_decoded_original(tmp_path: Path) -> None:
    data = synth.heic()
    result = clean(tmp_path, "still.heic", data, clean=CleanOptions(convert_to="png"))
    assert result.output is not None and result.output.suffix == ".png"
    assert psnr(frames(data)[0], frames(result.output)[0]) == float("inf")


def test_tiff_thumbnail_page_is_dropped_and_pages_kept(tmp_path: Path) -> None:
    data = synth.tiff(pages=2, with_thumbnail_page=True)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    result = clean(tmp_path, "pages.tif", data)
    out = assert_clean(result)
    assert Image.open(io.BytesIO(out)).n_frames == 2
    assert Kind.THUMBNAIL in result.findings.kinds()
    assert [f.tobytes() for f in frames(out)] == [f.tobytes() for f in frames(data)[:2]]


@pytest.mark.skipif(not hasattr(os, "setxattr"), reason="extended attributes need Linux")
def test_extended_attributes_are_reported_and_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "download.jpg"
    source.write_bytes(synth.jpeg(extras=False))
    try:
        os.setxattr(source, "user.xdg.origin.url", synth.URL.encode())
    except OSError as exc:
        pytest.skip(f"this file system does not store user xattrs ({exc.strerror})")
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.output is not None
    assert os.listxattr(result.output) == []
    assert any(synth.URL in f.value for f in result.findings if f.kind is Kind.XATTR)


def test_output_mode_is_never_wider_than_the_original(tmp_path: Path) -> None:
    source = tmp_path / "private.jpg"
    source.write_bytes(synth.jpeg(extras=False))
    source.chmod(0o600)
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.output is not None
    assert result.output.stat().st_mode & 0o777 == 0o600


def test_lossless_path_never_decodes_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoding is made impossible; every lossless format still cleans."""
    from PIL import ImageFile

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("pixels were decoded on the lossless path")

    # Pillow counts GIF and animated-WebP frames by decoding them, so those are left out.
    skip = ("webp-animated", "gif", *REENCODED)
    inputs = {name: build() for name, build in BUILDERS.items() if not name.startswith(skip)}
    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)
    monkeypatch.setattr(Image.Image, "load", refuse)
    for name, data in inputs.items():
        result = clean(tmp_path, name, data)
        assert result.status is Status.CLEANED, (name, result.reason)
