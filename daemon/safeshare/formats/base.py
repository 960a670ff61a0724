"""The one interface every image format implements (modelled on mat2's parser classes).

A format module parses the input into the parts an image needs and everything else. The
everything-else becomes `Findings` (what `inspect` shows and notifications summarize);
the needed parts, rebuilt, become the output. `inspect` on a cleaned output must find
nothing: the verifier relies on exactly that.
"""

from __future__ import annotations

import mmap
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from safeshare.binary import Buffer, Piece
from safeshare.findings import Findings
from safeshare.pillow_reading import Source, full_decode


@dataclass(frozen=True)
class CleanOptions:
    """Choices that change what is written (from the config file and the command line)."""

    convert_to: str = "jpeg"  # re-encoded formats (HEIC/HEIF/AVIF): "jpeg" or "png"
    jpeg_quality: int = 95
    max_pixels: int = 200_000_000
    path: Path | None = None  # the file being cleaned: the decoder worker reads it itself
    source_fd: int | None = None  # a streamed file, open: its media data is copied from it


@dataclass
class Inspection:
    """What a file carries (`findings`) and the orientation a viewer would apply to it."""

    findings: Findings = field(default_factory=Findings)
    orientation: int = 1
    notes: list[str] = field(default_factory=list)


@dataclass
class Cleaned:
    """A clean output, as parts to be written in order, and what was removed to get it."""

    parts: Sequence[Piece]  # pieces of a streamed input (binary.Span) only for videos
    format: str
    findings: Findings
    orientation: int = 1
    reencoded: bool = False
    extension: str | None = None  # set when the output format differs from the input's
    size: tuple[int, int] | None = None  # expected pixel size, known for re-encoded outputs
    mode: str | None = None
    notes: list[str] = field(default_factory=list)
    frames: int | None = None  # frames/pages kept, when it can differ from the input's
    # For formats Pillow cannot read: what the output must hold, worked out from the input
    # by `clean` (e.g. a digest of the kept media data), which `reread` checks.
    reference: bytes | None = None


ORIENTATION = 0x0112


class ImageFormat(ABC):
    """One format family. Instances are stateless; one is shared by all files."""

    # Its extensions and magic are in its line of the registry (formats/__init__.py), so that
    # telling a file's format imports no format module; `name` is there too, and agrees.
    name: ClassVar[str]
    canonical_suffix: ClassVar[str]  # the extension a renamed (neutral) copy gets
    lossless: ClassVar[bool] = True
    # A still picture the vision step can look at (faces, text, codes); videos are not.
    picture: ClassVar[bool] = True
    # Read by `load` (only what the cleaner needs, however large the file) instead of whole.
    streamed: ClassVar[bool] = False
    # How the verifier reads an output of this format with Pillow: the format name Pillow
    # reports, whether its headers are read here (pure Python) or in the decoder worker
    # (C decoders), the `info` keys that describe pixels, colour, timing or resolution,
    # and the EXIF tags that may remain (the one Orientation tag we write).
    pillow_name: ClassVar[str]  # "" when Pillow cannot read the format: `reread` replaces it
    in_process: ClassVar[bool] = False
    allowed_info: ClassVar[frozenset[str]] = frozenset()
    exif_allowed: ClassVar[frozenset[int]] = frozenset({ORIENTATION})

    @abstractmethod
    def inspect(self, data: Buffer) -> Inspection:
        """Everything in `data` outside the format's allowlist, classified."""

    @abstractmethod
    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        """Rebuild `data` from its allowed parts; raises an InputError if it cannot."""

    def load(self, fd: int, size: int) -> mmap.mmap:
        """For a streamed format: a map of `size` bytes holding what `inspect` and `clean`
        read of the open file `fd` (unread pages are zeros and take no memory)."""
        raise NotImplementedError(f"{self.name} is read whole")

    def reads_with_pillow(self, cleaned: Cleaned) -> bool:
        """Whether the verifier reads this output with Pillow (`pillow_name`); when not,
        `reread` is its second reading. TIFF decides per file."""
        return bool(self.pillow_name)

    def reread(self, output: Buffer, cleaned: Cleaned) -> str | None:
        """The second, independent reading of an output, for formats Pillow cannot read
        (`pillow_name` ""): code apart from `clean` that reads `output` on its own and
        checks it against `cleaned` (its `reference`). The problem found, or None."""
        raise NotImplementedError(f"{self.name}: no second reading of its outputs")


def source_of(data: Buffer, options: CleanOptions) -> Source:
    """What the decoder worker should read: the file's path when known, else its bytes."""
    return str(options.path) if options.path is not None else bytes(data)


def require_full_decode(data: Buffer, options: CleanOptions, reason: str) -> None:
    """Decode every pixel (in the decoder worker); Truncated(reason) if that fails."""
    from safeshare import isolation

    isolation.pool().call(full_decode, source_of(data, options), reason, options.max_pixels)
