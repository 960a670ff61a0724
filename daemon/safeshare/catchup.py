"""Bringing the ledger up to date with what is in the watched folders.

On the first start the pictures already there are recorded as a baseline (not cleaned);
a folder that appears, reappears or is polled is scanned, and every file not yet handled
(or changed since) is handed to the settle thread. A busy ledger only delays a folder: it
is remembered (`behind`) and tried again at the next housekeeping round. After the ledger
was replaced while running, the folders are baselined again (`rebaseline`), so nothing
already copied is copied twice.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from safeshare.disposition import Disposition
from safeshare.folders import Folder, Folders
from safeshare.ledger import Ledger, LedgerError
from safeshare.settle import Settler
from safeshare.watcher import files_in

log = logging.getLogger("safeshare.daemon")
MOVES_KEPT = 1000


class CatchUp:
    def __init__(self, settler: Settler, output: Path, first_start: str) -> None:
        self.settler = settler
        self.output = output
        self.first_start = first_start
        self.ledger: Ledger | None = None  # set once the daemon has opened it
        self.folders: Folders | None = None  # set once the folders exist (they call us back)
        self.behind: dict[Path, tuple[Folder, bool]] = {}  # folders whose catch-up waits
        self.rebaseline = threading.Event()  # the ledger was replaced while running
        self.baselined = 0  # pictures noted as already there, not cleaned (said at the first start)

    def at_start(self, folder: Folder) -> None:
        self.folder(folder, at_start=True)

    def later(self, folder: Folder) -> None:
        """A folder that (re)appears while running: whatever is in it arrived meanwhile."""
        self.folder(folder, at_start=False)

    def folder(self, folder: Folder, *, at_start: bool) -> None:
        """Baseline (first start) or scan `folder`; remembered for later if the ledger is busy."""
        assert self.ledger is not None
        try:
            recursive = folder.config.recursive
            first = at_start and not self.ledger.is_baselined(folder.path, recursive)
            if first and self.first_start == "baseline":
                # Watched before without its subfolders: its own files are caught up as
                # always, the pictures already in the subfolders are noted, not cleaned.
                shallow = recursive and self.ledger.is_baselined(folder.path)
                self.baseline(folder, below_only=shallow)
                if shallow:
                    self.scan(folder)
            else:
                self.scan(folder)
            self.ledger.mark_baselined(folder.path)
            if recursive:
                self.ledger.mark_baselined(folder.path, recursive=True)
            self.behind.pop(folder.path, None)
        except LedgerError as exc:
            log.warning("%s waits: %s; it is looked at again shortly", folder.config.path, exc)
            before = self.behind.get(folder.path)
            self.behind[folder.path] = (folder, at_start or (before is not None and before[1]))

    def waiting(self, folders: list[Folder]) -> None:
        """Housekeeping: the folders still behind, and a baseline after a replaced ledger."""
        for folder, at_start in list(self.behind.values()):
            self.folder(folder, at_start=at_start)
        if self.rebaseline.is_set():
            self.rebaseline.clear()
            for folder in folders:
                if folder.active:
                    self.baseline(folder)

    def baseline(self, folder: Folder, below_only: bool = False) -> None:
        """First start: existing pictures are recorded, not mass-processed (`below_only`:
        only those in its subfolders that were not watched on their own before, such as the
        old default ~/Pictures/Screenshots)."""
        assert self.ledger is not None
        count = 0
        watched_before: dict[Path, bool] = {folder.path: True}
        for entry in files_in(folder.path, folder.config.recursive, self.output):
            parent = Path(entry.path).parent
            if below_only and parent not in watched_before:
                watched_before[parent] = self.ledger.is_baselined(parent)  # watched on its own
            if below_only and watched_before[parent]:
                continue  # caught up by the scan that follows, as before
            st = entry.stat(follow_symlinks=False)
            self.ledger.record(
                Path(entry.path),
                Disposition.BASELINE,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                history=False,
            )
            count += 1
        self.baselined += count
        log.info("first start: %d existing file(s) in %s recorded, not cleaned", count, folder.config.path)

    def scan(self, folder: Folder) -> None:
        """Catch up: every file not yet in the ledger (or changed since) is looked at."""
        assert self.ledger is not None
        for entry in files_in(folder.path, folder.config.recursive, self.output):
            st = entry.stat(follow_symlinks=False)
            if not self.ledger.is_done(Path(entry.path), st.st_size, st.st_mtime_ns):
                self.settler.touch(Path(entry.path))

    def new_folder(self, path: Path) -> None:
        """A folder created or moved into a recursive watch: its files may have no events."""
        folder = self.folders.owner(path / "x") if self.folders is not None else None
        if folder is not None and folder.config.recursive:
            for entry in files_in(path, True, self.output):
                self.settler.touch(Path(entry.path))


class Moves:
    """Renames seen in the watched folders (a photo, an album folder), so that a file already
    handled where it was is not handled again where it lands (`FileHandler` carries its
    ledger row over). At most MOVES_KEPT are remembered, the newest."""

    def __init__(self) -> None:
        self._moves: dict[Path, Path] = {}  # where it landed -> where it was
        self._lock = threading.Lock()

    def note(self, source: Path, target: Path) -> None:
        with self._lock:
            self._moves.pop(target, None)
            self._moves[target] = source
            while len(self._moves) > MOVES_KEPT:
                del self._moves[next(iter(self._moves))]

    def origin(self, path: Path) -> Path | None:
        """Where `path` was before it (or a folder above it) was renamed, if it was."""
        with self._lock:
            for where in (path, *path.parents):
                source = self._moves.get(where)
                if source is not None:
                    return source / path.relative_to(where)
        return None
