"""The output folder, pinned: nothing is ever written outside it, nothing replaced by accident.

The folder is opened once (without following links) and every write goes through that
descriptor: a temp file created with O_EXCL, fsynced, verified, then renamed into place
under its claimed name, all relative to the pinned folder. Before each file the path is
checked again:
- it still leads to the pinned folder: write there;
- it is gone (the user deleted it): it is created again, private, and pinned anew;
- it is a real folder again but another one (the user replaced it): that one is pinned;
- it is a link or not a folder (swapped by someone else): nothing is written, the file
  is retried later (OutputError), and the user is told why.
Subfolders (labels, the layout `clean` mirrors) are opened one component at a time, never
through a link, and created with the same private mode.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import stat
import threading
from collections.abc import Sequence
from pathlib import Path

from safeshare.backsync import BackgroundSync
from safeshare.binary import Piece, Span
from safeshare.errors import OutputError, SafeshareError, describe_os_error
from safeshare.fileio import TEMP_PREFIX, TEMP_SUFFIX, copy_span, is_temp_name
from safeshare.fsops import in_use, locked
from safeshare.safepath import PinnedDir, open_dir_beneath
from safeshare.staged import Staged

log = logging.getLogger(__name__)
FOLDER_MODE = 0o700  # an output folder we create is private: no more open than any watched one


class OutputFolder:
    """One output root (the safe-share folder, or `clean --output DIR`); thread-safe."""

    def __init__(self, path: Path) -> None:
        # Links the user set up (e.g. the folder on another disk) are resolved once, here;
        # a link that appears later is never followed.
        self.path = Path(os.path.realpath(path))
        self._pinned: PinnedDir | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            if self._pinned is not None:
                self._pinned.close()
            self._pinned = None

    def stage(self, subfolder: Path, parts: Sequence[Piece], mode: int, *, now: bool = True) -> Staged:
        """Write `parts` to a new temp file in `subfolder` (relative to the root), fsynced
        (`now`: before this returns; else meanwhile, until `Staged.synced`)."""
        folder_fd = self._open_subfolder(subfolder)
        name = f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}"
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600, dir_fd=folder_fd)
        except OSError as exc:
            os.close(folder_fd)
            raise OutputError(f"cannot write to {self.path / subfolder}: {describe_os_error(exc)}") from exc
        staged = Staged(folder_fd, self.path / subfolder, name)
        try:
            with os.fdopen(fd, "wb") as handle:  # closed on every way out
                written = os.fstat(fd)
                staged.identity = (written.st_dev, written.st_ino)
                staged.lock_fd = locked(fd)
                for part in parts:
                    if isinstance(part, Span):  # media data, copied from the input file
                        handle.flush()
                        copy_span(part, fd)
                    else:
                        handle.write(part)
                handle.flush()
                os.fchmod(handle.fileno(), mode & 0o666)
                if now:
                    os.fsync(handle.fileno())
                else:
                    staged.syncing = BackgroundSync(os.dup(handle.fileno()))
        except OSError as exc:
            staged.discard()
            raise OutputError(f"cannot write to {staged.folder}: {describe_os_error(exc)}") from exc
        except BaseException:
            staged.discard()
            raise
        return staged

    def _open_subfolder(self, subfolder: Path) -> int:
        """A descriptor of root/subfolder, created as needed, never reached through a link."""
        with self._lock:
            root = self._root()
        try:
            return open_dir_beneath(root, subfolder, create=True, mode=FOLDER_MODE)
        except (OSError, SafeshareError) as exc:
            why = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            raise OutputError(
                f"{self.path / subfolder} leads outside the output folder or cannot be made ({why}); "
                "nothing was written"
            ) from exc

    def _root(self) -> PinnedDir:
        """The pinned root, re-pinned or recreated as the module docstring says."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            st = None
        except OSError as exc:
            raise OutputError(
                f"cannot reach the output folder {self.path}: {describe_os_error(exc)}"
            ) from exc
        if st is not None and not stat.S_ISDIR(st.st_mode):
            kind = "a link to another place" if stat.S_ISLNK(st.st_mode) else "not a folder"
            raise OutputError(f"the output folder {self.path} is now {kind}; nothing was written there")
        if st is not None and hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise OutputError(
                f"the output folder {self.path} belongs to another user; nothing is written there "
                "(someone else could read or change the copies)"
            )
        pinned = self._pinned
        if st is not None and pinned is not None and (st.st_dev, st.st_ino) == pinned.identity:
            return pinned
        _refuse_links_above(self.path)
        if st is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self.path.mkdir(FOLDER_MODE)
            except FileExistsError:
                pass
            except OSError as exc:
                raise OutputError(
                    f"cannot create the output folder {self.path}: {describe_os_error(exc)}"
                ) from exc
            log.info("created the output folder %s", self.path)
        try:
            fresh = PinnedDir.open(self.path)
        except (OSError, SafeshareError) as exc:
            why = describe_os_error(exc) if isinstance(exc, OSError) else str(exc)
            raise OutputError(f"cannot open the output folder {self.path}: {why}") from exc
        if pinned is not None:
            pinned.close()
            log.info("the output folder %s was replaced; writing to the new one", self.path)
        self._pinned = fresh
        return fresh


def _refuse_links_above(path: Path) -> None:
    """Before pinning a new folder: none of the (resolved at start) parents became a link."""
    for parent in path.parents:
        try:
            if stat.S_ISLNK(os.lstat(parent).st_mode):
                raise OutputError(f"{parent} is now a link to another place; nothing was written to {path}")
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot reach the output folder {path}: {describe_os_error(exc)}") from exc


STALE_NAME = re.compile(r"\.safeshare-[0-9a-f]{12}\.tmp")


def remove_stale_temp_files(output: Path) -> None:
    """Temp files a crash left behind: exactly our names (`.safeshare-<12 hex>.tmp`),
    ours, and not locked: a `safeshare clean` writing into the same folder right now
    holds a lock on each of its temp files (`fsops.in_use`)."""
    if not output.is_dir() or output.is_symlink():
        return
    for folder, _dirs, files in os.walk(output):
        for name in files:
            if not is_temp_name(name) or not STALE_NAME.fullmatch(name):
                continue
            path = Path(folder, name)
            with contextlib.suppress(OSError):
                st = path.lstat()
                if stat.S_ISREG(st.st_mode) and st.st_uid == os.geteuid() and not in_use(path):
                    path.unlink()
