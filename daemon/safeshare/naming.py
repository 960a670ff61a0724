"""Output file names: kept, converted, or neutral; and names that give too much away."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from safeshare.binary import Piece

# Dates (2025-03-01, 20250301, 2025_03_01) and times (14.02.11, 140211, 14-02-11).
_DATE = re.compile(r"(?<!\d)(19[7-9]\d|20\d\d)[-_.]?(0[1-9]|1[0-2])[-_.]?(0[1-9]|[12]\d|3[01])(?!\d)")
_TIME = re.compile(r"(?<!\d)([01]\d|2[0-3])[-_.:h]?([0-5]\d)[-_.:m]?([0-5]\d)(?!\d)")
# Prefixes that name a device, an app or the act of taking a screenshot.
_SOURCES = (
    (re.compile(r"^PXL_", re.I), "a Google Pixel camera name"),
    (re.compile(r"^(IMG|VID)[-_]\d{8}[-_]WA\d+", re.I), "a WhatsApp name"),
    (re.compile(r"^signal-\d{4}", re.I), "a Signal name"),
    (re.compile(r"^Snapchat-", re.I), "a Snapchat name"),
    (
        re.compile(r"^(Screenshot|Screen Shot|Bildschirmfoto|Capture d.écran|Schermafbeelding)", re.I),
        "a screenshot name",
    ),
    (re.compile(r"^Screenshot_\d{8}-\d{6}_(?P<app>.+)$", re.I), "the app on screen"),
    (re.compile(r"^(DSC[NF_]?|_DSC|DJI_|GOPR|GH\d{2}|MVIMG_|IMG_E?)\d", re.I), "a camera's file numbering"),
)


def revealing_parts(name: str) -> list[str]:
    """Why a file name gives something away: ['a date', 'a time', 'a screenshot name']."""
    stem = Path(name).stem
    reasons = []
    if _DATE.search(stem):
        reasons.append("a date")
        if _TIME.search(_DATE.sub("", stem)):
            reasons.append("a time")
    reasons.extend(words for pattern, words in _SOURCES if pattern.search(stem))
    return list(dict.fromkeys(reasons))


def neutral_name(parts: Iterable[Piece], suffix: str) -> str:
    """'image-<12 hex digits>.jpg', derived from the clean bytes: same content, same name."""
    import hashlib  # imported here: only --rename needs it

    from safeshare.binary import Span
    from safeshare.fileio import span_blocks

    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        for block in span_blocks(part) if isinstance(part, Span) else (part,):
            digest.update(block)
    return f"image-{digest.hexdigest()[:12]}{suffix.lower()}"


NAME_MAX = 255  # bytes, on every common file system


def fit_name(stem: str, suffix: str) -> str:
    """stem + suffix, the stem shortened (never cut inside a character) to fit NAME_MAX."""
    room = NAME_MAX - len(os.fsencode(suffix))
    while len(os.fsencode(stem)) > room:
        stem = stem[:-1]
    return stem + suffix


def output_name(source_name: str, new_extension: str | None) -> str:
    """The input's name, with the extension changed only when the format changed."""
    if new_extension is None:
        return source_name
    return fit_name(Path(source_name).stem, new_extension)


def numbered(path: Path, n: int) -> Path:
    """'IMG_1.jpg' -> 'IMG_1 (2).jpg' for the n-th file that wants the same name."""
    return path.with_name(fit_name(path.stem, f" ({n}){path.suffix}"))
