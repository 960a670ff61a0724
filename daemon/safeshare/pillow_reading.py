"""What Pillow reads from a file, run in the decoder worker when C code is involved.

Functions here take a `Source`: a path (the worker opens the file itself) or the bytes.
Results are plain picklable data; problems are SafeshareError subclasses.
"""

from __future__ import annotations

import functools
import importlib
import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from PIL import Image, UnidentifiedImageError

from safeshare.errors import CorruptImage, SafeshareError, TooLarge, Truncated

Source = str | bytes | bytearray  # a file path, or the file's bytes


@dataclass(frozen=True)
class PillowView:
    """Pillow's reading of a file: headers, frame count, and the metadata it exposes."""

    format: str
    size: tuple[int, int]
    mode: str
    frames: int
    info_keys: frozenset[str] = frozenset()
    exif: bytes | dict[int, object] = b""  # the EXIF block Pillow found; TIFF's tags, read
    extension: bytes = b""  # GIF application extension Pillow reports, if any

    @functools.cached_property
    def exif_tags(self) -> dict[int, object]:
        """EXIF as Pillow reads it, parsed when first asked for: the verifier asks only of an
        output, never of the input it compares with, and parsing imports Pillow's TIFF
        reader (~5 ms), which an output without EXIF (orientation 1) does not need."""
        if isinstance(self.exif, dict):
            return self.exif
        exif = Image.Exif()
        if self.exif:
            exif.load(self.exif)
        return dict(exif)


# Pillow's own plugin for the formats it reads here. Given one, Pillow reads the file with
# that plugin alone: its `open` imports five plugins (BMP, GIF, JPEG, PPM, PNG; ~7 ms of a
# one-file `clean`) first whenever the file has no name with a known extension, as bytes
# and /proc/self/fd/N do not.
_PLUGINS = {
    "JPEG": "JpegImagePlugin",
    "PNG": "PngImagePlugin",
    "GIF": "GifImagePlugin",
    "WEBP": "WebPImagePlugin",
    "TIFF": "TiffImagePlugin",
    "BMP": "BmpImagePlugin",
}


def preload(expect: str) -> None:
    """Import Pillow's plugin for the format `expect` now (before forking workers)."""
    if expect in _PLUGINS:
        importlib.import_module(f"PIL.{_PLUGINS[expect]}")


def _image(source: Source, expect: str) -> Image.Image:
    """Pillow's reading of `source`: by the plugin of the format `expect` when it is one of
    `_PLUGINS` (refused as Pillow's `open` refuses what no plugin accepts), else by `open`."""
    stream = source if isinstance(source, str) else io.BytesIO(source)
    plugin = _PLUGINS.get(expect)
    if plugin is None:
        return Image.open(stream)
    importlib.import_module(f"PIL.{plugin}")
    factory, accept = Image.OPEN[expect]
    if isinstance(stream, str):
        with Path(stream).open("rb") as file:
            prefix = file.read(16)
    else:
        prefix = stream.read(16)
        stream.seek(0)
    accepted = accept is None or accept(prefix)
    if not accepted or isinstance(accepted, str):  # a str: why it is not read (a missing codec)
        raise UnidentifiedImageError(f"cannot identify image file as {expect}")
    # A path is opened by the plugin's ImageFile itself (and closed with the image), as by
    # `Image.open`; the registry's annotation names streams only.
    return factory(cast("IO[bytes]", stream), stream if isinstance(stream, str) else "")


@contextmanager
def opened(source: Source, max_pixels: int, expect: str = "") -> Iterator[Image.Image]:
    """Pillow's image, refusing over-large canvases before any pixel is decoded; `expect`:
    the Pillow format name the file should be, when known."""
    Image.MAX_IMAGE_PIXELS = None  # our own limit below, checked before any pixel is decoded
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with _image(source, expect) as image:
                if image.width * image.height > max_pixels:
                    raise TooLarge(f"{image.width}x{image.height} pixels is over the limit of {max_pixels}")
                yield image
    except SafeshareError:
        raise
    except UnidentifiedImageError as exc:
        raise CorruptImage("the image library cannot read it (it does not recognise the data)") from exc
    except (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError) as exc:
        # RuntimeError: what Pillow's AVIF reader raises when libavif fails ("Conversion
        # from YUV failed: Reformat failed"), and pillow-heif when libheif does.
        raise CorruptImage(f"the image library cannot read it ({first_line(exc)})") from exc
    except Exception as exc:
        raise CorruptImage(f"the image library cannot read it ({type(exc).__name__})") from exc


def view(source: Source, max_pixels: int, expect: str = "") -> PillowView:
    """Headers and frame count (for GIF and animated WebP, counting frames decodes them)."""
    with opened(source, max_pixels, expect) as image:
        frames = getattr(image, "n_frames", 1)
        return PillowView(
            image.format or "",
            image.size,
            image.mode,
            frames,
            frozenset(str(key) for key in image.info),
            _exif(image),
            _gif_extension(image),
        )


def full_decode(source: Source, reason: str, max_pixels: int) -> None:
    """Decode every pixel of every frame; Truncated(reason) when that fails. A JPEG is
    decoded at an eighth of its size (libjpeg's DCT scaling): every byte of its entropy-coded
    data is still read and checked, and the final transform costs a fraction."""
    try:
        with opened(source, max_pixels) as image:
            if image.format == "JPEG":
                image.draft(image.mode, (1, 1))
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                image.load()
    except CorruptImage as exc:
        raise Truncated(reason) from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise Truncated(reason) from exc


def _exif(image: Image.Image) -> bytes | dict[int, object]:
    """The EXIF Pillow found in the headers: TIFF's tags (the image's own IFD, read now), else
    the EXIF block as bytes. `getexif()` is avoided except for TIFF: on a PNG without eXIf it
    decodes the whole image looking for one after the pixel data."""
    if image.format == "TIFF":
        return dict(image.getexif())
    raw = image.info.get("exif")
    return bytes(raw) if raw else b""


def _gif_extension(image: Image.Image) -> bytes:
    block = image.info.get("extension")
    return bytes(block[0]) if isinstance(block, tuple) and block else b""


def first_line(exc: BaseException) -> str:
    """Pillow's message without the object reprs it sometimes embeds ('<_io.BytesIO ...>')."""
    import re

    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
