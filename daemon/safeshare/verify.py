"""The independent re-read of an output before it is published (fail closed).

Two readings must both pass. Our own structural walk (the code `safeshare inspect` uses)
must find nothing outside the format's allowlist. Pillow, a separate parser, must then read
the file as the expected format, size, mode and frame count, and see no metadata beyond an
ICC profile, resolution and the one Orientation tag we wrote.
"""

from __future__ import annotations

import io
import mmap
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, InputError, TooLarge, VerificationError
from safeshare.formats import HEAD_SIZE, Cleaned, detect
from safeshare.formats.tiff import STRUCTURAL as TIFF_STRUCTURAL

# Pillow `info` keys that describe pixels, colour, timing or resolution, per format.
ALLOWED_INFO = {
    "JPEG": {
        "jfif",
        "jfif_version",
        "jfif_unit",
        "jfif_density",
        "dpi",
        "icc_profile",
        "adobe",
        "adobe_transform",
        "progressive",
        "progression",
        "exif",
    },
    "PNG": {
        "dpi",
        "aspect",
        "gamma",
        "chromaticity",
        "srgb",
        "icc_profile",
        "transparency",
        "exif",
        "cicp",
        "interlace",
        "loop",
        "duration",
        "disposal",
        "blend",
        "default_image",
        "bbox",
    },
    "WEBP": {"icc_profile", "exif", "loop", "duration", "background", "timestamp"},
    "GIF": {"version", "background", "transparency", "duration", "loop", "extension"},
    "TIFF": {"compression", "dpi", "resolution", "icc_profile"},
}
PILLOW_NAMES = {"JPEG": "JPEG", "PNG": "PNG", "WebP": "WEBP", "GIF": "GIF", "TIFF": "TIFF"}
ORIENTATION = 0x0112


@dataclass(frozen=True)
class PillowView:
    """What Pillow reads from a file's headers (no pixels decoded)."""

    format: str
    size: tuple[int, int]
    mode: str
    frames: int


def pillow_view(data: Buffer | Path, max_pixels: int) -> PillowView:
    """Open with Pillow, headers only; InputError when Pillow cannot read the file."""
    source = data if isinstance(data, Path) else io.BytesIO(data)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(source) as image:
                if image.width * image.height > max_pixels:
                    raise TooLarge(f"{image.width}x{image.height} pixels is over the limit of {max_pixels}")
                frames = getattr(image, "n_frames", 1)
                return PillowView(image.format or "", image.size, image.mode, frames)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"the image library cannot read it ({_first_line(exc)})") from exc


def verify_output(path: Path, cleaned: Cleaned, expected: PillowView | None, max_pixels: int) -> None:
    """Raise VerificationError unless the file at `path` is exactly the clean output."""
    # Mapped, not read: the output may be as large as the input, which is already in memory.
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _structural(data, cleaned)
    _pillow(path, cleaned, expected, max_pixels)


def _structural(data: Buffer, cleaned: Cleaned) -> None:
    problem = _structural_problem(data, cleaned)
    if problem:
        # Raised without chaining: a traceback into the parser would keep views of the
        # mapped output alive and stop the map from closing.
        raise VerificationError(problem)


def _structural_problem(data: Buffer, cleaned: Cleaned) -> str | None:
    try:
        fmt = detect(bytes(data[:HEAD_SIZE]))
        if fmt.name != cleaned.format:
            return f"output is {fmt.name}, expected {cleaned.format}"
        seen = fmt.inspect(data)
    except InputError as exc:
        return f"output does not re-read: {exc}"
    if seen.findings:
        leftover = seen.findings.items[0]  # named by what it is, never by its value
        return f"output still carries {leftover.what} [{leftover.where}]"
    if seen.orientation != cleaned.orientation:
        return f"output orientation {seen.orientation}, expected {cleaned.orientation}"
    return None


def _pillow(path: Path, cleaned: Cleaned, expected: PillowView | None, max_pixels: int) -> None:
    view = _pillow_or_fail(path, max_pixels)
    name = PILLOW_NAMES.get(cleaned.format, cleaned.format)
    if view.format != name:
        raise VerificationError(f"the image library reads the output as {view.format}")
    if expected is not None:
        frames = cleaned.frames if cleaned.frames is not None else expected.frames
        if (view.size, view.mode, view.frames) != (expected.size, expected.mode, frames):
            raise VerificationError(
                f"output reads as {view.size} {view.mode} x{view.frames}, "
                f"expected {expected.size} {expected.mode} x{frames}"
            )
    elif cleaned.size is not None and (view.size, view.mode) != (cleaned.size, cleaned.mode):
        raise VerificationError(
            f"output reads as {view.size} {view.mode}, expected {cleaned.size} {cleaned.mode}"
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with Image.open(path) as image:
            _metadata(image, name, cleaned.orientation)
            if cleaned.reencoded:
                _decode(image)


def _pillow_or_fail(path: Path, max_pixels: int) -> PillowView:
    try:
        return pillow_view(path, max_pixels)
    except InputError as exc:
        raise VerificationError(f"output does not re-read: {exc}") from exc


def _metadata(image: Image.Image, name: str, orientation: int) -> None:
    extra = set(image.info) - ALLOWED_INFO.get(name, set())
    if extra:
        raise VerificationError(f"output still carries {sorted(extra)[0]!r} metadata")
    if name == "GIF" and "extension" in image.info:
        block = image.info["extension"][0]
        if not block.startswith((b"NETSCAPE2.0", b"ANIMEXTS1.0")):
            raise VerificationError("output still carries a GIF application extension")
    tags = _exif_tags(image, name)
    leftover = set(tags) - (TIFF_STRUCTURAL if name == "TIFF" else {ORIENTATION})
    if leftover:
        raise VerificationError(f"output still carries EXIF tag 0x{min(leftover):04X}")
    if tags.get(ORIENTATION, 1) != orientation:
        raise VerificationError("output orientation does not match the original's")


def _exif_tags(image: Image.Image, name: str) -> dict[int, object]:
    """EXIF as Pillow reads it from the headers. `getexif()` is avoided: on a PNG without
    eXIf it decodes the whole image looking for one after the pixel data."""
    if name == "TIFF":
        return dict(image.getexif())
    exif = Image.Exif()
    raw = image.info.get("exif")
    if raw:
        exif.load(raw)
    return dict(exif)


def _decode(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, ValueError, SyntaxError) as exc:
        raise VerificationError(f"output does not decode ({_first_line(exc)})") from exc


def _first_line(exc: BaseException) -> str:
    """Pillow's message without the object reprs it sometimes embeds ('<_io.BytesIO ...>')."""
    if isinstance(exc, UnidentifiedImageError):
        return "it does not recognise the data"
    text = re.sub(r"\s*<[^<>]* at 0x[0-9a-fA-F]+>", "", str(exc)).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]
