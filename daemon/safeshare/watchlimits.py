"""Watches the OS refuses: an observer that reports them instead of dropping them.

watchdog's inotify observer (7.x) raises a refused watch on a watched folder itself from
`schedule` (or from `start` when scheduled before it), but when it adds the watches for
the subfolders of a recursive tree (at schedule time; in its inotify thread for subfolders
made later; when it rebuilds them after a queue overflow) it swallows the OSError, and
those subfolders are silently not watched (7.1+ raises the ones met at schedule time from
`schedule`, as if the folder itself were refused). `make_observer` returns an inotify observer
whose inotify instance records every refusal that is a limit (ENOSPC: the kernel's
fs.inotify.max_user_watches; EMFILE) before watchdog drops it; `refusals` hands them over
(to `folders.Folders.check`). If inotify itself cannot start for a limit, the observer
refuses every watch, so each folder is polled. Elsewhere (macOS, Windows, a watchdog
without this structure) it is watchdog's own observer: only `schedule`'s refusals are seen.
"""

from __future__ import annotations

import errno
import logging
import os
import queue
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, EventEmitter, ObservedWatch
from watchdog.utils import UnsupportedLibcError

log = logging.getLogger(__name__)

LIMIT_ERRNOS = frozenset({errno.ENOSPC, errno.EMFILE})
Refusal = tuple[Path, Path, int]  # (the watched folder, the folder refused, errno)
Refusals = queue.SimpleQueue[Refusal]
_QUEUE = "safeshare_refusals"  # the attribute of a reporting observer that holds them

_reporting: Callable[[float], BaseObserver] | None = None
try:
    from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
    from watchdog.observers.inotify_c import CallbackId, InotifyFD, Mask, WatchCallback, WatchDescriptor
except (ImportError, UnsupportedLibcError):  # not Linux
    pass
else:

    class _ReportingInotifyFD(InotifyFD):
        def __init__(self, refused: Refusals) -> None:
            super().__init__()
            self.refused = refused

        def add_callback(
            self, path: bytes, mask: Mask, callback: WatchCallback, id_: CallbackId
        ) -> WatchDescriptor:
            try:
                return super().add_callback(path, mask, callback, id_)
            except OSError as exc:
                if exc.errno in LIMIT_ERRNOS:
                    root = getattr(callback, "path", path)  # the watch group's watched folder
                    self.refused.put((Path(os.fsdecode(root)), Path(os.fsdecode(path)), exc.errno))
                raise

    class _ReportingInotifyObserver(InotifyObserver):
        def __init__(self, timeout: float) -> None:
            # InotifyObserver.__init__ with a reporting inotify instance in place of its own.
            refused: Refusals = queue.SimpleQueue()
            self._inotify_fd = _ReportingInotifyFD(refused)
            self._inotify_fd.start()
            BaseObserver.__init__(self, InotifyEmitter, timeout=timeout, inotify_fd=self._inotify_fd)
            setattr(self, _QUEUE, refused)

    _reporting = _ReportingInotifyObserver


class _RefusingObserver(BaseObserver):
    """No live watching at all (inotify could not start): every `schedule` is refused."""

    def __init__(self, error: OSError, timeout: float) -> None:
        super().__init__(EventEmitter, timeout=timeout)
        self.error = error

    def schedule(
        self,
        event_handler: FileSystemEventHandler,
        path: str | Path,
        *,
        recursive: bool = False,
        event_filter: list[type[FileSystemEvent]] | None = None,
        follow_symlink: bool = False,
    ) -> ObservedWatch:
        raise OSError(self.error.errno, self.error.strerror)


def make_observer(timeout: float = 5.0) -> BaseObserver:
    """The observer for the daemon: one that reports refused watches where it can."""
    try:
        return _reporting(timeout) if _reporting is not None else Observer(timeout=timeout)
    except OSError as exc:
        if exc.errno not in LIMIT_ERRNOS:
            raise
        log.warning("cannot watch any folder live: %s", exc.strerror or exc)
        return _RefusingObserver(exc, timeout)


def refusals(observer: BaseObserver) -> list[Refusal]:
    """The limit refusals `observer` saw since the last call (none for other observers)."""
    refused = getattr(observer, _QUEUE, None)
    out: list[Refusal] = []
    while isinstance(refused, queue.SimpleQueue):
        try:
            out.append(refused.get_nowait())
        except queue.Empty:
            break
    return out
