"""The watched folders: which exist, vanished, moved or became links, which the OS cannot
watch live, and listing their files.

A watched folder may be missing at start, deleted while running, or deleted and
recreated (a new inode): each is noticed by a cheap periodic lstat and the folder is
(re)scheduled with the observer, then scanned so that nothing created meanwhile is missed.

Links (decided for a careful user). The folders *above* a watched folder are the user's
own setup and may be links (~/Pictures -> /data/pictures is common): they are resolved
when the folder is first seen, and that place is pinned (`safepath.PinnedDir`, an open fd).
The watched folder itself is never followed:
- a link where it should be (at start, or swapped in later) is state "symlink": not
  watched, said once through `notice`, watched again when a real folder takes its place;
- if the folders above it later lead elsewhere (one re-linked or swapped), it is state
  "moved": not followed there until safeshare restarts (then that is the user's setup);
- files are opened beneath `Folder.pinned` one name at a time, never through a link
  (`safepath.open_file_beneath`), so a swap that wins the race against this periodic
  check still reads nothing from the link's target.

Watch limits. When the OS refuses a watch (ENOSPC: fs.inotify.max_user_watches; EMFILE),
for the folder or a subfolder of a recursive one, the folder is state "polling": said
once, listed by `polled()` for the daemon to rescan every `poll_seconds`, tried live again
every LIVE_RETRY_SECONDS. `schedule` raises the folder's own refusal; refused subfolders,
which watchdog skips silently, come from `watchlimits.make_observer`'s observer.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from watchdog.observers.api import BaseObserver, ObservedWatch

from safeshare.config import WatchConfig
from safeshare.errors import OutsideWatchedFolder
from safeshare.safepath import PinnedDir
from safeshare.watcher import EVENT_TYPES, EventFilter
from safeshare.watcher import files_in as files_in  # the daemon's rescans list files from here
from safeshare.watchlimits import refusals

log = logging.getLogger(__name__)

POLL_SECONDS = 30.0  # how often the daemon rescans folders the OS cannot watch live
LIVE_RETRY_SECONDS = 300.0  # how often such a folder is tried live again (a limit may be raised)
LIMITS = {
    errno.ENOSPC: "the system's limit on watched folders is reached (fs.inotify.max_user_watches)",
    errno.EMFILE: "the system's limit on folder watchers or open files is reached "
    "(fs.inotify.max_user_instances, ulimit -n)",
}
SAID = {
    "symlink": "is a link to another place; safeshare does not follow it, so new pictures there are "
    "not cleaned",
    "moved": "now leads to another place (a folder above it was re-linked or replaced); safeshare "
    "does not follow it there, so new pictures there are not cleaned until safeshare is restarted",
}
NOTES = {
    "missing": "missing: watched as soon as it appears",
    "symlink": "a link to another place: not followed, not watched",
    "moved": "now leads to another place: not followed until safeshare restarts",
    "polling": "not watched live (a system limit is reached): found by frequent scans",
}


@dataclass(eq=False)
class Folder:
    config: WatchConfig
    path: Path  # where it is watched: the folders above it resolved when it was first seen
    anchor: Path | None = None  # those folders above it, pinned when it was first seen
    pinned: PinnedDir | None = None  # open while active: open files beneath it
    handle: ObservedWatch | None = None
    state: str = "missing"  # watching, polling, missing, symlink, moved
    told: str = ""  # the state the user was last told about: each is said once
    retry_at: float = 0.0  # when a polled folder is next tried live (time.monotonic)

    @property
    def active(self) -> bool:
        """Its files are cleaned: watched live, or polled."""
        return self.state in ("watching", "polling")

    @property
    def there(self) -> bool:
        """Its place still leads to the pinned folder."""
        return self.pinned is not None and self.pinned.still_there()

    def describe(self) -> dict[str, object]:
        return {
            "path": str(self.config.path),
            "state": self.state,
            "note": NOTES.get(self.state, ""),
            "recursive": self.config.recursive,
            "label": self.config.label,
        }

    def holds(self, path: Path) -> bool:
        """True when `path` is a file this folder watches (directly, or below if recursive)."""
        if self.config.recursive:
            return path.is_relative_to(self.path) and path != self.path
        return path.parent == self.path


class Folders:
    """Keeps the observer's schedule in step with the folders that are there right now."""

    def __init__(
        self,
        configs: tuple[WatchConfig, ...],
        observer: BaseObserver,
        handler: EventFilter,
        notice: Callable[[str], None] | None = None,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.folders = [Folder(c, c.path.absolute()) for c in configs]
        self.observer = observer
        self.handler = handler
        self.notice = notice or (lambda text: None)  # every notice is logged as well
        self.poll_seconds = poll_seconds
        self.refused = False  # a folder was found refused during the current `check`
        for folder in self.folders:
            if self._look(folder)[0] == "missing":
                log.info(
                    "%s does not exist yet; it will be watched as soon as it appears", folder.config.path
                )

    def check(self, appeared: Callable[[Folder], None]) -> bool:
        """Re-look at every folder; (re)schedule the ones that appeared (and call `appeared`
        for each, to scan it). True if any state changed."""
        changed, self.refused = False, False
        for folder in self.folders:
            kind, path = self._look(folder)
            if kind == "dir" and folder.active and path == folder.path and folder.there:
                if folder.state == "polling" and time.monotonic() >= folder.retry_at:
                    changed |= self._retry_live(folder, appeared)
                continue
            if folder.active:
                self._drop(folder)
                changed = True
                if kind in ("missing", "dir"):
                    log.warning(
                        "watched folder %s is gone; it will be watched again when it reappears",
                        folder.config.path,
                    )
            if kind == "dir":
                changed |= self._start(folder, path, appeared)
            elif kind != folder.state:
                self._enter(folder, kind)
                changed = True
        self._take_refusals()
        return self.refused or changed  # refusals taken while scheduling count too, any folder's

    def polled(self) -> list[Folder]:
        """Folders the OS cannot watch live: the daemon rescans each every `poll_seconds`."""
        return [f for f in self.folders if f.state == "polling"]

    def owner(self, path: Path) -> Folder | None:
        """The most specific active folder that holds `path`."""
        holders = [f for f in self.folders if f.active and f.holds(path)]
        return max(holders, key=lambda f: len(f.path.parts), default=None)

    # -- states ------------------------------------------------------------------------------
    def _look(self, folder: Folder) -> tuple[str, Path]:
        """What is at the folder's place now: dir, missing, symlink, or moved (above it)."""
        above = Path(os.path.realpath(folder.config.path.absolute().parent))
        path = above / folder.config.path.name
        if folder.anchor is not None and above != folder.anchor:
            return "moved", path
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return "missing", path
        return ("symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode) else "missing"), path

    def _start(self, folder: Folder, path: Path, appeared: Callable[[Folder], None]) -> bool:
        try:
            folder.pinned = PinnedDir.open(path)
        except OutsideWatchedFolder:  # swapped for a link since it was looked at
            self._enter(folder, "symlink")
            return True
        except OSError:
            return False  # gone again; looked at on the next check
        folder.path, folder.anchor = path, folder.anchor or path.parent
        if self._schedule(folder):
            appeared(folder)
            return True
        self._drop(folder)
        return False

    def _schedule(self, folder: Folder) -> bool:
        """Watch it live, or poll it when the OS refuses; False on any other failure."""
        try:
            folder.handle = self.observer.schedule(
                self.handler.beneath(folder.path),
                str(folder.path),
                recursive=folder.config.recursive,
                event_filter=EVENT_TYPES,
            )
        except OSError as exc:
            if exc.errno not in LIMITS:
                log.warning("cannot watch %s: %s", folder.config.path, exc.strerror or exc)
                return False
            # watchdog 7.1+ also raises a subfolder's refusal here; the refusal names which.
            if not any(f is folder for f in self._take_refusals(scheduling=folder)):
                self._poll(folder, folder.path, exc.errno)
            return True
        if not folder.there:
            return False  # swapped while it was being scheduled: the next check decides
        if any(f is folder for f in self._take_refusals()):
            return True  # some subfolders refused: polled
        self._enter(folder, "watching")
        log.info(
            "watching %s%s", folder.config.path, " (and its subfolders)" if folder.config.recursive else ""
        )
        return True

    def _retry_live(self, folder: Folder, appeared: Callable[[Folder], None]) -> bool:
        """A polled folder tried live again (its pinned fd is kept: files stay reachable)."""
        self._unschedule(folder)
        if not self._schedule(folder):
            self._drop(folder)
            return True
        if folder.state != "watching":
            return False  # refused again: still polled, nothing said twice
        appeared(folder)  # it was not watched for a moment
        return True

    def _poll(self, folder: Folder, where: Path, error: int) -> None:
        folder.state, folder.retry_at = "polling", time.monotonic() + LIVE_RETRY_SECONDS
        which = (
            f"{shown(folder)} is"
            if where == folder.path
            else f"some folders in {shown(folder)}, such as {shown(folder, where)}, are"
        )
        self._tell(
            folder,
            f"{which} not watched live: {LIMITS.get(error, os.strerror(error))}; new files in "
            f"{shown(folder)} are found by a scan every {self.poll_seconds:g} seconds instead",
        )

    def _enter(self, folder: Folder, state: str) -> None:
        folder.state = state
        if state in SAID:
            self._tell(folder, f"{shown(folder)} {SAID[state]}")
        elif state == "watching" and folder.told:
            folder.told = ""
            self._say(f"{shown(folder)} is watched again")
        elif state == "missing":
            folder.told = ""  # what it becomes next is worth saying again

    def _tell(self, folder: Folder, text: str) -> None:
        """Said once per state entered, not at every check that finds it still so."""
        if folder.told != folder.state:
            folder.told = folder.state
            self._say(text)

    def _say(self, text: str) -> None:
        log.warning("%s", text)
        self.notice(text)

    def _take_refusals(self, scheduling: Folder | None = None) -> list[Folder]:
        """Folders with a subfolder (or, rebuilding after an overflow, the folder itself) the
        OS refused to watch since the last look; `scheduling` is one whose schedule failed."""
        refused: list[Folder] = []
        for root, where, error in refusals(self.observer):
            for folder in self.folders:
                if (folder.handle is not None or folder is scheduling) and folder.path == root:
                    self._poll(folder, where, error)
                    refused.append(folder)
        self.refused = self.refused or bool(refused)
        return refused

    def _unschedule(self, folder: Folder) -> None:
        if folder.handle is not None:
            with contextlib.suppress(KeyError, OSError):  # its emitter may have stopped already
                self.observer.unschedule(folder.handle)
        folder.handle = None

    def _drop(self, folder: Folder) -> None:
        self._unschedule(folder)
        if folder.pinned is not None:
            folder.pinned.close()
        folder.pinned, folder.state = None, "missing"


def shown(folder: Folder, path: Path | None = None) -> str:
    """The folder as the user wrote it, with ~ for the home folder; or `path` below it."""
    where = folder.config.path
    if path is not None:
        where = where / path.relative_to(folder.path) if path.is_relative_to(folder.path) else path
    home = Path.home()
    text = f"~/{where.relative_to(home)}" if where.is_relative_to(home) and where != home else str(where)
    return "".join(c if c.isprintable() else "?" for c in text)
