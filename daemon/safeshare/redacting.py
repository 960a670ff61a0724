"""Redaction (`[vision] redact`): the clean copy with what the user asked to hide filled in,
before anything is published. Imported only when redaction is on."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from safeshare.binary import in_memory
from safeshare.errors import VerificationError
from safeshare.findings import Findings
from safeshare.formats import Cleaned, CleanOptions, by_name

if TYPE_CHECKING:
    from safeshare.vision.report import Visible
    from safeshare.vision.step import VisionStep


def redacted(
    vision: VisionStep,
    source: Path,
    input_format: str,
    cleaned: Cleaned,
    options: CleanOptions,
) -> tuple[Cleaned, Visible, Visible | None]:
    """The clean copy with what the user asked to hide filled in solid (or as it was when
    nothing is to be hidden), what is still visible, and what was filled in. Fails closed:
    without an analysis nothing is published. It looks at and fills in the clean copy, not the
    input: what is published is what was looked at (a crop, a tone map or a frame choice made
    while cleaning is never undone by decoding the original again)."""
    published = bytearray(in_memory(cleaned.parts))
    visible = vision.analyze(published, source.name, thorough=True, findings=cleaned.findings)
    if visible is None:
        raise VerificationError("redaction was asked for, but what the picture shows could not be checked")
    hidden = vision.to_hide(visible)
    if not hidden:
        return cleaned, visible, None
    as_png = cleaned.format not in ("JPEG", "TIFF")
    out = vision.redact(published, hidden.boxes(), as_png, options.jpeg_quality)
    same = out.format == input_format or (out.format == "JPEG" and input_format in ("HEIF", "AVIF"))
    extension = cleaned.extension if same else by_name(out.format).canonical_suffix
    findings = Findings()
    findings.extend(cleaned.findings)
    findings.extend(out.findings)
    notes = [*cleaned.notes, hidden.filled_in(), *out.notes]
    redacted = Cleaned(
        [out.data], out.format, findings, 1, True, extension, out.size, out.mode, notes, frames=1
    )
    # Said as filled in, never as still visible.
    return redacted, visible.without(hidden), hidden
