"""Opening files and folders beneath a pinned folder, never through a link.

A watched folder is pinned once (`PinnedDir.open`: an O_DIRECTORY fd opened with
O_NOFOLLOW, and its (st_dev, st_ino)). Every later open walks from that fd one name at a
time (`openat` with O_NOFOLLOW), so a folder swapped for a link while safeshare runs (a
subfolder of a recursive watch, or the watched folder itself) leads nowhere: the walk
stops with `OutsideWatchedFolder` (or `OutsideOutputFolder` for the output side) and
nothing is read from the link's target. A path's text only supplies names below the root.

Platforms without `dir_fd` support (Windows; `os.supports_dir_fd`) cannot open folders,
so there each component is checked with lstat (a link or a reparse point is refused), the
file is opened by its full path, and fstat must show the inode lstat saw. That narrows
the window a swap could use but cannot close it as `openat` does; there `PinnedDir.fd` and
`open_dir_beneath` return -1 and callers write by path.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from safeshare.errors import OutsideOutputFolder, OutsideWatchedFolder, SafeshareError

Identity = tuple[int, int]  # (st_dev, st_ino)
Refusal = type[OutsideWatchedFolder] | type[OutsideOutputFolder]

_DIR_FD = {os.open, os.mkdir, os.stat} <= os.supports_dir_fd
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _NOFOLLOW | _CLOEXEC
_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | _NOFOLLOW | _CLOEXEC | getattr(os, "O_BINARY", 0)
_NOATIME = getattr(os, "O_NOATIME", 0)
# What O_NOFOLLOW / O_DIRECTORY say about a link or a non-folder (EMLINK: FreeBSD's O_NOFOLLOW).
_REFUSED_ERRNOS = {errno.ELOOP, errno.ENOTDIR, errno.EMLINK}
_REPARSE_POINT = getattr(stat, "FILE_ATTRIBUTE_REPARSE_POINT", 0)


class PinnedDir:
    """An open folder: what it holds is reached from `fd`, wherever its path leads later."""

    def __init__(self, path: Path, fd: int, identity: Identity) -> None:
        self.path = path
        self.fd = fd  # -1 where folders cannot be opened (no dir_fd support)
        self.identity = identity
        self.closed = False
        self._lock = threading.Lock()  # an fd is never closed (and reused) while a walk uses it

    @classmethod
    def open(cls, path: Path) -> PinnedDir:
        """Pin the folder at `path`. Its last component must be a folder, not a link
        (OutsideWatchedFolder); the folders above it are the user's and may be links.
        OSError when it is missing or cannot be opened."""
        path = path.absolute()
        if not _DIR_FD:
            st = _checked_lstat(path, [path.name], OutsideWatchedFolder, want_dir=True)
            return cls(path, -1, (st.st_dev, st.st_ino))
        with _refusing(lambda: os.lstat(path), [path.name], OutsideWatchedFolder, want_dir=True):
            fd = os.open(path, _DIR_FLAGS)
        st = os.fstat(fd)
        return cls(path, fd, (st.st_dev, st.st_ino))

    def still_there(self) -> bool:
        """True while `path` still leads to the pinned folder itself (not moved, swapped, a link)."""
        if self.closed:
            return False
        try:
            st = os.lstat(self.path)
        except OSError:
            return False
        return stat.S_ISDIR(st.st_mode) and (st.st_dev, st.st_ino) == self.identity

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                if self.fd >= 0:
                    os.close(self.fd)

    def __enter__(self) -> PinnedDir:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextmanager
    def held(self) -> Iterator[int]:
        """The fd, kept open until the block ends; FileNotFoundError once closed."""
        with self._lock:
            if self.closed:
                raise FileNotFoundError(errno.ENOENT, "the folder is no longer watched", str(self.path))
            yield self.fd


def open_file_beneath(root: PinnedDir, path: Path) -> int:
    """A read-only, non-blocking fd for the file at `path` (below `root.path`), reached from
    the pinned fd without following any link. OutsideWatchedFolder when `path` is not inside
    root or a component is a link or not a folder; other OSErrors (missing, permission)
    propagate. The caller checks fstat: a FIFO, socket or folder opens, but is not a file."""
    names = _names_below(root.path, path, OutsideWatchedFolder)
    if not names:
        raise OutsideWatchedFolder("this is the watched folder itself, not a file in it")
    if not _DIR_FD:
        return _open_by_path(root, names)
    with root.held() as root_fd:
        parent = _walk(root_fd, names[:-1], OutsideWatchedFolder, False, 0)
        try:
            with _refusing(_lstat_at(names[-1], parent), names, OutsideWatchedFolder, want_dir=False):
                return _open_file_at(names[-1], parent)
        finally:
            if parent != root_fd:
                os.close(parent)


def open_dir_beneath(root: PinnedDir, relative: Path, create: bool, mode: int) -> int:
    """An O_DIRECTORY fd for the folder `relative` below `root` (each missing one made with
    `mode` when `create`), never through a link: OutsideOutputFolder when a component is a
    link or not a folder. The caller closes the fd. -1 (after the same checks by path) where
    folders cannot be opened."""
    names = _names_below(root.path, root.path / relative, OutsideOutputFolder)
    if not _DIR_FD:
        _checked_chain(root, names, OutsideOutputFolder, create, mode)
        return -1
    with root.held() as root_fd:
        fd = _walk(root_fd, names, OutsideOutputFolder, create, mode)
        return os.dup(fd) if fd == root_fd else fd


def _names_below(root: Path, path: Path, refused: Refusal) -> list[str]:
    names = path.relative_to(root).parts if path.is_relative_to(root) else ("..",)
    if ".." in names:
        raise refused(f"{_shown(str(path))} is not inside {_shown(root.name)}")
    return list(names)


def _walk(root_fd: int, names: list[str], refused: Refusal, create: bool, mode: int) -> int:
    """The fd of the folder `names` below root_fd (root_fd itself for no names)."""
    fd = root_fd
    try:
        for depth, name in enumerate(names):
            below = _open_dir_at(name, fd, names[: depth + 1], refused, create, mode)
            if fd != root_fd:
                os.close(fd)
            fd = below
    except BaseException:
        if fd != root_fd:
            os.close(fd)
        raise
    return fd


def _open_dir_at(name: str, parent: int, names: list[str], refused: Refusal, create: bool, mode: int) -> int:
    try:
        with _refusing(_lstat_at(name, parent), names, refused, want_dir=True):
            return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except FileNotFoundError:
        if not create:
            raise
    with contextlib.suppress(FileExistsError):  # made meanwhile: opened below, never followed
        os.mkdir(name, mode, dir_fd=parent)
    with _refusing(_lstat_at(name, parent), names, refused, want_dir=True):
        return os.open(name, _DIR_FLAGS, dir_fd=parent)


def _open_file_at(name: str, parent: int) -> int:
    if _NOATIME:
        try:
            return os.open(name, _FILE_FLAGS | _NOATIME, dir_fd=parent)
        except PermissionError:
            pass  # O_NOATIME is only allowed on files we own
    return os.open(name, _FILE_FLAGS, dir_fd=parent)


def _lstat_at(name: str, parent: int) -> Callable[[], os.stat_result]:
    return lambda: os.stat(name, dir_fd=parent, follow_symlinks=False)


@contextmanager
def _refusing(
    lstat: Callable[[], os.stat_result], names: list[str], refused: Refusal, want_dir: bool
) -> Iterator[None]:
    """An O_NOFOLLOW / O_DIRECTORY error turned into the refusal it stands for."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _REFUSED_ERRNOS:
            raise
        try:
            st = lstat()
        except OSError:
            raise exc from None
        refusal = _judged(st, names, refused, want_dir)
        if refusal is None:
            raise
        raise refusal from exc


