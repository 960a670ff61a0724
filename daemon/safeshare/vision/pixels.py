"""Pixels as the detectors and redaction need them: upright, 8 bits a sample, transparency
kept apart. Runs in the vision worker.

Two traps this avoids: Pillow's convert("RGB") clips 16-bit samples at 255 (a 16-bit grey
picture turns almost white, and nothing in it is found), and dropping the alpha channel
shows whatever colour lies under transparent pixels (black text on a transparent page
becomes black on black; colour hidden under alpha 0 becomes visible).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from safeshare.formats.reencode import upright

WHITE, BLACK = (255, 255, 255), (0, 0, 0)
_WIDE = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")  # more than 8 bits a sample


def upright_8bit(image: Image.Image) -> Image.Image:
    """The picture as viewers show it: RGB, or RGBA when it has any transparency."""
    picture = upright(image)
    if picture.mode in _WIDE:
        picture = _to_8bit(picture)
    if has_alpha(picture):
        return picture.convert("RGBA")
    return picture if picture.mode == "RGB" else picture.convert("RGB")


def has_alpha(picture: Image.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info


def flattened(picture: Image.Image, background: tuple[int, int, int]) -> Image.Image:
    """An RGBA picture laid on a plain background, as a page or a dark theme shows it."""
    if picture.mode != "RGBA":
        return picture
    page = Image.new("RGB", picture.size, background)
    page.paste(picture, mask=picture.getchannel("A"))
    return page


def without_hidden_colour(picture: Image.Image) -> Image.Image:
    """RGBA with black under every fully transparent pixel: nothing kept that cannot be seen."""
    if picture.mode != "RGBA":
        return picture
    pixels = np.array(picture)
    pixels[pixels[..., 3] == 0] = 0
    return Image.fromarray(pixels, "RGBA")


def _to_8bit(picture: Image.Image) -> Image.Image:
    """Samples scaled into 0-255 by the range their type can hold (16-bit: 65535; float: 1.0,
    or 255 when the values go past 1), never clipped."""
    samples = np.asarray(picture, dtype=np.float64)
    top = float(samples.max(initial=0.0))
    integers = 65535.0 if top <= 65535 else top
    full = (1.0 if top <= 1.0 else 255.0) if picture.mode == "F" else integers
    scaled = np.clip(samples * (255.0 / full), 0, 255).round().astype(np.uint8)
    return Image.fromarray(scaled, "L")
