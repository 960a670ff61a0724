"""Holding files until they are complete, and files that must be tried again later.

A file is handed on when it is complete: at once after close-after-write or a rename into
place, otherwise once its size and mtime have held still for the settle period and no
process holds it open for writing (a download that allocated the whole file first). A retry
(`retry`) is handed on when it falls due, without a stability check: the handler decided
it. Nothing here polls: the settle thread sleeps until the next due file, or indefinitely
when there is none. Time comes from an injected clock, so tests drive it exactly.
"""

from __future__ import annotations

import heapq
import os
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Clock = Callable[[], float]


@dataclass
class Pending:
    path: Path
    due: float
    complete: bool = False
    last: tuple[int, int] | None = None  # (size, mtime_ns) at the previous look
    retried: bool = False  # due again by the handler's decision (it looked unfinished)


class Settler:
    """Holds files until they are complete, then calls `ready(path)` (from the thread that
    runs `run`, or from the caller of `step` in tests)."""

    def __init__(
        self,
        settle_seconds: float,
        ready: Callable[[Path], None],
        clock: Clock = time.monotonic,
        being_written: Callable[[Path], bool] = lambda path: False,
    ) -> None:
        self.settle = settle_seconds
        self.ready = ready
        self.clock = clock
        self.being_written = being_written  # a writer still holds it open (openfiles.py)
        self._pending: dict[Path, Pending] = {}
        self._heap: list[tuple[float, int, Path]] = []
        self._counter = 0
        self._cond = threading.Condition()
        self._stopped = False

    def touch(self, path: Path, complete: bool = False) -> None:
        """A change to `path`: complete files are looked at now, others after the settle period."""
        with self._cond:
            entry = self._entry(path)
            entry.complete = complete  # the latest event decides: a new write reopens the file
            entry.retried = False
            if not complete:
                entry.last = None  # it changed: stability must be seen again
            self._schedule(entry, 0.0 if complete else self.settle)

    def retry(self, path: Path, delay: float) -> None:
        """Hand `path` on again in `delay` seconds (the handler's decision: no stability check)."""
        with self._cond:
            entry = self._entry(path)
            entry.complete = entry.retried = True
            self._schedule(entry, delay)

    def forget(self, path: Path) -> None:
        with self._cond:
            self._pending.pop(path, None)

    def pending_count(self, due_within: float | None = None) -> int:
        """Files held; with `due_within`, only those due to be looked at within that many seconds."""
        with self._cond:
            if due_within is None:
                return len(self._pending)
            horizon = self.clock() + due_within
            return sum(1 for entry in self._pending.values() if entry.due <= horizon)

    def next_due(self) -> float | None:
        """When the next held file falls due (clock time), None when nothing is held."""
        with self._cond:
            self._drop_stale()
            return self._heap[0][0] if self._heap else None

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def run(self) -> None:
        """The settle thread: sleeps until the next due file (or a change), looks, repeats."""
        while True:
            with self._cond:
                while not self._stopped:
                    self._drop_stale()
                    now = self.clock()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    self._cond.wait(None if not self._heap else self._heap[0][0] - now)
                if self._stopped:
                    return
            self.step()

    def step(self) -> int:
        """Look at every file due now; returns how many were handed on."""
        with self._cond:
            now = self.clock()
            due: list[Pending] = []
            while self._heap and self._heap[0][0] <= now:
                _, _, path = heapq.heappop(self._heap)
                entry = self._pending.get(path)
                if entry is not None and entry.due <= now and entry not in due:
                    due.append(entry)
        return sum(self._look(entry) for entry in due)

    def _entry(self, path: Path) -> Pending:
        entry = self._pending.get(path)
        if entry is None:
            entry = self._pending[path] = Pending(path, self.clock())
        return entry

    def _schedule(self, entry: Pending, delay: float) -> None:
        entry.due = self.clock() + delay
        self._counter += 1
        heapq.heappush(self._heap, (entry.due, self._counter, entry.path))
        self._cond.notify()

    def _drop_stale(self) -> None:
        while self._heap:
            entry = self._pending.get(self._heap[0][2])
            if entry is not None and entry.due == self._heap[0][0]:
                return
            heapq.heappop(self._heap)

    def _look(self, entry: Pending) -> bool:
        """Stat the file: hand it on if complete or unchanged since last look, else wait again."""
        try:
            st = os.lstat(entry.path)
        except OSError:
            self.forget(entry.path)  # gone (moved away, deleted): nothing to do
            return False
        if not stat.S_ISREG(st.st_mode):
            self.forget(entry.path)  # symlinks, FIFOs, sockets, devices are never read
            return False
        snapshot = (st.st_size, st.st_mtime_ns)
        with self._cond:
            if self._pending.get(entry.path) is not entry:
                return False
            if not (entry.complete or entry.last == snapshot):
                entry.last = snapshot
                self._schedule(entry, self.settle)
                return False
        # Closed after writing: nobody is writing it. Otherwise (settled by holding still, or
        # looked at again after it seemed unfinished) a writer may still have it open.
        if (entry.retried or not entry.complete) and self.being_written(entry.path):
            with self._cond:  # held still, but its writer has not closed it: it may be filling in
                if self._pending.get(entry.path) is entry:
                    self._schedule(entry, self.settle)
            return False
        with self._cond:
            if self._pending.get(entry.path) is not entry:
                return False
            del self._pending[entry.path]
        self.ready(entry.path)
        return True
