"""Two file-system operations Python does not offer: renameat2 (an atomic rename that
never replaces, or that swaps two names) and advisory locks marking a temp file as in use.
Both say plainly where the system does not have them, so callers can fall back."""

from __future__ import annotations

import errno
import functools
import os
import sys
from pathlib import Path
from typing import Any


@functools.cache
def _renameat2() -> Any:
    """libc's renameat2 (glibc 2.28+), looked up once; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    return getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)


NOREPLACE, EXCHANGE = 1, 2  # renameat2 flags


def renameat2_in(src: str, dst: str, folder_fd: int, flags: int) -> bool:
    """renameat2 within `folder_fd`: True when done, FileExistsError when NOREPLACE finds
    `dst`, False where the system or file system does not offer it."""
    renameat2 = _renameat2()
    if renameat2 is None:
        return False
    import ctypes

    if renameat2(folder_fd, os.fsencode(src), folder_fd, os.fsencode(dst), flags) == 0:
        return True
    error = ctypes.get_errno()
    if error == errno.EEXIST:
        raise FileExistsError(error, os.strerror(error), dst)
    if error in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP, errno.EPERM):
        return False  # not offered here: the caller falls back
    raise OSError(error, os.strerror(error), dst)


def locked(fd: int) -> int:
    """A second descriptor of the temp file holding an exclusive lock on it until it is
    published or discarded, so a daemon starting meanwhile does not take it for a crash's
    leftover (`in_use`). -1 where there are no such locks."""
    try:
        import fcntl
    except ImportError:
        return -1
    lock = os.dup(fd)
    try:
        # Waits (microseconds) if another run's `in_use` is just probing this new file.
        fcntl.flock(lock, fcntl.LOCK_EX)
    except BaseException:
        os.close(lock)
        raise
    return lock


def in_use(path: Path) -> bool:
    """Someone (a `clean` run, another thread) is still writing or publishing this temp file."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return True  # cannot look: leave it alone
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False
