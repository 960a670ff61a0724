"""Faces, readable text and codes in a picture. Runs in the vision worker process.

The picture is decoded once into an upright working copy of at most 3000 px (JPEGs at a
reduced DCT scale, so a 100 MP photo never sits in memory whole); each detector works from
it at the scales it needs (faces.py, text.py, codes.py). Pictures longer than 4:1 are kept
by area instead and looked at in overlapping pieces. Boxes are reported in the full-size
upright picture's pixels, which is what redaction draws on. What could not be looked at
well is said with the result (`limits`): small faces or small text in a photo too large to
be searched at full resolution, and anything in a very dark picture. Nothing here touches
the network: rapidocr gets explicit paths to its bundled models and its downloader is
replaced by one that refuses.
"""

from __future__ import annotations

import math
import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime is imported, or it phones home

from PIL import Image

from safeshare.formats.reencode import register_heif
from safeshare.pillow_reading import Source, opened
from safeshare.vision import centerface, pixels
from safeshare.vision.codes import CODE_LONG_SIDE, codes
from safeshare.vision.faces import face_boxes
from safeshare.vision.faces import reach as face_reach
from safeshare.vision.report import Seen, Visible
from safeshare.vision.shapes import ELONGATED, aspect
from safeshare.vision.text import TEXT_LONG_SIDE, texts
from safeshare.vision.text import reach as text_reach

WORK_LONG_SIDE = max(centerface.LONG_SIDE, TEXT_LONG_SIDE, CODE_LONG_SIDE)  # the most any detector uses
WORK_PIXELS = 3000 * 2250  # the working copy of an elongated picture, by area
SMALLEST_FACE, SMALLEST_TEXT = 12, 8  # px the detectors need, in the picture they are given
SMALL_FACE, SMALL_TEXT = 24, 16  # px in the full picture: if missed below these, it is said
DARK = 40  # mean brightness (0-255) below which faces and text may be lost in the dark


def analyze(source: Source, max_pixels: int, thorough: bool = False) -> Visible:
    """What the upright picture in `source` shows. `thorough` (redaction, which promises
    that no face is left): faces are also searched in squares of the working copy."""
    register_heif()
    with opened(source, max_pixels) as image:
        work, full_size = working_copy(image)
    # Each axis by its own ratio: the working copy's sides are rounded separately, and one
    # ratio for both drifts boxes by tens of pixels at the end of a 40000 px screenshot.
    factor = (work.width / full_size[0], work.height / full_size[1])
    rgb = pixels.flattened(work, pixels.WHITE)
    faces = [Seen("face", box) for box in face_boxes(rgb, thorough)]
    read, complete = texts(rgb)
    if work.mode == "RGBA":  # what is drawn on transparency shows on a dark page too
        known = {seen.text for seen in read}
        on_black, complete_too = texts(pixels.flattened(work, pixels.BLACK))
        read += [seen for seen in on_black if seen.text not in known]
        complete = complete and complete_too
    faces, read, found = ([_full_size(seen, factor) for seen in kind] for kind in (faces, read, codes(rgb)))
    return Visible(full_size, faces, read, found, limits=limits(rgb, full_size, thorough, complete))


def limits(
    rgb: Image.Image, full_size: tuple[int, int], thorough: bool, complete: bool = True
) -> tuple[str, ...]:
    """What may have been missed: faces or text too small for the scale each detector really
    looked at, text left unread past the cap on regions read closer (`complete` False), and
    anything in a very dark picture."""
    to_full = max(full_size) / max(rgb.size)
    said = []
    if SMALLEST_FACE / face_reach(rgb, thorough) * to_full > SMALL_FACE:
        said.append("small faces")
    if SMALLEST_TEXT / text_reach(rgb) * to_full > SMALL_TEXT or not complete:
        said.append("small text")
    histogram = rgb.convert("L").histogram()
    brightness = sum(i * n for i, n in enumerate(histogram)) / max(1, rgb.width * rgb.height)
    if brightness < DARK:
        said.append("what is in the dark")
    return tuple(said)


def working_copy(image: Image.Image) -> tuple[Image.Image, tuple[int, int]]:
    """The upright picture (8-bit RGB, or RGBA) shrunk to at most WORK_LONG_SIDE px, and the
    full upright size."""
    stored = image.size
    scale = _work_scale(stored)
    if scale < 1:  # JPEG only: decode at 1/2, 1/4 or 1/8 scale, never below the size asked for
        image.draft("RGB", (math.ceil(stored[0] * scale), math.ceil(stored[1] * scale)))
    decoded = image.size
    picture = pixels.upright_8bit(image)
    turned = picture.size != decoded  # orientations 5-8 swap width and height
    small, _ = centerface.downscale(picture, round(max(picture.size) * _work_scale(picture.size)))
    return small, (stored[1], stored[0]) if turned else stored


def _work_scale(size: tuple[int, int]) -> float:
    if aspect(size) > ELONGATED:
        return min(1.0, math.sqrt(WORK_PIXELS / (size[0] * size[1])))
    return min(1.0, WORK_LONG_SIDE / max(size))


def _full_size(seen: Seen, factor: tuple[float, float]) -> Seen:
    x0, x1 = (float(v) / factor[0] for v in (seen.box[0], seen.box[2]))  # plain floats, not numpy's
    y0, y1 = (float(v) / factor[1] for v in (seen.box[1], seen.box[3]))
    return Seen(seen.kind, (x0, y0, x1, y1), seen.text)
