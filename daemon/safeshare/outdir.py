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
import dataclasses
import logging
import os
import re
import stat
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from safeshare.binary import Piece, Span
from safeshare.errors import OutputError, SafeshareError, describe_os_error
from safeshare.fileio import TEMP_PREFIX, TEMP_SUFFIX, copy_span, is_temp_name
from safeshare.fsops import EXCHANGE, NOREPLACE, in_use, locked, renameat2_in
from safeshare.safepath import PinnedDir, open_dir_beneath

log = logging.getLogger(__name__)
FOLDER_MODE = 0o700  # an output folder we create is private: no more open than any watched one


@dataclass
class Staged:
    """A complete, fsynced temp file in its output folder, not yet visible under a real name."""

    folder_fd: int  # our own descriptor of the folder it is in
    folder: Path
    temp_name: str
    identity: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the file we wrote
    lock_fd: int = -1  # holds a lock on it while it is ours to publish (see `fsops.in_use`)

    def handed_over(self) -> tuple[Staged, list[int]]:
        """This staged file as another process takes it: without our descriptors, which go
        along separately (`procpool`) and are then `taken_over` there."""
        fds = [self.folder_fd] if self.lock_fd < 0 else [self.folder_fd, self.lock_fd]
        return dataclasses.replace(self, folder_fd=-1, lock_fd=-1), fds

    def taken_over(self, fds: list[int]) -> None:
        """The descriptors `handed_over` sent, as this process received them."""
        self.folder_fd = fds[0]
        self.lock_fd = fds[1] if len(fds) > 1 else -1

    def stat(self, name: str | None = None) -> os.stat_result:
        """The temp file's lstat, or that of `name` in its folder (OSError if none)."""
        return os.lstat(self.temp_name if name is None else name, dir_fd=self.folder_fd)

    def close(self) -> None:
        """Let go of it, leaving the file (another process has taken it over)."""
        self._close()

    def reopen(self) -> int:
        """The staged file, opened again for reading through the pinned folder: never through
        a link, never blocking, and only if it is still the very file we wrote."""
        flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            fd = os.open(self.temp_name, flags, dir_fd=self.folder_fd)
        except OSError as exc:
            raise OutputError(
                f"the copy being written in {self.folder} is gone ({describe_os_error(exc)})"
            ) from exc
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != self.identity:
            os.close(fd)
            raise OutputError(f"the copy being written in {self.folder} was replaced by another file")
        return fd

    @property
    def path(self) -> Path:
        """Where the verifier reads it (the folder is pinned, the name random and exclusive)."""
        return self.folder / self.temp_name

    def taken(self, name: str) -> bool:
        """Something, of anyone's, already has this name in the folder."""
        try:
            os.lstat(name, dir_fd=self.folder_fd)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        return True

    def same_as(self, name: str) -> bool:
        """The regular file `name` holds exactly the staged bytes (an earlier copy of ours)."""
        try:
            theirs = os.open(name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0), dir_fd=self.folder_fd)
        except OSError:
            return False
        try:
            ours = os.open(self.temp_name, os.O_RDONLY, dir_fd=self.folder_fd)
        except OSError:
            os.close(theirs)
            return False
        try:
            a, b = os.fstat(theirs), os.fstat(ours)
            if not stat.S_ISREG(a.st_mode) or a.st_size != b.st_size:
                return False
            while True:
                x, y = os.read(theirs, 1 << 20), os.read(ours, 1 << 20)
                if x != y:
                    return False
                if not x:
                    return True
        finally:
            os.close(theirs)
            os.close(ours)

    def commit(
        self, name: str, *, replace: bool, owned_since: float | None = None, sync: bool = True
    ) -> Path | None:
        """Give the staged file its name and make that durable (with `sync`; else the caller
        fsyncs the folder later, once for many files). With `replace`, a file of that name is
        replaced (the caller's own earlier copy: with `owned_since`, only if it has not
        changed since then, checked atomically where the system allows); without, a name
        that exists is never touched. None: the name is not ours to take."""
        if replace and owned_since is not None:
            return self._replace_own(name, owned_since, sync)
        try:
            if replace or not self._link(name):
                if not replace and self.taken(name):
                    return None
                os.replace(self.temp_name, name, src_dir_fd=self.folder_fd, dst_dir_fd=self.folder_fd)
            if sync:
                with contextlib.suppress(OSError):
                    os.fsync(self.folder_fd)
        except FileExistsError:
            return None
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {name}: {describe_os_error(exc)}") from exc
        self.discard()  # after a link: the temp name goes; after a rename: nothing left to remove
        return self.folder / name

    def _replace_own(self, name: str, owned_since: float, sync: bool) -> Path | None:
        """Swap the staged file with our earlier copy (renameat2 RENAME_EXCHANGE), then make
        sure what came out is the file that was checked: anything else (the user's file put
        there since, or a file swapped in between) is put back and None returned."""
        try:
            st = os.lstat(name, dir_fd=self.folder_fd)
        except FileNotFoundError:
            return self.commit(name, replace=False, sync=sync)
        if not stat.S_ISREG(st.st_mode) or st.st_ctime > owned_since:
            return None  # changed since we wrote it: not ours any more
        try:
            exchanged = renameat2_in(self.temp_name, name, self.folder_fd, EXCHANGE)
            if not exchanged:
                return self.commit(name, replace=True, sync=sync)  # no exchange: replaced after the check
            out = os.lstat(self.temp_name, dir_fd=self.folder_fd)
            if (out.st_dev, out.st_ino) != (st.st_dev, st.st_ino):
                renameat2_in(self.temp_name, name, self.folder_fd, EXCHANGE)  # put theirs back
                return None
            if sync:
                with contextlib.suppress(OSError):
                    os.fsync(self.folder_fd)
        except OSError as exc:
            self.discard()
            raise OutputError(f"cannot write {name}: {describe_os_error(exc)}") from exc
        self.discard()  # removes our earlier copy, now under the temp name
        return self.folder / name

    def _link(self, name: str) -> bool:
        """Atomic no-clobber publish (EEXIST if the name is taken): renameat2 with
        RENAME_NOREPLACE on Linux, so the temp name is gone the moment the copy appears;
        elsewhere a hard link (the temp name then goes a moment later). False where neither
        exists (FAT, exFAT, some network shares): the caller renames after a check, a window
        of microseconds."""
        if renameat2_in(self.temp_name, name, self.folder_fd, NOREPLACE):
            return True
        try:
            os.link(self.temp_name, name, src_dir_fd=self.folder_fd, dst_dir_fd=self.folder_fd)
        except FileExistsError:
            raise
        except (OSError, NotImplementedError):
            return False
        return True

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            os.unlink(self.temp_name, dir_fd=self.folder_fd)
        self._close()

    def _close(self) -> None:
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1
        if self.folder_fd >= 0:
            os.close(self.folder_fd)
            self.folder_fd = -1


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

    def stage(self, subfolder: Path, parts: Sequence[Piece], mode: int) -> Staged:
        """Write `parts` to a new temp file in `subfolder` (relative to the root), fsynced."""
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
                os.fsync(handle.fileno())
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
