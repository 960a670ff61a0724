"""Readable text, read where it is. Runs in the vision worker.

The picture is read whole at 1280 px (rapidocr's detector finds lines far smaller than its
recogniser can read). When the working copy is larger than that, every line that was found
but could not be read with confidence, or that is small at 1280 px, is read again from the
working copy at up to 2.3 times the resolution, in as few regions as hold those lines: an
area is read closer only where text was found, and never twice. Pictures longer than 4:1
are read in overlapping 2:1 pieces instead. Results need a score of 0.6 and at least three
letters or digits (the false-positive filter).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image

from safeshare.vision.centerface import downscale
from safeshare.vision.report import Box, Seen
from safeshare.vision.shapes import ELONGATED, THREADS, area, aspect, common, overlap, pieces, union

TEXT_LONG_SIDE, TEXT_SHORT_SIDE = 1280, 960
TEXT_MIN_SCORE, TEXT_MIN_ALNUM = 0.6, 3
CLOSER = 1.5  # read again closer when the working copy is at least this much larger
SMALL_LINE = 20  # px high at 1280 px: read again closer even when it was read
UNREAD_LINE = 40  # px high at 1280 px: found but not read, read again closer
REGION_SIDE = 1600  # the largest region read at once (rapidocr shrinks past 2000)
MAX_REGIONS = 12
COVERED = 0.7  # a line read from afar gives way to closer readings covering this much of it
ENLARGED = 736  # short side a small picture is enlarged to (rapidocr's own default)
OCR_MODELS = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
_ocr: Any = None
Line = tuple[Box, str, float]  # box in the read image's pixels, text, score


def reach(rgb: Image.Image) -> float:
    """The scale the smallest text was looked for at (1: the working copy itself). Lines found
    at 1280 px are read closer, but a line is only found at the scale of the whole."""
    if aspect(rgb.size) > ELONGATED:
        return min(1.0, TEXT_SHORT_SIDE / min(rgb.size))
    return min(1.0, TEXT_LONG_SIDE / max(rgb.size))


def texts(rgb: Image.Image) -> tuple[list[Seen], bool]:
    """Text in `rgb`, in `rgb`'s pixels, and whether every unsure line was read again (False:
    more regions than MAX_REGIONS; the result then says that small text may be missed)."""
    if aspect(rgb.size) > ELONGATED:
        return _in_pieces(rgb), True
    small, factor = downscale(rgb, TEXT_LONG_SIDE)
    read, scale = small, factor
    if min(small.size) < ENLARGED:  # a small picture is read enlarged, as rapidocr would
        scale = factor * ENLARGED / max(1, min(small.size))
        read = small.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.Resampling.BICUBIC)
    lines = [_scaled(line, scale) for line in _lines(read)]
    found = [_seen(line) for line in lines if _readable(line)]
    if factor * CLOSER > 1:
        return found, True
    # Read closer: what is small, or was found but not read (only where it is small: a large
    # box that could not be read is not text that more pixels would make readable).
    unsure = [
        line[0]
        for line in lines
        if _height(line) * factor < SMALL_LINE
        or (not _readable(line) and _height(line) * factor < UNREAD_LINE)
    ]
    closer: list[Seen] = []
    regions = _regions(unsure, rgb.size)
    for region in regions[:MAX_REGIONS]:
        crop = rgb.crop((round(region[0]), round(region[1]), round(region[2]), round(region[3])))
        piece, piece_factor = downscale(crop, REGION_SIDE)
        for line in _lines(piece):
            _add_once(closer, _scaled(line, piece_factor, (round(region[0]), round(region[1]))))
    # Read closer replaces read from afar only for a line that was itself read again and is
    # mostly covered by what was read closer: a sure line beside small ones is kept whole
    # (its box is what redaction fills), and so is a line the closer read did not cover.
    again = set(unsure)
    kept = [seen for seen in found if seen.box not in again or _covered(seen.box, closer) < COVERED]
    return kept + closer, len(regions) <= MAX_REGIONS


def _covered(box: Box, by: list[Seen]) -> float:
    """About how much of `box` the boxes of `by` cover (where two of them overlap each other
    that part counts twice; closer lines seldom overlap), at most 1."""
    return min(1.0, sum(common(box, seen.box) for seen in by) / max(1e-9, area(box)))


def _in_pieces(rgb: Image.Image) -> list[Seen]:
    scale = min(1.0, TEXT_SHORT_SIDE / min(rgb.size))
    small, factor = downscale(rgb, round(max(rgb.size) * scale))
    if min(small.size) < 8:
        return []  # too thin to hold a line of text
    found: list[Seen] = []
    for (dx, dy), piece in pieces(small):
        for line in _lines(piece):
            _add_once(found, _scaled(line, factor, (dx / factor, dy / factor)))
    return found


def _add_once(found: list[Seen], line: Line) -> None:
    """Adds a readable line, unless the same text was read at the same place (a line in the
    overlap of two pieces or regions is read twice: kept once)."""
    if _readable(line) and not any(line[1] == known.text and overlap(line[0], known.box) for known in found):
        found.append(_seen(line))


def _regions(boxes: list[Box], size: tuple[int, int]) -> list[Box]:
    """Boxes grown by their height on each side and merged where they touch, largest first."""
    merged: list[Box] = []
    for b in boxes:
        h = b[3] - b[1]
        box = (max(0.0, b[0] - h), max(0.0, b[1] - h), min(size[0], b[2] + h), min(size[1], b[3] + h))
        while (known := next((k for k in merged if overlap(box, k)), None)) is not None:
            merged.remove(known)  # grown, it may now touch others: merged again until it does not
            box = union(box, known)
        merged.append(box)
    return sorted(merged, key=area, reverse=True)


def _scaled(line: Line, factor: float, origin: tuple[float, float] = (0.0, 0.0)) -> Line:
    """`line` of a picture shrunk by `factor` and cut at `origin` (in the larger picture's
    pixels), in the larger picture's pixels."""
    x0, y0, x1, y1 = line[0]
    dx, dy = origin
    return (x0 / factor + dx, y0 / factor + dy, x1 / factor + dx, y1 / factor + dy), line[1], line[2]


def _height(line: Line) -> float:
    return line[0][3] - line[0][1]


def _readable(line: Line) -> bool:
    return line[2] >= TEXT_MIN_SCORE and sum(c.isalnum() for c in line[1]) >= TEXT_MIN_ALNUM


def _seen(line: Line) -> Seen:
    return Seen("text", line[0], line[1])


def _lines(image: Image.Image) -> list[Line]:
    """Every line the detector found in `image`, with what was read and how sure."""
    result = _engine()(image, text_score=0.0)  # an image, never a string: rapidocr fetches URLs
    if result.txts is None:
        return []
    out: list[Line] = []
    for quad, text, score in zip(result.boxes, result.txts, result.scores, strict=True):
        xs, ys = [float(p[0]) for p in quad], [float(p[1]) for p in quad]
        out.append(((min(xs), min(ys), max(xs), max(ys)), str(text), float(score)))
    return out


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
            # Never scaled up: by default its detector enlarges a picture to 736 px on the
            # short side, which made a 170 x 120 px region cost as much as a whole photo.
            "Det.limit_type": "max",
            "Det.limit_side_len": 2000,
        }
        # A second line of defence above: its downloader refuses. The first: explicit paths.
        for task, name in OCR_MODELS.items():
            params[f"{task}.model_path"] = str(models / name)  # explicit paths: no download step
        _ocr = RapidOCR(params=params)
    return _ocr
