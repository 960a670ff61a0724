"""Shapes the detectors share: how elongated a picture is, and its 2:1 pieces."""

from __future__ import annotations

import os
from collections.abc import Iterator

from PIL import Image

from safeshare.vision.report import Box

# Past 4:1 (scrolling screenshots, receipts, panoramas) a picture is kept by area, not long
# side, and looked at in overlapping pieces: shrunk to 1280 px its text would be
# unreadable, and whole, rapidocr would scale its short side up and run out of memory.
ELONGATED = 4.0
PIECE = 2  # pieces of 2:1: in 4:1 pieces rapidocr missed lines it reads in 2:1 ones
MIN_PIECE = 640
THREADS = max(1, min(2, os.cpu_count() or 1))


def aspect(size: tuple[int, int]) -> float:
    return max(size) / max(1, min(size))


def pieces(image: Image.Image) -> Iterator[tuple[tuple[int, int], Image.Image]]:
    """2:1 pieces along the long side, each overlapping the next by a fifth, so that a line
    or a face cut by one edge is whole in the next piece."""
    width, height = image.size
    tall = height > width
    long = max(width, height)
    length = piece_length(image.size)
    start = 0
    while True:
        end = min(long, start + length)
        box = (0, start, width, end) if tall else (start, 0, end, height)
        yield (box[0], box[1]), image.crop(box)
        if end >= long:
            return
        start += length * 4 // 5


def piece_length(size: tuple[int, int]) -> int:
    """2:1, and never under MIN_PIECE px: pieces of a sliver 1 px wide would be 2 px long,
    tens of thousands of detector runs for a file of a few hundred bytes."""
    return max(int(min(size) * PIECE), MIN_PIECE)


def overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def union(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def common(a: Box, b: Box) -> float:
    """The area the two boxes share."""
    return max(0.0, min(a[2], b[2]) - max(a[0], b[0])) * max(0.0, min(a[3], b[3]) - max(a[1], b[1]))


def area(box: Box) -> float:
    return max(0.0, box[2] - box[0]) * max(0.0, box[3] - box[1])
