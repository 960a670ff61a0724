"""HEIF and AVIF transforms: clap (clean aperture), irot, imir. HEIF in the file's order
(as libheif applies them); AVIF only in MIAF's order (libavif's fixed one), else refused.

Real AVIF and HEIF files of the corpus get a clean aperture (and rotations, mirrors)
spliced into their property boxes (tests/isobmff_edit.py). ExifTool confirms the input
carries what we put in; the expected picture is worked out here, independently, from the
coded picture and the spec's formulas; the clean copy must show exactly that: the
displayed size, and the pixels inside the aperture (never the ones it hides).
"""

from __future__ import annotations

import io
import math
import os
from fractions import Fraction
from pathlib import Path

import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.errors import CorruptImage, UnsupportedFormat, VerificationError
from safeshare.formats import Cleaned, CleanOptions
from safeshare.formats.heif import Avif, Heif
from safeshare.pipeline import Pipeline, Result, Settings, Status
from safeshare.verify import verify_output
from tests import isobmff_edit as edit
from tests.helpers import CORPUS, exiftool_read, psnr

# (corpus file, transforms it already has, in its order, as Pillow transposes)
SOURCES = {
    "avif/pillow__exif.avif": [],
    "avif/pillow__rot0mir0.avif": [Image.Transpose.FLIP_TOP_BOTTOM],  # imir axis 0
    "heic/exif-samples__samplefilehub.heif": [],
    "heic/pillow__hopper.heif": [],
}
ROTATE = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
MIRROR = {0: Image.Transpose.FLIP_TOP_BOTTOM, 1: Image.Transpose.FLIP_LEFT_RIGHT}


def coded_picture(name: str) -> Image.Image:
    """The corpus file's picture as coded, before any transform of its own."""
    image = Image.open(CORPUS / name)
    image.load()
    if image.format == "HEIF":  # libheif has applied the file's transforms; the corpus HEIFs have none
        assert not SOURCES[name]
    return image.convert("RGB")


def expected(picture: Image.Image, steps: list[tuple[str, tuple[int, ...]]]) -> Image.Image:
    """The transforms applied in order, by ISO/IEC 23008-12's definitions: the aperture's
    centre is the picture's centre moved by the offsets. An aperture half a pixel off the
    grid is placed as libheif places it (its left edge rounded down, its top rounded up)."""
    for kind, value in steps:
        if kind == "clap":
            width, height, dx, dy = value
            left = math.floor(Fraction(picture.width - width, 2) + dx)
            top = math.floor(Fraction(picture.height - height, 2) + dy + Fraction(1, 2))
            picture = picture.crop((left, top, left + width, top + height))
        elif kind == "irot":
            picture = picture.transpose(ROTATE[value[0]])
        else:
            picture = picture.transpose(MIRROR[value[0]])
    return picture


def boxes_of(steps: list[tuple[str, tuple[int, ...]]]) -> list[bytes]:
    out = []
    for kind, value in steps:
        if kind == "clap":
            width, height, dx, dy = value
            out.append(edit.clap((width, 1), (height, 1), (dx, 1), (dy, 1)))
        elif kind == "irot":
            out.append(edit.irot(value[0]))
        else:
            out.append(edit.imir(value[0]))
    return out


def cleaned(tmp_path: Path, name: str, data: bytes) -> Result:
    source = tmp_path / "in" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return clean_one(Pipeline(Settings()), source, tmp_path / "out")


def shown(result: Result) -> Image.Image:
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None
    return Image.open(result.output).convert("RGB")


def check(tmp_path: Path, name: str, steps: list[tuple[str, tuple[int, ...]]]) -> Image.Image:
    """Clean `name` with `steps` added after its own transforms; the output must be the
    expected picture. Returns the output."""
    data = edit.add_properties((CORPUS / name).read_bytes(), boxes_of(steps))
    source = tmp_path / "in" / f"{len(steps)}-{Path(name).name}"
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    clap = next(v for k, v in steps if k == "clap")
    reading = exiftool_read([source])[str(source.resolve())]
    assert reading["QuickTime:CleanAperture"] == " ".join(map(str, clap))  # really in the file
    picture = coded_picture(name)
    for transpose in SOURCES[name]:
        picture = picture.transpose(transpose)
    want = expected(picture, steps)
    out = shown(clean_one(Pipeline(Settings()), source, tmp_path / "out"))
    assert out.size == want.size, (name, steps)
    # libheif crops 4:2:0 chroma before converting it, so an odd offset costs a few dB
    assert psnr(out, want) >= 30, (name, steps, psnr(out, want))
    return out


