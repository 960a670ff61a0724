"""Redaction: solid boxes over what should not be shown (never blur: blur can be undone).
Runs in the vision worker. The result is re-encoded from pixels, upright, ICC kept."""

from __future__ import annotations

from PIL import ImageDraw

from safeshare.formats.reencode import Reencoded, encode, register_heif
from safeshare.metadata.icc import sanitize_icc
from safeshare.pillow_reading import Source, opened
from safeshare.vision import pixels
from safeshare.vision.report import Box

MARGIN = 0.1  # boxes grow by 10% on each side: detectors draw them tight


def redact(source: Source, boxes: list[Box], as_png: bool, quality: int, max_pixels: int) -> Reencoded:
    register_heif()
    with opened(source, max_pixels) as image:
        picture = pixels.upright_8bit(image)
        profile = image.info.get("icc_profile")
        frames = getattr(image, "n_frames", 1)
    # PNG keeps transparency (with nothing left under it); JPEG cannot: laid on white.
    picture = pixels.without_hidden_colour(picture) if as_png else pixels.flattened(picture, pixels.WHITE)
    draw = ImageDraw.Draw(picture)
    for x0, y0, x1, y1 in boxes:
        dx, dy = (x1 - x0) * MARGIN, (y1 - y0) * MARGIN
        draw.rectangle((x0 - dx, y0 - dy, x1 + dx, y1 + dy), fill="black")
    # The pixels are RGB now: a grey or CMYK profile would misdescribe them.
    profile = profile if profile and profile[16:20] == b"RGB " else None
    icc = sanitize_icc(profile, "colour profile") if profile else None
    data, fmt, encoded = encode(picture, as_png, quality, icc.profile if icc is not None else None)
    # Only the first frame was looked at, so only it may be published.
    notes = [f"redacted: only the first of {frames} frames kept"] if frames > 1 else []
    return Reencoded(data, fmt, encoded.size, encoded.mode, 1, icc.findings if icc is not None else [], notes)
