"""Whether some process still holds a file open for writing.

A file that starts at its full size (download managers, torrent clients and some network
copies allocate it first, then fill it in) looks complete by its structure and holds
still between writes, yet its data is not all there. On Linux, /proc tells: a descriptor of
this file open for writing (O_WRONLY or O_RDWR) in any process we may look at (the user's
own: the writers that matter). Elsewhere there is no cheap way; the answer is "unknown",
and files are handed on as they settle.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

WriteCheck = Callable[[Path], bool]
_WRITE_MODES = (os.O_WRONLY, os.O_RDWR)


class ProcScan:
    """Linux: every /proc/<pid>/fd link we can read, compared with the file's identity."""

    def __call__(self, path: Path) -> bool:
        try:
            target = path.stat()
            pids = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
        except OSError:
            return False
        identity = (target.st_dev, target.st_ino)
        return any(self._holds(pid, identity) for pid in pids)

    @staticmethod
    def _holds(pid: Path, identity: tuple[int, int]) -> bool:
        try:
            fds = list((pid / "fd").iterdir())
        except OSError:
            return False  # gone, or another user's: not ours to see
        for fd in fds:
            try:
                st = fd.stat()
                if (st.st_dev, st.st_ino) != identity:
                    continue
                with (pid / "fdinfo" / fd.name).open() as info:
                    flags = next((line.split()[1] for line in info if line.startswith("flags:")), "0")
            except (OSError, IndexError):
                continue
            if int(flags, 8) & os.O_ACCMODE in _WRITE_MODES:
                return True
        return False


def nobody(path: Path) -> bool:
    """Where open files cannot be listed: never known to be written."""
    return False


def write_check() -> WriteCheck:
    """The check for this system (the one place that chooses it)."""
    return ProcScan() if sys.platform.startswith("linux") and Path("/proc/self/fdinfo").is_dir() else nobody