def _judged(st: os.stat_result, names: list[str], refused: Refusal, want_dir: bool) -> SafeshareError | None:
    where = _shown("/".join(names))
    if stat.S_ISLNK(st.st_mode) or getattr(st, "st_file_attributes", 0) & _REPARSE_POINT:
        return refused(f"{where} is a link to another place, which safeshare does not follow")
    if want_dir and not stat.S_ISDIR(st.st_mode):
        return refused(f"{where} is not a folder")
    return None


def _shown(text: str) -> str:
    """One printable line, whatever the names hold (newlines, invalid UTF-8)."""
    return "".join(c if c.isprintable() else "?" for c in text)


# -- without dir_fd: lstat each component, then compare the opened file's identity --------
def _checked_lstat(path: Path, names: list[str], refused: Refusal, want_dir: bool) -> os.stat_result:
    st = os.lstat(path)
    refusal = _judged(st, names, refused, want_dir)
    if refusal is not None:
        raise refusal
    return st


def _checked_chain(root: PinnedDir, names: list[str], refused: Refusal, create: bool, mode: int) -> Path:
    if not root.still_there():
        raise refused(f"{_shown(root.path.name)} was moved or replaced")
    current = root.path
    for depth, name in enumerate(names):
        current = current / name
        if create and not os.path.lexists(current):
            with contextlib.suppress(FileExistsError):
                current.mkdir(mode)
        _checked_lstat(current, names[: depth + 1], refused, want_dir=True)
    return current


def _open_by_path(root: PinnedDir, names: list[str]) -> int:
    path = _checked_chain(root, names[:-1], OutsideWatchedFolder, False, 0) / names[-1]
    seen = _checked_lstat(path, names, OutsideWatchedFolder, want_dir=False)
    fd = os.open(path, _FILE_FLAGS)
    st = os.fstat(fd)
    if (st.st_dev, st.st_ino) != (seen.st_dev, seen.st_ino):
        os.close(fd)
        raise OutsideWatchedFolder(f"{_shown('/'.join(names))} was replaced while it was opened")
    return fd
