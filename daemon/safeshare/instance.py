"""One daemon per user: an exclusive lock on a file in the state folder, holding the pid.

The lock is released by the OS when the process dies, even by `kill -9`, so a stale lock
file never blocks a restart. Per-OS locking lives in two small backends. The state folder is
0700, the lock and `daemon.json` 0600, whatever the umask.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import IO, Any

from safeshare.paths import private_dir, private_open

LOCK_NAME = "daemon.lock"
STATE_NAME = "daemon.json"


class AlreadyRunning(Exception):
    def __init__(self, pid: int | None) -> None:
        super().__init__(
            f"safeshare is already running (pid {pid})" if pid else "safeshare is already running"
        )
        self.pid = pid


class _PosixLock:
    @staticmethod
    def try_lock(handle: IO[str]) -> bool:
        import fcntl

        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


class _WindowsLock:
    @staticmethod
    def try_lock(handle: IO[str]) -> bool:  # pragma: no cover - exercised on Windows only
        import msvcrt

        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


def _backend() -> type[_PosixLock] | type[_WindowsLock]:
    return _WindowsLock if sys.platform == "win32" else _PosixLock


class InstanceLock:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        private_dir(self.path.parent)
        handle = _open_lock(self.path)
        if not _backend().try_lock(handle):
            handle.close()
            raise AlreadyRunning(running_pid(self.path.parent))
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def running_pid(state_dir: Path) -> int | None:
    """The pid of the running daemon, or None when no daemon holds the lock."""
    path = state_dir / LOCK_NAME
    if not path.exists():
        return None
    with _open_lock(path) as handle:
        if _backend().try_lock(handle):
            return None  # nobody holds it (our probe lock goes away when the file closes)
        handle.seek(0)
        text = handle.read().strip()
    return int(text) if text.isdigit() else None


def _open_lock(path: Path) -> IO[str]:
    """The lock file, read-write, created 0600 (an existing one is tightened)."""
    return open(private_open(path, os.O_RDWR | os.O_CREAT), "r+", encoding="ascii")  # noqa: PTH123


def write_state(state_dir: Path, state: dict[str, Any]) -> None:
    """What the daemon watches right now, for `safeshare status` (0600, replaced atomically)."""
    temp = state_dir / (STATE_NAME + ".tmp")
    fd = private_open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with open(fd, "w", encoding="utf-8") as handle:  # noqa: PTH123 (a descriptor)
        handle.write(json.dumps({**state, "updated": time.time()}, indent=1))
    temp.replace(state_dir / STATE_NAME)


def read_state(state_dir: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads((state_dir / STATE_NAME).read_text(encoding="utf-8"))
        if isinstance(data, dict):
            return data
    return {}
