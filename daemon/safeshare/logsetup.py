"""Logging for the daemon: stderr and a rotating file in the platform's log folder.

Log lines name files and the categories removed, never the removed values. Names are still
private: the log folder is 0700 and every log file 0600, whatever the umask.
"""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path

from safeshare.paths import private_dir, private_open, tighten

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class OneLine(logging.Filter):
    """File names may hold newlines, control characters or bytes that are not UTF-8: they are
    escaped, so that one event is one line and nobody can forge a log line with a name."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.isprintable():
            record.msg = "".join(
                c if c.isprintable() else c.encode("unicode_escape").decode() for c in message
            )
            record.args = ()
        return True


LOG_NAME = "safeshare.log"
BACKUPS = 3


def _private_rotating(path: Path) -> logging.Handler:
    """A rotating log whose files, the one started after each rotation too, are 0600."""
    from logging.handlers import RotatingFileHandler  # only the daemon writes a log file

    class PrivateRotatingFileHandler(RotatingFileHandler):
        def _open(self) -> io.TextIOWrapper:
            fd = private_open(Path(self.baseFilename), os.O_WRONLY | os.O_CREAT | os.O_APPEND)
            return open(fd, "a", encoding=self.encoding, errors=self.errors)  # noqa: PTH123 (a descriptor)

    return PrivateRotatingFileHandler(path, maxBytes=1 << 20, backupCount=BACKUPS, encoding="utf-8")


def configure(log_dir: Path | None, verbose: bool = False) -> Path | None:
    """Handlers on the root logger; returns the log file path (None if it cannot be written)."""
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("PIL").setLevel(logging.DEBUG if verbose else logging.CRITICAL)  # results say it
    for handler in list(root.handlers):
        root.removeHandler(handler)
    stream = logging.StreamHandler()
    stream.setFormatter(logging.Formatter(FORMAT))
    stream.addFilter(OneLine())
    root.addHandler(stream)
    if log_dir is None:
        return None
    path = log_dir / LOG_NAME
    try:
        private_dir(log_dir)
        for n in range(1, BACKUPS + 1):
            tighten(path.with_name(f"{LOG_NAME}.{n}"))  # written by an older safeshare
        rotating = _private_rotating(path)
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s: %s", path, exc.strerror)
        return None
    rotating.setFormatter(logging.Formatter(FORMAT))
    rotating.addFilter(OneLine())
    root.addHandler(rotating)
    logging.getLogger("watchdog").setLevel(logging.WARNING)
    return path