@pytest.mark.parametrize("name", sorted(n for n in SOURCES if n.startswith("heic/") or not SOURCES[n]))
def test_clean_aperture_crops_away_what_it_hides(tmp_path: Path, name: str) -> None:
    """An off-centre clean aperture: the copy is the aperture's size and shows its pixels,
    not the centre's, and none of what lies outside it."""
    picture = coded_picture(name)
    width, height = picture.width // 2, picture.height // 3
    dx, dy = -(picture.width // 8), picture.height // 10
    out = check(tmp_path, name, [("clap", (width, height, dx, dy))])
    for transpose in SOURCES[name]:
        picture = picture.transpose(transpose)
    centred = expected(picture, [("clap", (width, height, 0, 0))])
    assert psnr(out, centred) < psnr(out, expected(picture, [("clap", (width, height, dx, dy))])) - 5


@pytest.mark.parametrize("name", ["avif/pillow__exif.avif", "heic/exif-samples__samplefilehub.heif"])
def test_clap_irot_imir_show_the_displayed_size(tmp_path: Path, name: str) -> None:
    """The conformance files' case: a 330x385 aperture, turned a quarter and mirrored,
    displays at 385x330, whatever size the coded picture has."""
    out = check(tmp_path, name, [("clap", (330, 385, 3, -7)), ("irot", (1,)), ("imir", (0,))])
    assert out.size == (385, 330)


def test_heif_transforms_apply_in_the_order_of_the_file(tmp_path: Path) -> None:
    """irot before clap crops the turned picture; clap before irot turns the cropped one.
    libheif follows the file's order: so do we, for HEIF."""
    name = "heic/exif-samples__samplefilehub.heif"
    first = check(tmp_path / "a", name, [("clap", (200, 150, 40, -30)), ("irot", (1,))])
    second = check(tmp_path / "b", name, [("irot", (1,)), ("clap", (200, 150, 40, -30))])
    assert first.size == (150, 200) and second.size == (200, 150)


@pytest.mark.parametrize(
    ("name", "steps"),
    [
        ("avif/pillow__exif.avif", [("irot", (1,)), ("clap", (200, 150, 40, -30))]),
        ("avif/pillow__exif.avif", [("imir", (0,)), ("irot", (1,))]),
        ("avif/pillow__exif.avif", [("irot", (1,)), ("irot", (1,))]),
        ("avif/pillow__rot0mir0.avif", [("clap", (200, 150, 40, -30))]),  # after its own imir
    ],
)
def test_avif_transforms_out_of_miaf_order_are_refused(
    tmp_path: Path, name: str, steps: list[tuple[str, tuple[int, ...]]]
) -> None:
    """libavif (Chrome) applies clap, irot, imir in that order whatever the file says; the
    file's order says otherwise: viewers disagree, so nothing is published."""
    check(tmp_path / "miaf", "avif/pillow__exif.avif", [("clap", (200, 150, 40, -30)), ("irot", (1,))])
    result = cleaned(
        tmp_path, Path(name).name, edit.add_properties((CORPUS / name).read_bytes(), boxes_of(steps))
    )
    assert result.status is Status.REFUSED and result.problem is UnsupportedFormat
    assert "transforms in an order viewers disagree on" in result.reason


@pytest.mark.parametrize("name", ["avif/pillow__exif.avif", "heic/exif-samples__samplefilehub.heif"])
def test_a_container_too_large_to_read_is_refused(tmp_path: Path, name: str) -> None:
    """100,001 empty boxes before 'meta': the box reader stops, so the clean aperture is
    unknown. Refused, never the whole coded picture."""
    data = edit.add_properties((CORPUS / name).read_bytes(), [edit.clap((64, 1), (48, 1))])
    data = edit.insert_before_meta(data, edit.box("free", b"") * 100_001)
    result = cleaned(tmp_path, Path(name).name, data)
    assert result.status is Status.REFUSED and result.problem is CorruptImage
    assert "more than 100,000 boxes" in result.reason


@pytest.mark.parametrize("name", ["avif/pillow__exif.avif", "heic/exif-samples__samplefilehub.heif"])
def test_an_empty_clean_aperture_is_refused(tmp_path: Path, name: str) -> None:
    """An aperture wholly outside the picture leaves nothing to show: refused, as libheif
    refuses it, rather than publishing the pixels it was meant to hide."""
    width = coded_picture(name).width
    data = edit.add_properties(
        (CORPUS / name).read_bytes(), [edit.clap((64, 1), (64, 1), (width, 1), (0, 1))]
    )
    result = cleaned(tmp_path, Path(name).name, data)
    assert result.status is Status.REFUSED
    assert "clean aperture" in result.reason


@pytest.mark.parametrize("fmt", [Avif(), Heif()], ids=["AVIF", "HEIF"])
def test_the_verifier_holds_the_output_to_the_displayed_size(tmp_path: Path, fmt: Avif | Heif) -> None:
    """The size an output must have comes from the file's boxes (ispe, then clap and irot),
    not from the decoder: an output showing the whole coded picture is not published."""
    name = "avif/pillow__exif.avif" if isinstance(fmt, Avif) else "heic/exif-samples__samplefilehub.heif"
    data = edit.add_properties((CORPUS / name).read_bytes(), [edit.clap((330, 1), (385, 1)), edit.irot(1)])
    clean = fmt.clean(data, CleanOptions())
    assert clean.size == (385, 330)
    uncropped = io.BytesIO()
    coded_picture(name).save(uncropped, "JPEG", quality=90)  # what a decoder ignoring clap shows
    with pytest.raises(VerificationError, match="expected \\(385, 330\\)"):
        verify(tmp_path / "uncropped.jpg", uncropped.getvalue(), clean)
    verify(tmp_path / "real.jpg", b"".join(bytes(p) for p in clean.parts), clean)  # the real output passes


def verify(path: Path, data: bytes, clean: Cleaned) -> None:
    path.write_bytes(data)
    fd = os.open(path, os.O_RDONLY)
    try:
        verify_output(fd, clean, None, 10**8)
    finally:
        os.close(fd)
