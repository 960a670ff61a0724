"""Faces at every scale. Runs in the vision worker.

One detector run cannot see every face: CenterFace finds faces from about 10 px to about
half the picture it is given. So faces are looked for three ways and the boxes merged:
- in a small copy (480 px), for a face that fills the frame or is cut by its edge (at
  1600 px a close selfie returns nothing; shrunk, it is found);
- in the picture at 1600 px, for ordinary faces;
- in squares of the working copy (up to 3000 px), for small faces in a large photo. These
  cost about five detector runs, so they run when a redaction depends on them, and
  otherwise the report says that small faces may be missed.
Pictures longer than 4:1 (scrolling screenshots) are always searched in 2:1 pieces.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from PIL import Image

from safeshare.vision import centerface
from safeshare.vision.report import Box
from safeshare.vision.shapes import ELONGATED, THREADS, area, aspect, common, piece_length, pieces, union

SMALL_SIDE = 480  # a face filling the frame, or half a face at its edge
SAME = 0.3  # boxes overlapping this much (IoU) are one face
SMALLEST = 10  # px: a picture thinner than this holds no face


def face_boxes(rgb: Image.Image, thorough: bool = False) -> list[Box]:
    """Faces in `rgb`, largest first, in `rgb`'s pixels."""
    if min(rgb.size) < SMALLEST:
        return []  # a sliver: no face fits (and 2:1 pieces of it would be thousands)
    found: list[Box] = []
    for (dx, dy), piece, side in _passes(rgb, thorough):
        for box, _score in centerface.faces(piece, THREADS, side):
            _merge(found, (box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy))
    return sorted(found, key=area, reverse=True)


def reach(rgb: Image.Image, thorough: bool) -> float:
    """The scale at which the smallest faces were looked for (1: the working copy itself)."""
    if min(rgb.size) < SMALLEST:
        return 1.0  # nothing is looked for: no face fits
    if aspect(rgb.size) > ELONGATED:  # in pieces, each shrunk to 1600 px
        return min(1.0, centerface.LONG_SIDE / piece_length(rgb.size))
    if thorough:
        return 1.0
    return min(1.0, centerface.LONG_SIDE / max(rgb.size))


def _passes(rgb: Image.Image, thorough: bool) -> Iterator[tuple[tuple[int, int], Image.Image, int]]:
    if max(rgb.size) > SMALL_SIDE * 1.5:
        yield (0, 0), rgb, SMALL_SIDE
    yield (0, 0), rgb, centerface.LONG_SIDE
    if max(rgb.size) <= centerface.LONG_SIDE:
        return
    if aspect(rgb.size) > ELONGATED:
        pieces_ = pieces(rgb)
    elif thorough:
        pieces_ = _tiles(rgb, centerface.LONG_SIDE)
    else:
        return
    for offset, piece in pieces_:
        yield offset, piece, centerface.LONG_SIDE


def _merge(found: list[Box], box: Box) -> None:
    """Adds `box`, joined with every known box it is the same face as (IoU over 0.3: seen in
    another pass, or in the overlap of two pieces). Joined boxes become their union, so a
    face clipped by one piece's edge is covered whole. A box inside another is kept: it may
    be a second face, and filling both is always safe."""
    while (twin := next((known for known in found if _iou(box, known) > SAME), None)) is not None:
        found.remove(twin)
        box = union(box, twin)
    found.append(box)


def _iou(a: Box, b: Box) -> float:
    shared = common(a, b)
    return shared / max(1e-9, area(a) + area(b) - shared)


def _tiles(image: Image.Image, side: int) -> Iterator[tuple[tuple[int, int], Image.Image]]:
    """As few squares of `side` px as cover the image with an overlap of an eighth: a face
    small enough to need a piece is whole in one; a larger one is found in the whole."""
    overlap = side // 8

    def starts(length: int) -> list[int]:
        count = max(1, math.ceil((length - overlap) / (side - overlap)))
        last = max(0, length - side)
        return sorted({round(last * i / max(1, count - 1)) for i in range(count)})

    for y in starts(image.height):
        for x in starts(image.width):
            box = (x, y, min(image.width, x + side), min(image.height, y + side))
            yield (x, y), image.crop(box)
