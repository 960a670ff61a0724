"""One root error for everything safeshare refuses or fails to do.

Every message is one line that a person can act on; callers prefix the file name.
`OSError` is converted at the boundary (reading inputs, writing outputs) so that the
rest of the code only ever sees these classes.
"""

from __future__ import annotations


class SafeshareError(Exception):
    """Root of all errors safeshare raises on purpose."""


class InputError(SafeshareError):
    """The input file cannot be cleaned; nothing is published for it."""


class NotAnImage(InputError):
    """The content is not an image at all (text, empty, random bytes)."""


class UnsupportedFormat(InputError):
    """A recognised file type that safeshare does not clean (BMP, JPEG XL, RAW...)."""


class CorruptImage(InputError):
    """Malformed image data."""


class Truncated(CorruptImage):
    """The data ends early: possibly a file still being written, so the daemon retries."""


class EmptyFile(NotAnImage):
    """Zero bytes: possibly created but not yet written, so the daemon retries."""


class Vanished(InputError):
    """The file disappeared before it could be read (moved away or deleted)."""


class TooLarge(InputError):
    """Over a configured size or pixel-count cap."""


class OutsideWatchedFolder(InputError):
    """The path leads out of the watched folder: a link, or a non-folder where a folder should be."""


class VerificationError(SafeshareError):
    """The cleaned output failed the independent re-read: it is not published."""


class OutputError(SafeshareError):
    """The clean copy cannot be written (disk full, read-only, would overwrite an input)."""


class OutsideOutputFolder(OutputError):
    """An output subfolder is a link (or not a folder): nothing is written through it."""


class ConfigError(SafeshareError):
    """Invalid configuration file: names the file, the key and what was expected."""


class VisionUnavailable(ConfigError):
    """Redaction is configured but the vision extra is not installed or does not load (or
    was turned off): nothing would be filled in, so nothing is cleaned."""


class LedgerError(SafeshareError):
    """The ledger cannot be read or written now (another process held it past the bounded
    wait, disk full, I/O error): nothing was recorded, so the caller tries the file later."""


def describe_os_error(exc: OSError) -> str:
    """A one-line reason for an OSError without the repeated file name."""
    reason = exc.strerror or exc.__class__.__name__
    return reason[0].lower() + reason[1:] if reason else "operating system error"
