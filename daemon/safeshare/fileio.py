"""The input side of the file-system boundary: read a file whole without touching it.

Reading never changes the original (O_NOATIME where allowed, never a write handle) and
never blocks on a FIFO. Who opens the file is the caller's choice (`Opener`): `clean` opens
the paths it was given; the daemon opens each file beneath its pinned watched folder,
never through a link. The output side is `outdir.OutputFolder`.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safeshare.errors import EmptyFile, InputError, TooLarge, Vanished, describe_os_error

TEMP_PREFIX = ".safeshare-"
TEMP_SUFFIX = ".tmp"


@dataclass(frozen=True)
class Source:
    data: bytearray
    mode: int
    size: int
    mtime_ns: int

    def release(self) -> None:
        """Free the bytes (a 200 MB input need not stay in memory while its copy is checked)."""
        with contextlib.suppress(BufferError):  # a view of it still alive: it stays until then
            self.data.clear()


Opener = Callable[[Path], int]  # opens a path for reading: an fd, or OSError


def open_path(path: Path, follow_symlinks: bool = True) -> int:
    """Open `path` read-only, non-blocking (a FIFO never hangs), without updating atime."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME is only allowed on files we own
    return os.open(path, flags)


def read_input(path: Path, max_bytes: int, opener: Opener = open_path) -> Source:
    """The whole file in memory, or an InputError naming the reason."""
    try:
        fd = opener(path)
    except FileNotFoundError as exc:
        raise Vanished(f"cannot open: {describe_os_error(exc)}") from exc
    except InputError:
        raise
    except OSError as exc:
        raise InputError(f"cannot open: {describe_os_error(exc)}") from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError("not a regular file")
        if st.st_size == 0:
            raise EmptyFile("empty file (0 bytes)")
        if st.st_size > max_bytes:
            raise TooLarge(f"{st.st_size} bytes is over the file-size limit of {max_bytes}")
        data = _read_exactly(fd, st.st_size)
        return Source(data, stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise InputError(f"cannot read: {describe_os_error(exc)}") from exc
    finally:
        os.close(fd)


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()


def reachable_mode(path: Path, mode: int) -> int:
    """The permissions for a copy of `path`: its own, without exec bits or what the umask
    takes away, and never more readable than the original was through its folders (a
    0644 photo in a 0700 folder is private, so its copy is 0600)."""
    mode &= 0o666 & ~UMASK
    for folder in Path(os.path.realpath(path)).parents:  # the folders of the file a link leads to
        try:
            folder_mode = folder.stat().st_mode
        except OSError:
            continue
        if not folder_mode & stat.S_IXOTH:
            mode &= ~0o007
        if not folder_mode & stat.S_IXGRP:
            mode &= ~0o070
    return mode


def _read_exactly(fd: int, size: int) -> bytearray:
    data = bytearray(size)
    view = memoryview(data)
    got = 0
    with os.fdopen(os.dup(fd), "rb", buffering=0) as handle:
        while got < size:
            n = handle.readinto(view[got:])
            if not n:
                raise InputError("the file shrank while it was being read")
            got += n
    view.release()
    return data


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)
