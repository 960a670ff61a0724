"""Logging for the daemon: stderr and a rotating file in the platform's log folder.

Log lines name files and the categories removed, never the removed values.
"""

from __future__ import annotations

import logging
from pathlib import Path

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
    from logging.handlers import RotatingFileHandler  # only the daemon writes a log file

    try:
        log_dir.mkdir(parents=True, exist_ok=True)
        rotating = RotatingFileHandler(path, maxBytes=1 << 20, backupCount=3, encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning("cannot write the log file %s: %s", path, exc.strerror)
        return None
    rotating.setFormatter(logging.Formatter(FORMAT))
    rotating.addFilter(OneLine())
    root.addHandler(rotating)
    logging.getLogger("watchdog").setLevel(logging.WARNING)
    return path
