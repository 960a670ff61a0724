"""QR codes and barcodes, looked for at a few scales. Runs in the vision worker.

zxing-cpp reads a code at one scale and misses it at another (too few pixels per module,
or too many for its locator), so the grey picture is read at 1, 0.5 and 0.75 of the
working copy (at most 3000 px), and at 1.5 when that copy is small; what each scale finds
is merged, a code seen at two scales kept once.
"""

from __future__ import annotations

from PIL import Image

from safeshare.vision.centerface import downscale
from safeshare.vision.report import Seen
from safeshare.vision.shapes import overlap

CODE_LONG_SIDE = 3000
SCALES = (1.0, 0.5, 0.75, 1.5)
LARGEST = 3000  # no scale is read larger than this (memory, and zxing's time)


def codes(rgb: Image.Image) -> list[Seen]:
    import zxingcpp

    grey, factor = downscale(rgb.convert("L"), CODE_LONG_SIDE)
    found: list[Seen] = []
    for scale in SCALES:
        side = round(max(grey.size) * scale)
        if side > LARGEST or min(grey.size) * scale < 16:
            continue
        image = (
            grey
            if scale == 1
            else grey.resize(
                (max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                Image.Resampling.BILINEAR,
            )
        )
        for code in zxingcpp.read_barcodes(image):
            p = code.position
            corners = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
            xs = [c.x / (factor * scale) for c in corners]
            ys = [c.y / (factor * scale) for c in corners]
            seen = Seen(code.format.name, (min(xs), min(ys), max(xs), max(ys)), code.text)
            if not any(_same(seen, known) for known in found):
                found.append(seen)
    return found


def _same(a: Seen, b: Seen) -> bool:
    return a.text == b.text and a.kind == b.kind and overlap(_grown(a), _grown(b))


def _grown(seen: Seen) -> tuple[float, float, float, float]:
    """The box 8 px larger on each side: a linear barcode's box can have no height."""
    x0, y0, x1, y1 = seen.box
    return x0 - 8, y0 - 8, x1 + 8, y1 + 8
