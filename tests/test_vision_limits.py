"""The vision step's own rules, each checked directly: whose face it is (evidence from the
camera's EXIF only), what a result says it may miss, how many pieces a sliver is cut into,
and that a line read from afar is not dropped because small lines sit beside it."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageDraw, ImageFont

from safeshare.findings import Findings, Kind
from safeshare.vision import installed
from safeshare.vision.whose import front_camera, is_selfie

needs_vision = pytest.mark.skipif(
    not installed(), reason="the vision extra is not installed (pip install '.[vision]')"
)


def _lens(value: str, where: str = "EXIF", what: str = "lens") -> Findings:
    found = Findings()
    found.add(Kind.DEVICE, what, value, where)
    return found


@pytest.mark.parametrize(
    ("value", "where", "selfie"),
    [
        ("iPhone 13 Pro Max front TrueDepth camera 2.71mm f/2.2", "EXIF", True),
        ("Pixel 7 front camera 2.74mm f/2.2", "WebP EXIF", True),
        ("iPhone 13 Pro Max back triple camera 5.7mm f/1.5", "EXIF", False),
        ("Pixel 7 back camera", "EXIF", False),
        ("not the front camera", "EXIF", False),
        ("Samsung rear camera (front)", "EXIF", False),
        ("iPhone 13 front camera", "XMP", False),  # any editor writes XMP: not the camera's word
        ("iPhone 13 front camera", "PNG text EXIF", False),
        ("Canon EF 24-70mm", "EXIF", False),
    ],
)
def test_a_front_camera_is_known_only_from_the_cameras_own_lens_field(
    value: str, where: str, selfie: bool
) -> None:
    evidence = front_camera(_lens(value, where))
    assert bool(evidence) is selfie, evidence
    assert front_camera(None) == "" and front_camera(Findings()) == ""


def test_the_evidence_is_one_printable_line() -> None:
    evidence = front_camera(_lens("x front\u202ecamera\nINJECT" + "y" * 300))
    assert evidence and "\n" not in evidence and "\u202e" not in evidence and len(evidence) <= 80


def test_a_selfie_needs_a_large_face_too() -> None:
    evidence = "lens: iPhone front camera"
    assert is_selfie(evidence, [(0, 0, 100, 700)], 4000)  # 17% of the height
    assert not is_selfie(evidence, [(0, 0, 100, 300)], 4000)  # a front camera turned on a group
    assert not is_selfie("", [(0, 0, 100, 3000)], 4000) and not is_selfie(evidence, [], 4000)


def test_a_sliver_is_cut_into_few_pieces_and_holds_no_face(monkeypatch: pytest.MonkeyPatch) -> None:
    from safeshare.vision import centerface, faces
    from safeshare.vision.shapes import pieces

    assert sum(1 for _ in pieces(Image.new("RGB", (1, 30000)))) <= 60
    assert sum(1 for _ in pieces(Image.new("RGB", (200, 40000)))) <= 80

    def refuse(*args: object) -> None:
        raise AssertionError("the detector ran on a picture too thin to hold a face")

    monkeypatch.setattr(centerface, "faces", refuse)
    assert faces.face_boxes(Image.new("RGB", (5, 30000)), thorough=True) == []


@pytest.mark.parametrize(
    ("full", "work", "said"),
    [
        ((640, 480), (640, 480), ()),
        ((4000, 3000), (3000, 2250), ("small faces", "small text")),
        ((2400, 10000), (1273, 5303), ("small faces", "small text")),  # a tall screenshot, in pieces
    ],
)
def test_a_result_says_what_it_may_miss(
    full: tuple[int, int], work: tuple[int, int], said: tuple[str, ...]
) -> None:
    pytest.importorskip("numpy")
    from safeshare.vision.detect import limits

    bright = Image.new("RGB", work, (200, 200, 200))
    assert limits(bright, full, thorough=False) == said
    assert "what is in the dark" in limits(Image.new("RGB", work, (10, 10, 10)), full, thorough=False)
    assert "small text" in limits(bright, full, thorough=False, complete=False)


@needs_vision
def test_a_sure_line_beside_small_ones_is_filled_whole() -> None:
    """A large line read with confidence next to small lines that are read again closer: the
    large line's box stays, so redaction covers it, and the words say it."""
    from safeshare.vision import detect, text

    canvas = Image.new("RGB", (3000, 2250), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text(
        (100, 1000), "ACCOUNT 4821 7730 PASSWORD hunter2", fill="black", font=ImageFont.load_default(60)
    )
    draw.text((100, 1070), "ref ab12cd sort 40-11", fill="black", font=ImageFont.load_default(16))
    data = io.BytesIO()
    canvas.save(data, "PNG")
    seen = detect.analyze(data.getvalue(), 10**9, thorough=True)
    big = [t for t in seen.texts if "4821" in t.text]
    assert big, seen.texts
    box = big[0].box
    assert box[0] <= 110 and box[2] >= 1000 and box[1] <= 1010, box  # the whole line, not a fragment
    assert any("ab12cd" in t.text.replace(" ", "") for t in seen.texts), seen.texts
    assert text.COVERED > 0.5
