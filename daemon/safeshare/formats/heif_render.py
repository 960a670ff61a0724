"""HEIF and AVIF pictures as viewers show them, re-encoded. Runs in the decoder worker.

Decoding: Pillow (its AVIF reader, libavif) or pillow-heif (libheif) opens the file. When
Pillow cannot decode an AVIF (libavif's "Reformat failed": colour matrices it does not
convert, such as identity with subsampled chroma), libheif is tried before the file is
refused. The pillow-heif 1.8.1 wheel ships libheif without an AV1 decoder (and without
plugin loading), so with it the refusal names both readers' reasons.

Showing: the transformative properties (clap, irot, imir) in the file's order; libheif
applies them itself, for Pillow's AVIF reader heif_display.apply does. HDR (PQ or HLG,
described by nclx alone) is tone-mapped to sRGB (formats/hdr.py) and the report says so.

Image sequences ('avis', 'msf1'): decision. An animation is kept, as an animated PNG
(APNG), losslessly: every displayed frame is the decoded frame, identical frames merged
into one longer frame, each frame's duration and the loop count kept (a duration APNG cannot
hold, over about 65 s, is rounded to whole seconds, at most 65,535 s, with a note). Lossless because
animated WebP at its best lossy setting stays near 31 dB on synthetic content (4:2:0),
under the 40 dB re-encoding bar; APNG because a viewer without APNG support still shows
its first frame. When the frames together exceed ANIMATION_PIXELS (memory and time in this
worker), or the decoder shows only a still (libheif reads no sequences), the still is
published with a note: "animation of 120 frames: only the first frame kept (...)". The
frames are never reported as removed data.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from PIL import Image, ImageChops

from safeshare.errors import CorruptImage, TooLarge
from safeshare.findings import Finding
from safeshare.formats import hdr
from safeshare.formats.heif_display import Display, Plan, apply, check_order
from safeshare.formats.reencode import Reencoded, encode, register_heif
from safeshare.metadata.icc import sanitize_icc
from safeshare.pillow_reading import Source, first_line, opened

ANIMATION_PIXELS = 64_000_000  # all frames together: 256 MB as RGBA
APNG_MAX_MS = 65_535_000  # the longest delay an APNG frame can say: 65535/1 s
ROUNDED = "frame durations APNG cannot hold rounded to whole seconds (at most 65,535 s, its maximum)"
LIBHEIF_STILL = "libheif here decodes no image sequences"


@dataclass(frozen=True)
class Rendered(Reencoded):
    track: bool = False  # what was shown: the sequence track (else the still primary item)


def render(source: Source, plan: Plan, convert_to: str, quality: int, max_pixels: int) -> Rendered:
    """The file's picture (or animation) as viewers show it, as JPEG or PNG."""
    register_heif()
    try:
        with opened(source, max_pixels) as image:
            ours = image.format == "AVIF"  # Pillow's reader: the transforms are ours to apply
            track = ours and plan.avif_track and plan.sequence is not None
            frames = getattr(image, "n_frames", 1)
            if ours:
                _matches(plan, track, frames)
            if ours and frames > 1:
                why = _too_large(frames, image.size)
                if not why:
                    return _animation(image, plan.display(track), plan, frames)
                notes = [f"animation of {frames} frames: only the first frame kept ({why})"]
            else:
                notes = _still_note(plan, "the file asks for its still image" if ours else LIBHEIF_STILL)
            image.load()
            return _still(image, plan.display(track), ours, track, convert_to, quality, notes)
    except CorruptImage as pillow_failed:
        # The transforms were checked before the worker was asked (heif.py), so this is
        # the decoder failing on the pixels.
        if plan.format != "AVIF":
            raise
        image = _libheif(source, max_pixels, pillow_failed)
    return _still(
        image, plan.display(False), False, False, convert_to, quality, _still_note(plan, LIBHEIF_STILL)
    )


def _matches(plan: Plan, track: bool, frames: int) -> None:
    """What libavif decoded is what the file's boxes say it shows (the same track, its
    frames, transforms in libavif's order): otherwise the transforms are not known."""
    check_order(plan.display(track))
    expected = plan.sequence.frames if track and plan.sequence is not None else 1
    if frames != expected:
        raise CorruptImage(
            f"the AVIF decoder shows {frames} frames where the file's boxes describe {expected}"
        )


def _too_large(frames: int, size: tuple[int, int]) -> str:
    total = frames * size[0] * size[1]
    if total <= ANIMATION_PIXELS:
        return ""
    limit = ANIMATION_PIXELS / 1e6
    return f"{total / 1e6:.1f} million pixels in all; animations are kept up to {limit:g} million"


