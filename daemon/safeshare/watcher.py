"""Turning file-system events into "this file is complete, clean it now".

Events are keyed by the file's final path. A rename is judged by where it lands (a
browser's `photo.jpg.crdownload -> photo.jpg` must count, although a filter looking at
the source name would drop it). A file is handed on when it is complete: at once after
close-after-write or a rename into place, otherwise once its size and mtime have held
still for the settle period. Nothing here polls: the settle thread sleeps until the next
due file, or indefinitely when there is none.
"""

from __future__ import annotations

import heapq
import logging
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)

from safeshare.fileio import is_temp_name

log = logging.getLogger(__name__)

# Names that are not finished pictures: partial downloads, editor and office temp files.
TEMP_SUFFIXES = (
    ".crdownload",
    ".part",
    ".partial",
    ".download",
    ".opdownload",
    ".tmp",
    ".temp",
    ".swp",
    ".swx",
    ".kate-swp",
    ".!qb",
    "~",
)
EVENT_TYPES = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
]


def is_candidate_name(name: str) -> bool:
    """False for hidden files, temp and partial-download names, and our own temp files."""
    lowered = name.lower()
    return not (name.startswith((".", "~$")) or lowered.endswith(TEMP_SUFFIXES) or is_temp_name(name))


class EventFilter(FileSystemEventHandler):
    """watchdog handler: passes candidate files to `touch`, new folders to `new_folder`."""

    def __init__(
        self,
        touch: Callable[[Path, bool], None],
        forget: Callable[[Path], None],
        new_folder: Callable[[Path], None],
        excluded: Path,
    ) -> None:
        self.touch = touch
        self.forget = forget
        self.new_folder = new_folder
        self.excluded = excluded  # the output folder: never ours to clean

    def _wanted(self, path: Path) -> bool:
        return is_candidate_name(path.name) and not path.is_relative_to(self.excluded)

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        # Moves count where they land; "complete" when they land (renames are atomic).
        target = Path(os.fsdecode(event.dest_path if kind == "moved" else event.src_path))
        if event.is_directory:
            if kind in ("created", "moved") and not target.is_relative_to(self.excluded):
                self.new_folder(target)
            return
        if kind == "deleted":
            self.forget(target)
        elif kind == "moved":
            self.forget(Path(os.fsdecode(event.src_path)))
            if self._wanted(target):
                self.touch(target, True)
        elif kind in ("created", "modified", "closed") and self._wanted(target):
            self.touch(target, kind == "closed")


@dataclass
class Pending:
    path: Path
    due: float
    complete: bool = False
    last: tuple[int, int] | None = None  # (size, mtime_ns) at the previous look


class Settler:
    """Holds files until they are complete, then calls `ready(path)` (from its own thread)."""

    def __init__(self, settle_seconds: float, ready: Callable[[Path], None]) -> None:
        self.settle = settle_seconds
        self.ready = ready
        self._pending: dict[Path, Pending] = {}
        self._heap: list[tuple[float, int, Path]] = []
        self._counter = 0
        self._cond = threading.Condition()
        self._stopped = False

    def touch(self, path: Path, complete: bool = False, delay: float | None = None) -> None:
        """A change to `path`: complete files are looked at now, others after the settle period."""
        now = time.monotonic()
        with self._cond:
            entry = self._pending.get(path)
            if entry is None:
                entry = self._pending[path] = Pending(path, now)
            entry.complete = complete  # the latest event decides: a new write reopens the file
            if not complete:
                entry.last = None  # it changed: stability must be seen again
            due = now + (delay if delay is not None else (0.0 if entry.complete else self.settle))
            entry.due = due
            self._counter += 1
            heapq.heappush(self._heap, (due, self._counter, path))
            self._cond.notify()

    def forget(self, path: Path) -> None:
        with self._cond:
            self._pending.pop(path, None)

    def pending_count(self, due_within: float | None = None) -> int:
        """Files held; with `due_within`, only those due to be looked at within that many seconds."""
        with self._cond:
            if due_within is None:
                return len(self._pending)
            horizon = time.monotonic() + due_within
            return sum(1 for entry in self._pending.values() if entry.due <= horizon)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def run(self) -> None:
        while True:
            due_now = self._wait_for_due()
            if due_now is None:
                return
            for entry in due_now:
                self._look(entry)

    def _wait_for_due(self) -> list[Pending] | None:
        with self._cond:
            while not self._stopped:
                now = time.monotonic()
                while self._heap and self._stale(self._heap[0]):
                    heapq.heappop(self._heap)
                if self._heap and self._heap[0][0] <= now:
                    ready = []
                    while self._heap and self._heap[0][0] <= now:
                        _, _, path = heapq.heappop(self._heap)
                        entry = self._pending.get(path)
                        if entry is not None and entry.due <= now:
                            ready.append(entry)
                    if ready:
                        return ready
                    continue
                self._cond.wait(None if not self._heap else self._heap[0][0] - now)
            return None

    def _stale(self, item: tuple[float, int, Path]) -> bool:
        entry = self._pending.get(item[2])
        return entry is None or entry.due != item[0]

    def _look(self, entry: Pending) -> None:
        """Stat the file: hand it on if complete or unchanged since last look, else wait again."""
        try:
            st = os.lstat(entry.path)
        except OSError:
            self.forget(entry.path)  # gone (moved away, deleted): nothing to do
            return
        if not stat.S_ISREG(st.st_mode):
            self.forget(entry.path)  # symlinks, FIFOs, sockets, devices are never read
            return
        snapshot = (st.st_size, st.st_mtime_ns)
        with self._cond:
            if self._pending.get(entry.path) is not entry:
                return
            if entry.complete or entry.last == snapshot:
                del self._pending[entry.path]
                hand_on = True
            else:
                entry.last = snapshot
                entry.due = time.monotonic() + self.settle
                self._counter += 1
                heapq.heappush(self._heap, (entry.due, self._counter, entry.path))
                hand_on = False
        if hand_on:
            self.ready(entry.path)
