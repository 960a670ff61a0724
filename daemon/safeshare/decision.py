"""The one place that decides what happens to a file after an attempt (`decide`), and the
words and results that go with a decision. The handler acts on what is decided here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from safeshare.disposition import Disposition
from safeshare.errors import (
    EmptyFile,
    InputError,
    NotAnImage,
    OutputError,
    OutsideWatchedFolder,
    Truncated,
    UnsupportedFormat,
    Vanished,
)
from safeshare.formats import looks_like_image_name
from safeshare.ledger import Record
from safeshare.pipeline import Prepared, Result, Status

log = logging.getLogger("safeshare.handling")
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # for files that look unfinished (empty, truncated)


@dataclass
class Attempt:
    """One look at a file: its identity when it was looked at, and what it came to."""

    path: Path
    size: int
    mtime_ns: int
    result: Result
    seen: Record | None = None  # a ledger row with the same content and settings
    tries: int = 0  # earlier attempts that found it unfinished
    sha256: str | None = None


def decide(attempt: Attempt) -> Disposition:
    """The one place that decides what happens to a file after an attempt."""
    result, seen = attempt.result, attempt.seen
    if seen is not None:
        return Disposition.REFUSED if seen.outcome is Disposition.REFUSED else Disposition.DUPLICATE
    if result.ok:
        return Disposition.PUBLISHED
    problem = result.problem or Exception
    if issubclass(problem, Vanished):
        return Disposition.SKIPPED
    if issubclass(problem, Truncated | EmptyFile):
        return Disposition.RETRY_INPUT if attempt.tries < len(RETRY_DELAYS) else Disposition.REFUSED
    if issubclass(problem, NotAnImage | UnsupportedFormat) and not looks_like_image_name(result.source.name):
        return Disposition.SKIPPED  # videos, documents and the like land in picture folders too
    if issubclass(problem, OutputError):
        return Disposition.RETRY_OUTPUT
    if issubclass(problem, OutsideWatchedFolder):
        return Disposition.FAILED  # said, and tried again on the next event or start: not final
    if issubclass(problem, InputError):
        return Disposition.REFUSED
    return Disposition.FAILED


def logged(disposition: Disposition, attempt: Attempt) -> None:
    name, reason = attempt.path.name, attempt.result.reason
    if disposition is Disposition.SKIPPED:
        log.info("skipped %s: %s", name, reason)
    elif disposition is Disposition.DUPLICATE:
        log.info(
            "%s: same content as %s, not cleaned again", name, attempt.seen.path.name if attempt.seen else ""
        )
    elif disposition is not Disposition.PUBLISHED:
        log.warning("%s %s: %s", disposition.value, name, reason)


def repeated(path: Path, prepared: Prepared | Result, seen: Record) -> Result:
    """The result for a file whose content was handled before under the same settings."""
    if seen.outcome is Disposition.REFUSED:
        return Result(path, Status.REFUSED, reason=seen.reason, problem=InputError, sha256=seen.sha256)
    result = prepared.result(seen.output) if isinstance(prepared, Prepared) else Result(path, Status.CLEANED)
    result.output = result.already = seen.output
    return result
