"""The watched folders: which exist, which moved or vanished, and listing their files.

A watched folder may be missing at start, deleted while running, or deleted and
recreated (a new inode): each case is noticed by a cheap periodic stat and the folder is
(re)scheduled with the observer, then scanned so that nothing created meanwhile is missed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from watchdog.observers.api import BaseObserver, ObservedWatch

from safeshare.config import WatchConfig
from safeshare.watcher import EVENT_TYPES, is_candidate_name

log = logging.getLogger(__name__)


@dataclass
class Folder:
    config: WatchConfig
    path: Path  # absolute, with symlinks resolved when it was last seen
    handle: ObservedWatch | None = None
    identity: tuple[int, int] | None = None  # (st_dev, st_ino) when scheduled
    state: str = "missing"

    def describe(self) -> dict[str, object]:
        return {
            "path": str(self.config.path),
            "state": self.state,
            "recursive": self.config.recursive,
            "label": self.config.label,
        }

    def holds(self, path: Path) -> bool:
        """True when `path` is a file this folder watches (directly, or below if recursive)."""
        if self.config.recursive:
            return path.is_relative_to(self.path) and path != self.path
        return path.parent == self.path


class Folders:
    """Keeps the observer's schedule in step with the folders that exist right now."""

    def __init__(self, configs: tuple[WatchConfig, ...], observer: BaseObserver, handler: object) -> None:
        self.folders = [Folder(c, c.path.absolute()) for c in configs]
        self.observer = observer
        self.handler = handler
        for folder in self.folders:
            if _identity(folder.config.path) is None:
                log.info(
                    "%s does not exist yet; it will be watched as soon as it appears", folder.config.path
                )

    def check(self, appeared: Callable[[Folder], None]) -> bool:
        """Re-stat every folder; (re)schedule the ones that appeared. True if anything changed."""
        changed = False
        for folder in self.folders:
            identity = _identity(folder.config.path)
            if identity == folder.identity and folder.handle is not None:
                continue
            if folder.handle is not None:
                self._unschedule(folder)
                changed = True
                log.warning(
                    "watched folder %s is gone; it will be watched again when it reappears",
                    folder.config.path,
                )
            if identity is not None and self._schedule(folder, identity):
                changed = True
                appeared(folder)
        return changed

    def _schedule(self, folder: Folder, identity: tuple[int, int]) -> bool:
        folder.path = Path(os.path.realpath(folder.config.path))
        try:
            folder.handle = self.observer.schedule(
                self.handler,  # type: ignore[arg-type]
                str(folder.path),
                recursive=folder.config.recursive,
                event_filter=EVENT_TYPES,
            )
        except OSError as exc:
            log.warning("cannot watch %s: %s", folder.config.path, exc.strerror or exc)
            return False
        folder.identity, folder.state = identity, "watching"
        log.info(
            "watching %s%s", folder.config.path, " (and its subfolders)" if folder.config.recursive else ""
        )
        return True

    def _unschedule(self, folder: Folder) -> None:
        assert folder.handle is not None
        with contextlib.suppress(KeyError, OSError):  # its emitter may have stopped already
            self.observer.unschedule(folder.handle)
        folder.handle, folder.identity, folder.state = None, None, "missing"

    def owner(self, path: Path) -> Folder | None:
        """The most specific watched folder that holds `path`."""
        holders = [f for f in self.folders if f.handle is not None and f.holds(path)]
        return max(holders, key=lambda f: len(f.path.parts), default=None)


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def files_in(root: Path, recursive: bool, excluded: Path) -> Iterator[os.DirEntry[str]]:
    """Regular files with candidate names; hidden folders and the output folder skipped."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if entry.is_dir(follow_symlinks=False):
                if recursive and not Path(entry.path).is_relative_to(excluded):
                    stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False) and is_candidate_name(entry.name):
                yield entry
