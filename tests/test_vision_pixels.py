"""Vision on pictures that are not plain 8-bit RGB of ordinary shape: 16-bit grey,
transparency, colour profiles that do not describe RGB, and very long pictures (scrolling
screenshots). Each of these once let a face or text through, showed what was hidden, or
failed the file (found in review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFont

from safeshare.config import VisionConfig
from safeshare.pipeline import Result, Status
from safeshare.vision import installed
from tests.vision_set import cleaned_with, looked_at

pytestmark = pytest.mark.skipif(
    not installed(), reason="the vision extra is not installed (pip install '.[vision]')"
)
SECRET = "Password hunter2"


def _astronaut() -> Image.Image:
    from tests.vision_set import samples

    return next(s for s in samples() if s.name == "astronaut").image


def _redacted(path: Path, out: Path, *what: str) -> Result:
    return cleaned_with(VisionConfig(redact=what), path, out)


def _text_on_transparency(colour: tuple[int, int, int, int]) -> Image.Image:
    page = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    ImageDraw.Draw(page).text((60, 100), SECRET, font=ImageFont.load_default(size=64), fill=colour)
    return page


def test_a_16_bit_grey_picture_is_looked_at_in_its_real_tones(tmp_path: Path) -> None:
    grey = np.asarray(_astronaut().convert("L"), dtype=np.uint16) * 257  # full 16-bit range
    Image.fromarray(grey).save(tmp_path / "astro16.png")
    with Image.open(tmp_path / "astro16.png") as check:
        assert check.mode.startswith("I")
    result = _redacted(tmp_path / "astro16.png", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.filled is not None and result.filled.faces
    assert result.visible is not None and not result.visible.faces  # filled in: not said as visible
    assert result.output is not None and result.reencoded
    with Image.open(result.output) as out:
        tones = np.asarray(out.convert("L"))
        x0, y0, x1, y1 = (round(v) for v in result.filled.faces[0].box)
        assert tones[y0:y1, x0:x1].max() <= 16  # filled
        assert 60 < tones.mean() < 200  # the picture's tones, not clipped to white


@pytest.mark.parametrize("colour", [(0, 0, 0, 255), (255, 255, 255, 255)], ids=["black", "white"])
def test_text_drawn_on_transparency_is_read_and_filled(
    tmp_path: Path, colour: tuple[int, int, int, int]
) -> None:
    _text_on_transparency(colour).save(tmp_path / "note.png")
    result = _redacted(tmp_path / "note.png", tmp_path / "o", "text")
    assert result.status is Status.CLEANED and result.filled is not None
    assert any("hunter" in seen.text.lower() for seen in result.filled.texts)
    assert result.output is not None
    with Image.open(result.output) as out:
        assert out.mode == "RGBA"  # transparency kept
        x0, y0, x1, y1 = (round(v) for v in result.filled.texts[0].box)
        area = np.asarray(out)[y0:y1, x0:x1]
        assert (area[..., 3] == 255).all() and area[..., :3].max() <= 16  # solid, opaque black


def test_redaction_keeps_nothing_under_transparent_pixels(tmp_path: Path) -> None:
    picture = _astronaut().convert("RGBA")
    ImageDraw.Draw(picture).text((300, 400), "PIN 4821", font=ImageFont.load_default(size=40), fill="yellow")
    pixels = np.array(picture)
    pixels[390:460, 290:500, 3] = 0  # the yellow PIN hidden under alpha 0, as editors leave it
    Image.fromarray(pixels).save(tmp_path / "hidden.png")
    result = _redacted(tmp_path / "hidden.png", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.reencoded and result.output is not None
    with Image.open(result.output) as out:
        published = np.asarray(out.convert("RGBA"))
    hidden = published[390:460, 290:500]
    assert (hidden[..., 3] == 0).all() and hidden[..., :3].max() == 0


def test_a_profile_that_is_not_rgb_is_not_put_on_rgb_pixels(tmp_path: Path) -> None:
    profile = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    profile[16:20] = b"GRAY"  # a grey profile, as a grey camera JPEG carries
    _astronaut().convert("L").save(tmp_path / "grey.jpg", quality=92, icc_profile=bytes(profile))
    result = _redacted(tmp_path / "grey.jpg", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.reencoded and result.output is not None
    with Image.open(result.output) as out:
        icc = out.info.get("icc_profile")
        assert out.mode == "RGB" and (icc is None or icc[16:20] == b"RGB ")


def test_a_scrolling_screenshot_is_read_in_pieces(tmp_path: Path) -> None:
    """1080 x 16000: read whole at 1280 px its text would be 1 px tall, and rapidocr would
    blow it up past any memory limit; read in pieces, lines at both ends are found."""
    page = Image.new("RGB", (1080, 16000), "white")
    draw, font = ImageDraw.Draw(page), ImageFont.load_default(size=48)
    lines = {"IBAN DE44 5001 0517": 300, "Meeting at noon": 8000, SECRET: 15500}
    for text, y in lines.items():
        draw.text((80, y), text, font=font, fill="black")
    page.save(tmp_path / "scroll.png")
    seen = looked_at(tmp_path / "scroll.png")
    assert seen is not None and seen.size == (1080, 16000)
    for text, y in lines.items():
        match = [t for t in seen.texts if text.lower().replace(" ", "") in t.text.lower().replace(" ", "")]
        assert match, f"{text!r} not read: {[t.text for t in seen.texts]}"
        assert match[0].box[1] - 40 < y < match[0].box[3], (text, match[0].box)  # where it is drawn
        assert len(match) == 1  # read once, even when two pieces overlap on it


@pytest.mark.parametrize("size", [(60, 3000), (1, 2000), (3000, 4)])
def test_a_sliver_of_a_picture_is_looked_at_without_failing(tmp_path: Path, size: tuple[int, int]) -> None:
    """With redaction asked for, a picture that cannot be looked at is not published; a thin
    sliver must therefore be looked at, not fail."""
    Image.new("RGB", size, (120, 160, 200)).save(tmp_path / "sliver.png")
    result = _redacted(tmp_path / "sliver.png", tmp_path / "o", "faces", "text", "codes")
    assert result.status is Status.CLEANED, result.reason


def test_redaction_looks_at_and_fills_the_clean_copy_not_the_original(tmp_path: Path) -> None:
    """An AVIF whose clean aperture crops the face away: redaction must work on the cropped
    clean copy. Decoding the original again would publish the pixels the crop hides."""
    import io

    from tests import isobmff_edit as edit

    buffer = io.BytesIO()
    _astronaut().save(buffer, "AVIF", quality=90)
    # the bottom-right quarter: the face (180..270, 60..177) is outside it
    data = edit.add_properties(buffer.getvalue(), [edit.clap((256, 1), (256, 1), (128, 1), (128, 1))])
    (tmp_path / "crop.avif").write_bytes(data)
    result = _redacted(tmp_path / "crop.avif", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.output is not None, result.reason
    with Image.open(result.output) as out:
        assert out.size == (256, 256)
    assert result.visible is not None and not result.visible.faces and not result.filled


def test_faces_in_a_scrolling_screenshot_are_found_and_filled(tmp_path: Path) -> None:
    """1080 x 16000 with eight faces 300 px tall: shrunk whole to the face detector's size,
    they would be 30 px and missed, and the redacted copy would publish them."""
    face = _astronaut().crop((130, 10, 320, 227)).resize((260, 300))  # the face, with a margin
    page = Image.new("RGB", (1080, 16000), (236, 236, 240))
    spots = [(100 + (i % 2) * 600, 400 + i * 1950) for i in range(8)]
    for spot in spots:
        page.paste(face, spot)
    page.save(tmp_path / "chat.png")
    result = _redacted(tmp_path / "chat.png", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.filled is not None, result.reason
    assert len(result.filled.faces) == 8, result.filled
    assert result.output is not None
    with Image.open(result.output) as out:
        tones = np.asarray(out.convert("L"))
    for x, y in spots:
        centre = tones[y + 100 : y + 200, x + 80 : x + 180]
        assert centre.max() <= 16  # each face filled solid


def test_small_faces_in_a_large_photo_are_found_and_filled(tmp_path: Path) -> None:
    """4000 x 3000 with faces 36-48 px tall: shrunk whole to the detector's 1600 px they are
    14-19 px and missed; the detector also sees the picture in pieces at working size."""
    face = _astronaut().crop((130, 10, 320, 227))
    page = Image.new("RGB", (4000, 3000), (200, 190, 170))
    spots = []
    for i, height in enumerate((36, 40, 44, 48)):
        scaled = face.resize((round(face.width * height / 117), round(face.height * height / 117)))
        spot = (300 + i * 900, 500 + (i % 2) * 1400)
        page.paste(scaled, spot)
        spots.append((spot, scaled.size))
    page.save(tmp_path / "crowd.jpg", quality=92)
    result = _redacted(tmp_path / "crowd.jpg", tmp_path / "o", "faces")
    assert result.status is Status.CLEANED and result.filled is not None, result.reason
    assert len(result.filled.faces) == 4, result.filled


def test_boxes_map_back_by_each_axis_of_a_long_picture() -> None:
    """The working copy's sides are rounded apart: one ratio for both axes drifts boxes by
    tens of pixels at the bottom of a 40000 px screenshot (a face or IBAN left unfilled)."""
    from safeshare.vision.detect import _full_size, working_copy
    from safeshare.vision.report import Seen

    work, full = working_copy(Image.new("RGB", (1290, 40000)))
    factor = (work.width / full[0], work.height / full[1])
    bottom = _full_size(Seen("face", (0.0, work.height - 10.0, 10.0, float(work.height))), factor)
    assert abs(bottom.box[3] - full[1]) < 1.0
    assert abs(work.width / full[0] - work.height / full[1]) > 1e-5  # the case that drifted
