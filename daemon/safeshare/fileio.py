"""The file-system boundary: read an input without touching it, publish an output atomically.

Reading never changes the original (O_NOATIME where allowed, never a write handle) and
never blocks on a FIFO. Publishing writes a temp file in the output folder, fsyncs it,
lets the caller verify it, then renames it into place: a partial file is never visible.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from safeshare.binary import Part
from safeshare.errors import EmptyFile, InputError, OutputError, TooLarge, Vanished, describe_os_error

TEMP_PREFIX = ".safeshare-"
TEMP_SUFFIX = ".tmp"


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


UMASK = _current_umask()


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


def read_input(path: Path, max_bytes: int, follow_symlinks: bool = True) -> Source:
    """The whole file in memory, or an InputError naming the reason."""
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = _open_noatime(path, flags)
    except FileNotFoundError as exc:
        raise Vanished(f"cannot open: {describe_os_error(exc)}") from exc
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


def _open_noatime(path: Path, flags: int) -> int:
    noatime = getattr(os, "O_NOATIME", 0)
    if noatime:
        try:
            return os.open(path, flags | noatime)
        except PermissionError:
            pass  # O_NOATIME is only allowed on files we own
    return os.open(path, flags)


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


def publish(
    parts: list[Part],
    final: Path,
    mode: int,
    check: Callable[[Path], None],
    root: Path | None = None,
    written: Callable[[], None] | None = None,
) -> None:
    """Write `parts` to a temp file beside `final`, fsync, `check` it, rename it into place.

    `root` is the output folder: a folder link inside it that leads elsewhere is refused, so
    nothing is ever written outside it. `written` runs once the data is on disk and before
    the check (the caller frees the input there: the check maps the output instead)."""
    folder = final.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if root is not None and not folder.resolve().is_relative_to(root.resolve()):
            raise OutputError(f"{folder} leads outside the output folder {root}; nothing was written")
        fd, temp_name = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=folder)
    except OSError as exc:
        raise OutputError(f"cannot write to {folder}: {describe_os_error(exc)}") from exc
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            for part in parts:
                handle.write(part)
            handle.flush()
            os.fsync(handle.fileno())
        temp.chmod(mode & 0o666 & ~UMASK)
        if written is not None:
            written()
        check(temp)
        temp.replace(final)
        _fsync_folder(folder)
    except OSError as exc:
        _remove_quietly(temp)
        raise OutputError(f"cannot write {final.name}: {describe_os_error(exc)}") from exc
    except BaseException:
        _remove_quietly(temp)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)
