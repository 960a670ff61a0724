"""A staged copy: a complete temp file in the pinned output folder, waiting for its name.

`OutputFolder.stage` writes it; whoever claimed a name publishes it with `commit` (atomic,
never over a file that is not ours) or gives it up with `discard`. It can pass to another
process (`handed_over`/`taken_over`, the batch's workers) together with its descriptors.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from safeshare.backsync import BackgroundSync
from safeshare.errors import OutputError, describe_os_error
from safeshare.fsops import EXCHANGE, NOREPLACE, renameat2_in


@dataclass
class Staged:
    """A complete temp file in its output folder, not yet visible under a real name: fsynced,
    or being fsynced (`syncing`) while it is verified, and always before it is renamed."""

    folder_fd: int  # our own descriptor of the folder it is in
    folder: Path
    temp_name: str
    identity: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the file we wrote
    lock_fd: int = -1  # holds a lock on it while it is ours to publish (see `fsops.in_use`)
    syncing: BackgroundSync | None = field(default=None, repr=False, compare=False)

    def synced(self) -> None:
        """Wait until its data is on disk; OutputError (the copy discarded) if it cannot be.
        Forgotten only once the wait is over (an interrupted wait is waited for again)."""
        syncing = self.syncing
        if syncing is None:
            return
        try:
            syncing.wait()
        except OSError as exc:
            self.syncing = None
            self.discard()
            raise OutputError(f"cannot write to {self.folder}: {describe_os_error(exc)}") from exc
        self.syncing = None

    def handed_over(self) -> tuple[Staged, list[int]]:
        """This staged file as another process takes it: without our descriptors, which go
        along separately (`procpool`) and are then `taken_over` there."""
        self.synced()
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
        self.synced()  # its data is on disk before it has a name: a crash leaves it whole or absent
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
        try:
            if self.syncing is not None:
                with contextlib.suppress(OSError):
                    self.syncing.wait()  # no thread of ours outlives the copy it was writing
                self.syncing = None
        finally:  # even if that wait is cut short (Ctrl-C): our descriptors go
            if self.lock_fd >= 0:
                os.close(self.lock_fd)
                self.lock_fd = -1
            if self.folder_fd >= 0:
                os.close(self.folder_fd)
                self.folder_fd = -1
