"""One file: read -> sniff -> clean -> verify -> publish. Used by `clean` and the daemon.

Every outcome is a `Result`; nothing escapes as an exception. A refused or failed file
leaves nothing in the output folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare.errors import (
    EmptyFile,
    InputError,
    NotAnImage,
    OutputError,
    SafeshareError,
    Truncated,
    UnsupportedFormat,
    Vanished,
    VerificationError,
)
from safeshare.fileio import Source, publish, read_input
from safeshare.findings import Findings
from safeshare.formats import HEAD_SIZE, Cleaned, CleanOptions, detect
from safeshare.fsleaks import name_findings, xattr_findings
from safeshare.naming import neutral_name, output_name, revealing_parts
from safeshare.verify import pillow_view, verify_output
from safeshare.vision.report import Visible

if TYPE_CHECKING:
    from safeshare.vision.step import VisionStep

log = logging.getLogger(__name__)
CANONICAL_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WebP": ".webp", "GIF": ".gif", "TIFF": ".tif"}


class Status(Enum):
    CLEANED = "cleaned"
    REFUSED = "refused"  # the input cannot be cleaned (not an image, corrupt, too large)
    FAILED = "failed"  # the output could not be written or did not verify


@dataclass(frozen=True)
class Settings:
    clean: CleanOptions = field(default_factory=CleanOptions)
    rename: bool = False
    max_file_bytes: int = 1 << 30


@dataclass
class Result:
    source: Path
    status: Status
    output: Path | None = None
    format: str = ""
    output_format: str = ""
    reencoded: bool = False
    findings: Findings = field(default_factory=Findings)
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    retryable: bool = False  # the input may still be being written (empty or truncated)
    vanished: bool = False  # the input disappeared before it could be read
    not_image: bool = False  # its content is no image we clean (text, video, BMP...)
    output_error: bool = False  # the output could not be written: worth trying again later
    visible: Visible | None = None  # what the picture shows (vision extra), when looked at

    @property
    def ok(self) -> bool:
        return self.status is Status.CLEANED


# Given the desired output path and the source, return the path to write (collisions).
Claim = Callable[[Path, Path], Path]


def keep_path(desired: Path, source: Path) -> Path:
    return desired


class Pipeline:
    def __init__(self, settings: Settings, vision: VisionStep | None = None) -> None:
        self.settings = settings
        self.vision = vision  # used here only to redact, which must happen before publishing

    def read(self, source: Path, follow_symlinks: bool = True) -> Source | Result:
        """The input's bytes, or the Result that says why it cannot be read."""
        try:
            return read_input(source, self.settings.max_file_bytes, follow_symlinks)
        except InputError as exc:
            return _refused(source, exc)

    def clean_file(
        self,
        source: Path,
        out_dir: Path,
        claim: Claim = keep_path,
        follow_symlinks: bool = True,
        root: Path | None = None,
    ) -> Result:
        src = self.read(source, follow_symlinks)
        if isinstance(src, Result):
            return src
        return self.clean_source(source, src, out_dir, claim, follow_symlinks, root)

    def clean_source(
        self,
        source: Path,
        src: Source,
        out_dir: Path,
        claim: Claim = keep_path,
        follow_symlinks: bool = True,
        root: Path | None = None,
    ) -> Result:
        """Clean `src` (the bytes of `source`) into `out_dir`, which lies inside `root` (the
        output folder; `out_dir` itself when not given)."""
        try:
            return self._clean(source, src, out_dir, claim, follow_symlinks, root or out_dir)
        except InputError as exc:
            return _refused(source, exc)
        except SafeshareError as exc:
            return Result(source, Status.FAILED, reason=str(exc), output_error=isinstance(exc, OutputError))
        except Exception as exc:  # one bad file must never stop a batch or the daemon
            log.exception("internal error while cleaning %s", source.name)
            return Result(source, Status.FAILED, reason=f"internal error ({type(exc).__name__})")

    def _clean(
        self, source: Path, src: Source, out_dir: Path, claim: Claim, follow_symlinks: bool, root: Path
    ) -> Result:
        options = self.settings.clean
        fmt = detect(bytes(src.data[:HEAD_SIZE]))
        options = replace(options, path=source)  # so that the decoder worker can read it itself
        cleaned = fmt.clean(src.data, options)  # our own parser first: its reasons are clearer
        expected = pillow_view(str(source), fmt.name, options.max_pixels) if fmt.lossless else None
        visible = None
        if self.vision is not None and self.vision.redacts:
            cleaned, visible = _redacted(self.vision, source, fmt.name, cleaned, options)
            expected = None if cleaned.reencoded else expected
        findings = Findings()
        findings.extend(cleaned.findings)
        xattr_findings(source, findings, follow_symlinks)
        notes = list(cleaned.notes)
        if self.settings.rename:
            name_findings(source.name, findings)
            suffix = CANONICAL_SUFFIX.get(cleaned.format, source.suffix)
            name = neutral_name(cleaned.parts, suffix)
        else:
            name = output_name(source.name, cleaned.extension)
            reasons = revealing_parts(source.name)
            if reasons:
                notes.append(f"the name still shows {', '.join(reasons)} (--rename writes a neutral one)")
        final = claim(out_dir / name, source)
        _refuse_overwriting(source, final)

        def check(temp: Path) -> None:
            verify_output(temp, cleaned, expected, options.max_pixels)

        def written() -> None:
            cleaned.parts.clear()  # the views into the input go first, then the input itself
            src.release()

        publish(cleaned.parts, final, src.mode, check, root, written)
        log.info("cleaned %s (%s)", source.name, ", ".join(findings.categories()) or "nothing found")
        return Result(
            source,
            Status.CLEANED,
            final,
            fmt.name,
            cleaned.format,
            cleaned.reencoded,
            findings,
            notes=notes,
            visible=visible,
        )


