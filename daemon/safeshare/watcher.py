"""Turning file-system events into "this file may be new or changed" (for `settle.Settler`).

Events are keyed by the file's final path. A rename is judged by where it lands (a
browser's `photo.jpg.crdownload -> photo.jpg` must count, although a filter looking at
the source name would drop it); close-after-write and renames say the file is complete.
Which files and folders count is decided by one pair of predicates for events and for
rescans (`files_in`): nothing in a hidden folder below the watched one (`.Trash-1000`,
`.thumbnails`), nothing inside a photo application's library (a macOS Photos library is a
folder of originals and thumbnails; Lightroom keeps previews), nothing in the output folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
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
    "_exiftool_tmp",  # ExifTool writes the new file under this name, then renames it
    "_original",  # and keeps the file it edited under this one (a backup, not a new photo)
)
# Folders an application keeps its own pictures in (originals, previews, thumbnails): cleaning
# them would copy a whole library. The user's own folders are never named like these.
LIBRARY_SUFFIXES = (
    ".photoslibrary",
    ".photolibrary",
    ".migratedphotolibrary",
    ".aplibrary",
    ".imovielibrary",
    ".lrdata",
    ".lrlibrary",
    ".app",
    ".bundle",
)
LIBRARY_NAMES = ("photo booth library", "@eadir", "#recycle", "$recycle.bin", "system volume information")
EVENT_TYPES = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileClosedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,  # its files are gone: their copies' names are released
]


def is_candidate_name(name: str) -> bool:
    """False for hidden files, temp and partial-download names, and our own temp files."""
    lowered = name.lower()
    return not (name.startswith((".", "~$")) or lowered.endswith(TEMP_SUFFIXES) or is_temp_name(name))


def is_watched_folder(root: Path, path: Path, excluded: Path) -> bool:
    """`path` is `root` or a folder below it with no hidden or library name on the way, not inside
    `excluded` (the output folder). Names above `root` do not count: a watched folder may
    itself live in a hidden one."""
    if not path.is_relative_to(root) or path.is_relative_to(excluded):
        return False
    return not any(is_skipped_folder_name(name) for name in path.relative_to(root).parts)


def is_skipped_folder_name(name: str) -> bool:
    """Hidden folders and applications' picture libraries are not looked into."""
    lowered = name.lower()
    return name.startswith(".") or lowered.endswith(LIBRARY_SUFFIXES) or lowered in LIBRARY_NAMES


def is_watched_candidate(root: Path, path: Path, excluded: Path) -> bool:
    """`path` is a file the watch on `root` cleans: a candidate name in a watched folder."""
    return path != root and is_candidate_name(path.name) and is_watched_folder(root, path.parent, excluded)


class EventFilter(FileSystemEventHandler):
    """watchdog handler: passes candidate files to `touch`, new folders to `new_folder`.

    The daemon builds one as a template; `folders.Folders` schedules `beneath(root)` for
    each watched folder, so that hidden folders below that root are skipped as well."""

    def __init__(
        self,
        touch: Callable[[Path, bool], None],
        forget: Callable[[Path], None],
        new_folder: Callable[[Path], None],
        excluded: Path,
        root: Path | None = None,
        moved: Callable[[Path, Path], None] | None = None,
    ) -> None:
        self.touch = touch
        self.forget = forget
        self.new_folder = new_folder
        self.moved = moved or (lambda source, target: None)  # a file or folder renamed: from, to
        self.excluded = excluded  # the output folder: never ours to clean
        self.root = root  # the watched folder; None: file names alone decide

    def beneath(self, root: Path) -> EventFilter:
        """The same filter for the watch on `root`."""
        return EventFilter(self.touch, self.forget, self.new_folder, self.excluded, root, self.moved)

    def _wanted(self, path: Path) -> bool:
        if self.root is None:
            return is_candidate_name(path.name) and not path.is_relative_to(self.excluded)
        return is_watched_candidate(self.root, path, self.excluded)

    def _wanted_folder(self, path: Path) -> bool:
        if self.root is None:
            return not path.is_relative_to(self.excluded)
        return path != self.root and is_watched_folder(self.root, path, self.excluded)

    def on_any_event(self, event: FileSystemEvent) -> None:
        kind = event.event_type
        # Moves count where they land; "complete" when they land (renames are atomic).
        target = Path(os.fsdecode(event.dest_path if kind == "moved" else event.src_path))
        if event.is_directory:
            if kind in ("deleted", "moved"):  # the files in it are gone from where they were
                self.forget(Path(os.fsdecode(event.src_path)))
            if kind == "moved":
                self.moved(Path(os.fsdecode(event.src_path)), target)
            if kind in ("created", "moved") and self._wanted_folder(target):
                self.new_folder(target)
            return
        if kind == "deleted":
            self.forget(target)
        elif kind == "moved":
            self.forget(Path(os.fsdecode(event.src_path)))
            self.moved(Path(os.fsdecode(event.src_path)), target)
            if self._wanted(target):
                self.touch(target, True)
        elif kind in ("created", "modified", "closed") and self._wanted(target):
            self.touch(target, kind == "closed")


def files_in(root: Path, recursive: bool, excluded: Path) -> Iterator[os.DirEntry[str]]:
    """Regular files with candidate names below `root`; hidden folders and the output folder
    skipped, as for events."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            path = Path(entry.path)
            if entry.is_dir(follow_symlinks=False):
                if recursive and is_watched_folder(root, path, excluded):
                    stack.append(path)
            elif entry.is_file(follow_symlinks=False) and is_watched_candidate(root, path, excluded):
                yield entry