def _still_note(plan: Plan, why: str) -> list[str]:
    if plan.sequence is None or plan.sequence.frames < 2:
        return []
    return [f"animation of {plan.sequence.frames} frames: only the still image kept ({why})"]


def _libheif(source: Source, max_pixels: int, pillow_failed: CorruptImage) -> Image.Image:
    """The primary image as libheif decodes it (transforms applied), when Pillow could not."""
    import pillow_heif

    try:
        data = Path(source).read_bytes() if isinstance(source, str) else bytes(source)
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
        if width * height > max_pixels:
            raise TooLarge(f"{width}x{height} pixels is over the limit of {max_pixels}")
        image: Image.Image = heif.to_pillow()
        return image
    except (OSError, ValueError, SyntaxError, RuntimeError) as exc:
        raise CorruptImage(f"{pillow_failed}; libheif cannot decode it either ({first_line(exc)})") from exc


def _transformed(image: Image.Image, display: Display, ours: bool) -> tuple[Image.Image, list[str]]:
    picture = apply(image, display.transforms) if ours else image
    wanted = hdr.hdr_of(display) if not image.info.get("icc_profile") else None
    if wanted is None:
        return picture, []
    return hdr.tone_map(picture, *wanted), [hdr.describe(*wanted)]


def _still(
    image: Image.Image,
    display: Display,
    ours: bool,
    track: bool,
    convert_to: str,
    quality: int,
    notes: list[str],
) -> Rendered:
    picture, colour = _transformed(image, display, ours)
    profile = image.info.get("icc_profile") if not colour else None
    icc = sanitize_icc(profile, "HEIF colour profile") if profile else None
    as_png = convert_to == "png" or picture.mode in ("RGBA", "LA", "PA")
    data, fmt, encoded = encode(picture, as_png, quality, icc.profile if icc is not None else None)
    if as_png and convert_to != "png":
        notes = [*notes, "kept as PNG to keep transparency"]
    findings: list[Finding] = icc.findings if icc is not None else []
    return Rendered(data, fmt, encoded.size, encoded.mode, 1, findings, [*colour, *notes], track)


def _animation(image: Image.Image, display: Display, plan: Plan, count: int) -> Rendered:
    """Every frame, shown as the file says, as a lossless APNG; identical neighbours merged
    the way Pillow's APNG writer would merge them, so the frame count is known here."""
    frames: list[Image.Image] = []
    durations: list[int] = []
    colour: list[str] = []
    rounded = False
    for index in range(count):
        image.seek(index)
        image.load()
        frame, colour = _transformed(image.copy(), display, True)
        duration = _representable(int(image.info.get("duration", 0)))
        rounded = rounded or duration != int(image.info.get("duration", 0))
        if frames and _same(frame, frames[-1]) and _mergeable(durations[-1] + duration):
            durations[-1] += duration
            continue
        frames.append(frame)
        durations.append(duration)
    profile = image.info.get("icc_profile") if not colour else None
    icc = sanitize_icc(profile, "HEIF colour profile") if profile else None
    extra = {"icc_profile": icc.profile} if icc is not None and icc.profile else {}
    loop = plan.sequence.loop if plan.sequence is not None else 0
    out = io.BytesIO()
    frames[0].save(
        out, "PNG", save_all=True, append_images=frames[1:], duration=durations, loop=loop, **extra
    )
    notes = [*colour, f"animation of {count} frames kept, as a lossless animated PNG"]
    if rounded:
        notes.append(ROUNDED)
    findings: list[Finding] = icc.findings if icc is not None else []
    return Rendered(out.getvalue(), "PNG", frames[0].size, frames[0].mode, len(frames), findings, notes, True)


def _same(a: Image.Image, b: Image.Image) -> bool:
    """Pillow's APNG writer's test for a frame it folds into the previous one."""
    return ImageChops.subtract_modulo(a.convert("RGBA"), b.convert("RGBA")).getbbox(alpha_only=False) is None


def _representable(duration: int) -> int:
    """`duration` (ms) as APNG can hold it (a delay of two 16-bit numbers: at most 65,535 s):
    unchanged when it fits, else whole seconds, at most APNG_MAX_MS."""
    if _mergeable(duration):
        return duration
    return min(APNG_MAX_MS, max(1000, round(duration / 1000) * 1000))


def _mergeable(duration: int) -> bool:
    return Fraction(duration / 1000).limit_denominator(65535).numerator <= 65535