def _redacted(
    vision: VisionStep, source: Path, input_format: str, cleaned: Cleaned, options: CleanOptions
) -> tuple[Cleaned, Visible]:
    """The clean copy with what the user asked to hide filled in solid, or as it was when
    nothing is to be hidden. Fails closed: without an analysis nothing is published."""
    visible = vision.analyze(source)
    if visible is None:
        raise VerificationError("redaction was asked for, but what the picture shows could not be checked")
    boxes = vision.boxes_to_hide(visible)
    if not boxes:
        return cleaned, visible
    as_png = cleaned.format not in ("JPEG", "TIFF")
    out = vision.redact(source, boxes, as_png, options.jpeg_quality)
    same = out.format == input_format or (out.format == "JPEG" and input_format in ("HEIF", "AVIF"))
    extension = cleaned.extension if same else CANONICAL_SUFFIX[out.format]
    findings = Findings()
    findings.extend(cleaned.findings)
    findings.extend(out.findings)
    notes = [
        *cleaned.notes,
        f"redacted: {len(boxes)} area{'s' if len(boxes) > 1 else ''} filled in, re-encoded",
        *out.notes,
    ]
    redacted = Cleaned(
        [out.data], out.format, findings, 1, True, extension, out.size, out.mode, notes, frames=1
    )
    return redacted, visible


def _refused(source: Path, exc: InputError) -> Result:
    retry = isinstance(exc, Truncated | EmptyFile)
    other = isinstance(exc, NotAnImage | UnsupportedFormat) and not retry
    vanished = isinstance(exc, Vanished)
    return Result(
        source, Status.REFUSED, reason=str(exc), retryable=retry, vanished=vanished, not_image=other
    )


def _refuse_overwriting(source: Path, final: Path) -> None:
    try:
        same = final.exists() and final.samefile(source)
    except OSError:
        same = False
    if same or final.absolute() == source.absolute():
        raise OutputError("the clean copy would overwrite the original; choose another output folder")
