"""One file, one way: prepare -> stage (write and verify) -> commit under a claimed name.

    prepared = pipeline.prepare(path, opener)   # read, detect, clean (and redact) in memory
    ready = prepared.stage(output, subfolder)   # temp file in the pinned output folder, verified
    name = <the caller claims a name>           # the daemon records its intent in the ledger
    result = ready.commit(name)                 # renamed into place: visible, whole

Each step returns the next one or a `Result` that says why it stopped; nothing escapes as an
exception and nothing partial is ever visible. Claiming is the caller's: `clean` keeps
names within one run and never replaces a file it did not write, the daemon owns names
through its ledger. Verification reads the staged file (the bytes that will be published,
mapped, with the input freed) before any name is claimed, so a copy that fails it never
touches the ledger or a name.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import isolation
from safeshare.disposition import Disposition
from safeshare.errors import InputError, SafeshareError, UnsupportedFormat
from safeshare.fileio import Opener, Source, open_path, read_input
from safeshare.findings import Findings
from safeshare.formats import HEAD_SIZE, Cleaned, CleanOptions, by_name, detect, streamed_loader
from safeshare.fsleaks import name_findings, xattr_findings
from safeshare.naming import neutral_name, output_name, revealing_parts
from safeshare.outdir import OutputFolder
from safeshare.pillow_reading import PillowView
from safeshare.staged import Staged
from safeshare.verify import pillow_view, verify_output

if TYPE_CHECKING:
    from safeshare.vision.report import Visible
    from safeshare.vision.step import VisionStep

log = logging.getLogger(__name__)


class Status(Enum):
    CLEANED = "cleaned"
    REFUSED = "refused"  # the input cannot be cleaned (not an image, corrupt, too large)
    FAILED = "failed"  # the output could not be written or did not verify


@dataclass(frozen=True)
class Settings:
    clean: CleanOptions = field(default_factory=CleanOptions)
    rename: bool = False
    max_file_bytes: int = 1 << 30
    # The decoder and vision workers may open the input by its path (`clean`, on paths the
    # user named). The daemon says no: they get the bytes it read beneath the watched folder.
    workers_read_path: bool = True
    # The daemon keys copies by content (its ledger); `clean` needs no hash (nor hashlib).
    digest: bool = False
    # The daemon cleans one file at a time: the input is hashed while it is parsed and the
    # copy's fsync overlaps its verification (threads, a burst ~12% quicker). A batch's
    # worker processes already fill every core, and a thread each time only costs them.
    overlap: bool = False

    def key(self, redact: tuple[str, ...] = ()) -> str:
        """A short name for the choices that change a clean copy (the ledger keys copies by it)."""
        import hashlib

        # Limits count too: a file refused under one limit is tried again under another.
        limits = (
            self.clean.max_pixels,
            self.max_file_bytes,
            isolation.pool().timeout,
            isolation.pool().memory_mb,
        )
        text = repr((self.clean.convert_to, self.clean.jpeg_quality, self.rename, sorted(redact), limits))
        return hashlib.sha256(text.encode()).hexdigest()[:16]


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
    problem: type[SafeshareError] | None = None  # what stopped it (the daemon decides by it)
    visible: Visible | None = None  # what the picture shows (vision extra), when looked at
    sha256: str | None = None  # of the input bytes, once read
    already: Path | None = None  # the same copy was already published there (a duplicate)
    filled: Visible | None = None  # what redaction filled in (never said to be visible)
    updated: bool = False  # it replaced this file's own earlier copy (the file had changed)
    looking: bool = False  # the daemon is looking at what it shows: a second report follows
    disposition: Disposition | None = None  # what the daemon decided (None in `clean`)
    picture: bool = True  # a still picture (what it shows can be looked at); False: a video

    @property
    def ok(self) -> bool:
        return self.status is Status.CLEANED


def _digest_of(digest: Callable[[], str] | None) -> str | None:
    """The input's digest for a file that stopped (a refusal is remembered by content)."""
    if digest is None:
        return None
    try:
        return digest()
    except Exception:  # noqa: BLE001 - without a digest the refusal is only not remembered
        return None


def stopped(source: Path, exc: BaseException, sha256: str | None = None) -> Result:
    """The Result for a file that stopped at `exc`: refused (its input) or failed (ours)."""
    if isinstance(exc, InputError):
        return Result(source, Status.REFUSED, reason=str(exc), problem=type(exc), sha256=sha256)
    if isinstance(exc, SafeshareError):
        return Result(source, Status.FAILED, reason=str(exc), problem=type(exc), sha256=sha256)
    log.error("internal error while cleaning %s", source.name, exc_info=exc)
    reason = f"internal error ({type(exc).__name__})"
    return Result(source, Status.FAILED, reason=reason, problem=SafeshareError, sha256=sha256)


