"""The input side of the file-system boundary: read a file whole without touching it.

Reading never changes the original (O_NOATIME where allowed, never a write handle) and
never blocks on a FIFO. Who opens the file is the caller's choice (`Opener`): `clean` opens
the paths it was given; the daemon opens each file beneath its pinned watched folder,
never through a link. The output side is `outdir.OutputFolder`.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from safeshare.binary import Span
from safeshare.errors import EmptyFile, InputError, TooLarge, Truncated, Vanished, describe_os_error

TEMP_PREFIX = ".safeshare-"
TEMP_SUFFIX = ".tmp"


@dataclass
class Source:
    """A file as read: all of it in memory (`data` a bytearray), or, for a streamed format
    (a video), a map the size of the file holding only what the cleaner reads, with the
    file kept open (`fd`) for the media data it copies file to file."""

    data: bytearray | mmap.mmap
    mode: int
    size: int
    mtime_ns: int
    fd: int = -1

    def release(self) -> None:
        """Free the bytes (a 200 MB input need not stay in memory while its copy is checked)."""
        with contextlib.suppress(BufferError):  # a view of it still alive: it stays until then
            if isinstance(self.data, mmap.mmap):
                self.data.close()
            else:
                self.data.clear()
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self) -> None:
        if self.fd >= 0:  # a streamed file never staged (a duplicate, a refusal): closed here
            with contextlib.suppress(OSError):
                os.close(self.fd)

    def sha256(self) -> str:
        """The digest of the file's content (read again through `fd` when streamed)."""
        import hashlib

        if self.fd < 0:
            return hashlib.sha256(self.data).hexdigest()
        digest = hashlib.sha256()
        for block in span_blocks(Span(self.fd, 0, self.size)):
            digest.update(block)
        return digest.hexdigest()

    def sha256_later(self, background: bool) -> Callable[[], str]:
        """The digest; call the result to wait for it. With `background`, worked out on a
        thread while the caller goes on (hashlib lets go of the interpreter over bytes in
        memory); a streamed file, or where no thread can start, here and now."""
        found: list[str] = []
        failed: list[Exception] = []

        def work() -> None:
            try:
                found.append(self.sha256())
            except Exception as exc:  # noqa: BLE001 - raised again where it is waited for
                failed.append(exc)

        thread = None
        if background and self.fd < 0:
            import threading

            thread = threading.Thread(target=work, name="safeshare-sha256", daemon=True)
            try:
                thread.start()
            except RuntimeError:  # can't start new thread (a thread limit)
                thread = None
        if thread is None:
            found.append(self.sha256())

        def wait() -> str:
            if thread is not None:
                thread.join()
            if failed:
                raise failed[0]
            return found[0]

        return wait

    def check_unchanged(self) -> None:
        """Truncated if a streamed file changed since it was opened (its media data was
        copied from the file as it is now, its header read from it as it was)."""
        if self.fd < 0:
            return
        st = os.fstat(self.fd)
        if (st.st_size, st.st_mtime_ns) != (self.size, self.mtime_ns):
            raise Truncated("the file changed while it was being copied; it will be tried again")


Opener = Callable[[Path], int]  # opens a path for reading: an fd, or OSError
# Given a file's first bytes: None to read it whole, or how to read a streamed format.
Loader = Callable[[bytes], Callable[[int, int], mmap.mmap] | None]
HEAD = 64


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


def read_input(
    path: Path, max_bytes: int, opener: Opener = open_path, loader: Loader | None = None
) -> Source:
    """The whole file in memory, or an InputError naming the reason. With `loader`, a
    format it streams (by its first bytes) is read as that format says, however large."""
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
        load = loader(os.pread(fd, HEAD, 0)) if loader is not None else None
        if load is not None:
            streamed = Source(load(fd, st.st_size), stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, fd)
            fd = -1  # the Source holds it now
            return streamed
        if st.st_size > max_bytes:
            raise TooLarge(f"{st.st_size} bytes is over the file-size limit of {max_bytes}")
        data = _read_exactly(fd, st.st_size)
        return Source(data, stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns)
    except OSError as exc:
        raise InputError(f"cannot read: {describe_os_error(exc)}") from exc
    finally:
        if fd >= 0:
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


COPY_BLOCK = 1 << 20


def span_blocks(span: Span) -> Iterator[bytes]:
    """The bytes of `span`, a block at a time; Truncated if the input ends before it."""
    done = 0
    while done < span.length:
        try:
            block = os.pread(span.fd, min(COPY_BLOCK, span.length - done), span.offset + done)
        except OSError as exc:
            raise InputError(f"cannot read: {describe_os_error(exc)}") from exc
        if not block:
            raise Truncated("the file shrank while it was being copied")
        yield block
        done += len(block)


def copy_span(span: Span, fd: int) -> None:
    """Append `span` of the input to the file open as `fd` (at its position): by the kernel
    (copy_file_range: no copy through this process) where it can, else block by block."""
    done = 0
    copy = getattr(os, "copy_file_range", None)
    while copy is not None and done < span.length:
        try:
            n = copy(span.fd, fd, span.length - done, span.offset + done)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.EBADF):
                raise
            break  # not between these two files: copied through memory instead
        if n == 0:
            raise Truncated("the file shrank while it was being copied")
        done += n
    rest = Span(span.fd, span.offset + done, span.length - done)
    for block in span_blocks(rest) if rest.length else ():
        view = memoryview(block)
        while view:
            view = view[os.write(fd, view) :]
