"""The independent re-read of an output before it is published (fail closed).

Two readings must both pass. Our own structural walk (the code `safeshare inspect` uses)
must find nothing outside the format's allowlist. Pillow, a separate parser, must then read
the file as the expected format, size, mode and frame count, and see no metadata beyond an
ICC profile, resolution and the one Orientation tag we wrote. Pillow reads JPEG, PNG and
TIFF headers in Python; whatever needs C decoders (GIF and WebP frames, decoding a
re-encoded output) runs in the decoder worker.
"""

from __future__ import annotations

import mmap
from pathlib import Path

from safeshare import isolation
from safeshare.binary import Buffer
from safeshare.errors import InputError, VerificationError
from safeshare.formats import HEAD_SIZE, Cleaned, ImageFormat, by_name, detect
from safeshare.formats.base import ORIENTATION
from safeshare.pillow_reading import PillowView, Source, full_decode, view


def pillow_view(source: Source, format_name: str, max_pixels: int) -> PillowView:
    """Pillow's reading of a file: here when the format's headers are pure Python, in the
    decoder worker otherwise."""
    fmt = by_name(format_name)
    if fmt.in_process:
        return view(source, max_pixels, fmt.pillow_name)
    return isolation.pool().call(view, source, max_pixels, fmt.pillow_name)


def verify_output(fd: int, cleaned: Cleaned, expected: PillowView | None, max_pixels: int) -> None:
    """Raise VerificationError unless the open file `fd` is exactly the clean output. The
    file is read through this descriptor only (never by a path someone could swap)."""
    # Mapped, not read: the output may be as large as the input, which is already in memory.
    with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as data:
        _structural(data, cleaned)
        fmt = by_name(cleaned.format)
        if not fmt.reads_with_pillow(cleaned):  # a format Pillow cannot read brings its own second reading
            problem = fmt.reread(data, cleaned)
            if problem:
                raise VerificationError(problem)
            return
        in_here = by_name(cleaned.format).in_process and not cleaned.reencoded
        # Pillow here reads the same open file again through /proc (no copy); the decoder
        # worker, another process, gets the bytes.
        proc = Path(f"/proc/self/fd/{fd}")
        readable: Source = str(proc) if in_here and proc.exists() else bytes(data)
    _pillow(readable, cleaned, expected, max_pixels)


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


def _pillow(readable: Source, cleaned: Cleaned, expected: PillowView | None, max_pixels: int) -> None:
    try:
        seen = pillow_view(readable, cleaned.format, max_pixels)
        if cleaned.reencoded:
            isolation.pool().call(full_decode, readable, "output does not decode", max_pixels)
    except InputError as exc:
        raise VerificationError(f"output does not re-read: {exc}") from exc
    fmt = by_name(cleaned.format)
    if seen.format != fmt.pillow_name:
        raise VerificationError(f"the image library reads the output as {seen.format}")
    _dimensions(seen, cleaned, expected)
    _metadata(seen, fmt, cleaned.orientation)


def _dimensions(seen: PillowView, cleaned: Cleaned, expected: PillowView | None) -> None:
    if expected is not None:
        frames = cleaned.frames if cleaned.frames is not None else expected.frames
        if (seen.size, seen.mode, seen.frames) != (expected.size, expected.mode, frames):
            raise VerificationError(
                f"output reads as {seen.size} {seen.mode} x{seen.frames}, "
                f"expected {expected.size} {expected.mode} x{frames}"
            )
    elif cleaned.size is not None and (seen.size, seen.mode) != (cleaned.size, cleaned.mode):
        # For HEIF/AVIF the expected size is the displayed one, worked out from the input's
        # own boxes (ispe and clap/irot/imir), never taken from the decoder.
        raise VerificationError(
            f"output reads as {seen.size} {seen.mode}, expected {cleaned.size} {cleaned.mode}"
        )
    elif cleaned.size is not None and cleaned.frames is not None and seen.frames != cleaned.frames:
        raise VerificationError(f"output reads as {seen.frames} frames, expected {cleaned.frames}")


def _metadata(seen: PillowView, fmt: ImageFormat, orientation: int) -> None:
    extra = seen.info_keys - fmt.allowed_info
    if extra:
        raise VerificationError(f"output still carries {sorted(extra)[0]!r} metadata")
    if (
        fmt.name == "GIF"
        and seen.extension
        and not seen.extension.startswith((b"NETSCAPE2.0", b"ANIMEXTS1.0"))
    ):
        raise VerificationError("output still carries a GIF application extension")
    leftover = set(seen.exif_tags) - fmt.exif_allowed
    if leftover:
        raise VerificationError(f"output still carries EXIF tag 0x{min(leftover):04X}")
    if seen.exif_tags.get(ORIENTATION, 1) != orientation:
        raise VerificationError("output orientation does not match the original's")
