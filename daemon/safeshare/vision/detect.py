"""Faces, readable text and codes in a picture. Runs in the vision worker process.

The picture is decoded once into an upright working copy of at most 3000 px (JPEGs at a
reduced DCT scale, so a 100 MP photo never sits in memory whole); each detector shrinks it
further (faces at 1600 px, text at 1280 px, codes at 3000 px grey). Pictures longer than
4:1 are kept by area instead and their text is read in overlapping pieces. Boxes are
reported in the full-size upright picture's pixels, which is what redaction draws on.
Text results need a score of 0.6 and at least three letters or digits. Nothing here
touches the network: rapidocr gets explicit paths to its bundled models and its
downloader is replaced by one that refuses.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # before onnxruntime is imported, or it phones home

from PIL import Image

from safeshare.formats.reencode import register_heif
from safeshare.pillow_reading import Source, opened
from safeshare.vision import centerface, pixels
from safeshare.vision.report import Box, Seen, Visible

TEXT_LONG_SIDE, CODE_LONG_SIDE = 1280, 3000
WORK_LONG_SIDE = max(centerface.LONG_SIDE, TEXT_LONG_SIDE, CODE_LONG_SIDE)  # the most any detector uses
# Past 4:1 (scrolling screenshots, receipts, panoramas) a picture is kept by area, not long
# side, and read in overlapping pieces: shrunk to 1280 px its text would be unreadable, and
# whole, rapidocr would scale its short side up to 736 px and run out of memory.
ELONGATED, WORK_PIXELS, TEXT_SHORT_SIDE = 4.0, 3000 * 2250, 960
PIECE = 2  # pieces of 2:1: in 4:1 pieces rapidocr missed lines it reads in 2:1 ones
TEXT_MIN_SCORE, TEXT_MIN_ALNUM = 0.6, 3
THREADS = max(1, min(2, os.cpu_count() or 1))
OCR_MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
_ocr: Any = None


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
    read = texts(rgb)
    if work.mode == "RGBA":  # what is drawn on transparency shows on a dark page too
        known = {seen.text for seen in read}
        read += [seen for seen in texts(pixels.flattened(work, pixels.BLACK)) if seen.text not in known]
    found = [[_full_size(seen, factor) for seen in kind] for kind in (faces, read, codes(rgb))]
    return Visible(full_size, *found)


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


def _aspect(size: tuple[int, int]) -> float:
    return max(size) / max(1, min(size))


def _work_scale(size: tuple[int, int]) -> float:
    if _aspect(size) > ELONGATED:
        return min(1.0, math.sqrt(WORK_PIXELS / (size[0] * size[1])))
    return min(1.0, WORK_LONG_SIDE / max(size))


def _full_size(seen: Seen, factor: tuple[float, float]) -> Seen:
    x0, x1 = (float(v) / factor[0] for v in (seen.box[0], seen.box[2]))  # plain floats, not numpy's
    y0, y1 = (float(v) / factor[1] for v in (seen.box[1], seen.box[3]))
    return Seen(seen.kind, (x0, y0, x1, y1), seen.text)


def face_boxes(rgb: Image.Image, thorough: bool = False) -> list[Box]:
    """Faces, largest first. A picture longer than 4:1 (a scrolling screenshot) is also
    searched in overlapping 2:1 strips, and with `thorough` any picture larger than the
    detector's 1600 px in squares: shrunk whole, its small faces would be missed, and a
    redaction asked for would publish them. (Squares cost about five detector runs instead
    of one, so only redaction pays for them; issue 15 brings multi-scale detection.)"""
    elongated = _aspect(rgb.size) > ELONGATED
    if max(rgb.size) <= centerface.LONG_SIDE or not (elongated or thorough):
        return [box for box, _score in centerface.faces(rgb, THREADS)]
    found: list[tuple[Box, float]] = []
    # Whole (for a face too large to be whole in any piece), then in pieces the detector sees
    # at full working resolution: shrunk whole to 1600 px, small faces fall below its reach.
    pieces = _pieces(rgb) if elongated else _tiles(rgb, centerface.LONG_SIDE)
    for (dx, dy), piece in [((0, 0), rgb), *pieces]:
        for (x0, y0, x1, y1), score in centerface.faces(piece, THREADS):
            box = (x0 + dx, y0 + dy, x1 + dx, y1 + dy)
            twin = next((i for i, (known, _) in enumerate(found) if _iou(box, known) > 0.3), None)
            if twin is None:
                found.append((box, score))
            elif score > found[twin][1]:
                found[twin] = (box, score)  # a face in the overlap of two pieces: kept once
    found.sort(key=lambda item: (item[0][2] - item[0][0]) * (item[0][3] - item[0][1]), reverse=True)
    return [box for box, _score in found]


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


def _iou(a: Box, b: Box) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    common = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - common
    return common / union if union > 0 else 0.0


def texts(rgb: Image.Image) -> list[Seen]:
    if _aspect(rgb.size) <= ELONGATED:
        small, factor = centerface.downscale(rgb, TEXT_LONG_SIDE)
        return _read(small, factor, (0, 0))
    scale = min(1.0, TEXT_SHORT_SIDE / min(rgb.size))
    small, factor = centerface.downscale(rgb, round(max(rgb.size) * scale))
    if min(small.size) < 8:
        return []  # too thin to hold a line of text
    found: list[Seen] = []
    for offset, piece in _pieces(small):
        for seen in _read(piece, factor, offset):
            if not any(seen.text == known.text and _overlap(seen.box, known.box) for known in found):
                found.append(seen)  # a line in the overlap of two pieces is read twice: kept once
    return found


def _read(image: Image.Image, factor: float, offset: tuple[int, int]) -> list[Seen]:
    result = _engine()(image)  # an image, never a string: rapidocr fetches anything like a URL
    if result.txts is None:
        return []
    found = []
    for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        if score >= TEXT_MIN_SCORE and sum(c.isalnum() for c in text) >= TEXT_MIN_ALNUM:
            xs = [(p[0] + offset[0]) / factor for p in quad]
            ys = [(p[1] + offset[1]) / factor for p in quad]
            found.append(Seen("text", (min(xs), min(ys), max(xs), max(ys)), text))
    return found


def _pieces(image: Image.Image) -> Iterator[tuple[tuple[int, int], Image.Image]]:
    """2:1 pieces along the long side, each overlapping the next by a fifth, so that a line
    cut by one edge is whole in the next piece."""
    width, height = image.size
    tall = height > width
    short, long = min(width, height), max(width, height)
    length = int(short * PIECE)
    start = 0
    while True:
        end = min(long, start + length)
        box = (0, start, width, end) if tall else (start, 0, end, height)
        yield (box[0], box[1]), image.crop(box)
        if end >= long:
            return
        start += length * 4 // 5


def _overlap(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def codes(rgb: Image.Image) -> list[Seen]:
    import zxingcpp

    small, factor = centerface.downscale(rgb.convert("L"), CODE_LONG_SIDE)
    found = []
    for code in zxingcpp.read_barcodes(small):
        p = code.position
        corners = (p.top_left, p.top_right, p.bottom_right, p.bottom_left)
        xs, ys = [c.x / factor for c in corners], [c.y / factor for c in corners]
        found.append(Seen(code.format.name, (min(xs), min(ys), max(xs), max(ys)), code.text))
    return found


def _refuse_download(*args: object, **kwargs: object) -> None:
    raise RuntimeError("rapidocr tried to download a model: refused (safeshare works offline)")


def _engine() -> Any:
    global _ocr
    if _ocr is None:
        from importlib.util import find_spec

        from rapidocr import RapidOCR
        from rapidocr.utils import download_file

        download_file.DownloadFile.run = classmethod(_refuse_download)  # type: ignore[method-assign,assignment]
        spec = find_spec("rapidocr")
        assert spec is not None and spec.submodule_search_locations
        models = Path(next(iter(spec.submodule_search_locations))) / "models"
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "EngineConfig.onnxruntime.intra_op_num_threads": THREADS,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        # A second line of defence above: its downloader refuses. The first: explicit paths.
        for task, name in OCR_MODELS.items():
            params[f"{task}.model_path"] = str(models / name)  # explicit paths: no download step
        _ocr = RapidOCR(params=params)
    return _ocr