class Pipeline:
    def __init__(self, settings: Settings, vision: VisionStep | None = None) -> None:
        self.settings = settings
        self.vision = vision  # used here only to redact, which must happen before publishing

    @functools.cached_property
    def key(self) -> str:  # settings and vision config never change: worked out once
        redact = tuple(self.vision.config.redact) if self.vision is not None else ()
        return self.settings.key(redact)

    def prepare(self, source: Path, opener: Opener = open_path) -> Prepared | Result:
        """Read `source` (through `opener`), detect its format and clean it in memory."""
        digest: Callable[[], str] | None = None
        try:
            src = read_input(source, self.settings.max_file_bytes, opener, streamed_loader)
            if self.settings.digest:
                digest = src.sha256_later(background=self.settings.overlap)
            prepared = self._prepare(source, src, opener)
            prepared.sha256 = digest() if digest is not None else None
            return prepared
        except Exception as exc:  # noqa: BLE001 - one bad file never stops a batch or the daemon
            return stopped(source, exc, _digest_of(digest))

    def _prepare(self, source: Path, src: Source, opener: Opener) -> Prepared:
        fmt = detect(bytes(src.data[:HEAD_SIZE]))
        by_path = self.settings.workers_read_path and opener is open_path  # named by the user
        options = replace(
            self.settings.clean,
            path=source if by_path else None,
            source_fd=src.fd if src.fd >= 0 else None,
        )
        if self.vision is not None and self.vision.redacts and not fmt.picture:
            # Fail closed: what the user asked to hide could be in any frame.
            raise UnsupportedFormat(
                "not copied: redaction is on, and faces or text in a video cannot be hidden"
            )
        cleaned = fmt.clean(src.data, options)  # our own parser first: its reasons are clearer
        expected = None
        if fmt.lossless and fmt.reads_with_pillow(cleaned) and isinstance(src.data, bytearray):
            readable = str(source) if by_path else src.data  # a streamed file is never read so
            expected = pillow_view(readable, fmt.name, options.max_pixels)
        visible = filled = None
        if self.vision is not None and self.vision.redacts:
            from safeshare.redacting import redacted

            cleaned, visible, filled = redacted(self.vision, source, fmt.name, cleaned, options)
            expected = None if cleaned.reencoded else expected
        findings = Findings()
        findings.extend(cleaned.findings)
        xattr_findings(source, findings, follow_symlinks=opener is open_path)
        notes = list(cleaned.notes)
        if self.settings.rename:
            name_findings(source.name, findings)
            name = neutral_name(cleaned.parts, by_name(cleaned.format).canonical_suffix)
        else:
            name = output_name(source.name, cleaned.extension)
            reasons = revealing_parts(source.name)
            if reasons:
                notes.append(f"the name still shows {', '.join(reasons)} (--rename writes a neutral one)")
        return Prepared(
            source,
            src,
            None,  # the caller's digest, once it is there
            fmt.name,
            cleaned,
            expected,
            findings,
            notes,
            name,
            visible,
            options.max_pixels,
            filled,
            self.settings.overlap,
        )


@dataclass
class Prepared:
    """A file read and cleaned in memory; `stage` writes and verifies it."""

    source: Path
    src: Source
    sha256: str | None  # with Settings.digest (the daemon)
    format: str
    cleaned: Cleaned
    expected: PillowView | None
    findings: Findings
    notes: list[str]
    name: str  # the name it would like in the output folder
    visible: Visible | None
    max_pixels: int = 200_000_000
    filled: Visible | None = None
    overlap: bool = False  # Settings.overlap: its fsync runs while it is verified

    def stage(self, output: OutputFolder, subfolder: Path, mode: int | None = None) -> Ready | Result:
        """Write the clean copy as a temp file in `output`/`subfolder`, then verify it there.
        `mode`: the copy's permissions (default: the original's, without exec bits)."""
        staged: Staged | None = None
        # Its data may go to disk while it is verified, unless verifying needs the decoder (a
        # thread running then would make that process spawn its decoder, not fork it).
        meanwhile = self.overlap and by_name(self.cleaned.format).in_process
        meanwhile = meanwhile and not self.cleaned.reencoded
        try:
            chosen = self.src.mode if mode is None else mode
            staged = output.stage(subfolder, self.cleaned.parts, chosen, now=not meanwhile)
            self.src.check_unchanged()  # media data copied from the file: still the file we read
            self.cleaned.parts = []  # the views into the input go first, then the input itself
            self.src.release()
            fd = staged.reopen()
            try:
                verify_output(fd, self.cleaned, self.expected, self.max_pixels)
            finally:
                os.close(fd)
            staged.synced()
            return Ready(self, staged)
        except BaseException as exc:
            if staged is not None:
                staged.discard()  # also on Ctrl-C: no temp file is left behind
            if not isinstance(exc, Exception):
                raise
            return stopped(self.source, exc, self.sha256)

    def result(self, output: Path | None) -> Result:
        return Result(
            self.source,
            Status.CLEANED,
            output,
            self.format,
            self.cleaned.format,
            self.cleaned.reencoded,
            self.findings,
            notes=self.notes,
            visible=self.visible,
            sha256=self.sha256,
            filled=self.filled,
            picture=by_name(self.format).picture,
        )


@dataclass
class Ready:
    """A verified clean copy waiting for its name."""

    prepared: Prepared
    staged: Staged

    @property
    def folder(self) -> Path:
        return self.staged.folder

    def taken(self, name: str) -> bool:
        return self.staged.taken(name)

    def same_as(self, name: str) -> bool:
        return self.staged.same_as(name)

    def commit(
        self, name: str, *, replace: bool, owned_since: float | None = None, sync: bool = True
    ) -> Result | None:
        """Publish under `name`, claimed by the caller. `replace`: the caller owns a file of
        that name (its earlier copy). Otherwise an existing file is never touched: None says
        the name was taken meanwhile, and the caller claims another. `sync=False`: the
        caller fsyncs the folder itself (once for a batch)."""
        try:
            final = self.staged.commit(name, replace=replace, owned_since=owned_since, sync=sync)
        except Exception as exc:  # noqa: BLE001 - `stopped` logs what is not ours to expect
            return stopped(self.prepared.source, exc, self.prepared.sha256)
        if final is None:
            return None
        categories = ", ".join(self.prepared.findings.categories()) or "nothing found"
        log.info("cleaned %s (%s)", self.prepared.source.name, categories)
        return self.prepared.result(final)

    def discard(self) -> None:
        self.staged.discard()
