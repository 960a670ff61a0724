"""A decoder worker started by forking this process, where that is safe and light.

A fresh interpreter (multiprocessing's spawn) takes 60-100 ms and a core to start and to
import Pillow again; a fork takes a few milliseconds and already holds every module. So
where nothing can be half-way through its work in the child (Linux, one thread in the
whole process, C libraries' threads included: a `clean` batch, its worker processes) and
this process holds little in memory beyond its modules (`light`: not a big file it is
working on, which the child would keep alive), the decoder is forked; elsewhere (the
daemon, whose observer threads run) it is spawned as before.

The child keeps only its end of the pipe and the standard streams: every other descriptor
is closed at once, so it holds no staged copy, lock or socket of ours, and it dies with
us (PR_SET_PDEATHSIG). What goes wrong in it before it serves is written to stderr.
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

Serve = Callable[..., None]  # (connection, memory_mb, nice, idle)
HEADROOM = 64 << 20  # bytes a process may hold beyond its modules and still fork a decoder


def single_threaded() -> bool:
    """Forking now cannot copy another thread's half-done work (locks held, buffers): Linux,
    and one thread, counted by the kernel (a C library's threads are invisible to Python)."""
    if not sys.platform.startswith("linux") or threading.active_count() != 1:
        return False
    try:
        return sum(1 for _ in Path("/proc/self/task").iterdir()) == 1
    except OSError:
        return False


def light(baseline: int) -> bool:
    """This process holds at most `HEADROOM` more memory than `baseline` (its resident
    bytes before it read any file): a forked child would not keep a big input alive.
    Resident, not address space: a thread that came and went leaves 64 MB of the latter
    reserved (its malloc arena), and none of it in memory."""
    return resident() - baseline <= HEADROOM


def possible(baseline: int) -> bool:
    return single_threaded() and light(baseline)


class ForkedProcess:
    """The parts of `multiprocessing.Process` the decoder pool uses, for a forked child."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.exitcode: int | None = None
        self._reaped = False

    def _poll(self) -> bool:
        """True once the child has ended (and was reaped here)."""
        if self._reaped:
            return True
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped elsewhere: gone, its status unknown
            self._reaped = True
            return True
        if pid:
            self.exitcode = os.waitstatus_to_exitcode(status)
            self._reaped = True
        return self._reaped

    def is_alive(self) -> bool:
        return not self._poll()

    def kill(self) -> None:
        if not self._poll():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self._poll() and time.monotonic() < deadline:
            time.sleep(0.001)


def start(serve: Serve, memory_mb: int, nice: int, idle: float) -> tuple[ForkedProcess, Connection]:
    """Fork a worker running `serve(connection, memory_mb, nice, idle)`."""
    from multiprocessing.connection import Pipe

    ours, theirs = Pipe()
    parent = os.getpid()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # the child must not write our buffered output again
    pid = os.fork()
    if pid == 0:  # the worker: it never returns into our code
        code = 0
        try:
            _settle_child(theirs.fileno(), parent)
            serve(theirs, memory_mb, nice, idle)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - whatever happens, this process must not return
            code = 70
            with contextlib.suppress(BaseException):  # the parent only sees the exit status
                import traceback

                os.write(2, traceback.format_exc().encode(errors="replace"))
        finally:
            os._exit(code)
    theirs.close()
    return ForkedProcess(pid), ours


def _settle_child(keep: int, parent: int) -> None:
    gc.freeze()  # the parent's objects are never collected here (their finalizers are not ours)
    for number in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(0)  # the parent died as we were forked: nobody will ask for anything
    os.closerange(3, keep)
    os.closerange(keep + 1, 1 << 20)


def resident() -> int:
    """Bytes of this process's memory that are in RAM now."""
    return _statm(1)


def address_space() -> int:
    """Bytes of address space this process holds now (what a forked child inherits)."""
    return _statm(0)


def _statm(field: int) -> int:
    try:
        pages = Path("/proc/self/statm").read_bytes().split()[field]
        return int(pages) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0  # not Linux: nothing is forked there, and no limit counts from it
