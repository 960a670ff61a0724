"""C decoders run in a worker process with time and memory limits.

Pillow, libheif, libavif and libtiff decode files that come from anywhere. A segfault, a
hang or a runaway allocation in one of them must cost that one file, not the daemon. So
every decode goes to a worker process (started on first use, stopped when idle) that
has an address-space limit; a call that does not answer in time gets the worker killed.
Either way the file is refused with a reason and the next call starts a fresh worker.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import logging
import queue
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

from safeshare import errors
from safeshare.errors import CorruptImage, SafeshareError

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_SECONDS = 30.0  # a worker with nothing to do exits, so the idle daemon stays small
IDLE_EXIT = 75  # the exit status of a worker that left idle, without reading any request


def _serve(connection: Connection, memory_mb: int, nice: int, idle: float) -> None:
    """The worker: run (module, function, args) requests until told to stop. It gets
    `memory_mb` of address space beyond what it holds as it starts (its interpreter and
    modules, spawned or forked alike), or less where the user's own limit (ulimit -v) says."""
    import os
    import resource

    from safeshare.forkstart import address_space

    global _pool
    _pool = None  # forked: the parent's pool (its pipes are closed here) is not this worker's
    if nice:
        os.nice(nice)  # below cleaning: the vision worker must not slow a burst down
    held = address_space()
    limit = held + (memory_mb << 20)
    for given in resource.getrlimit(resource.RLIMIT_AS):
        if given != resource.RLIM_INFINITY:
            limit = min(limit, given)  # a user's own lower limit, soft or hard, stands
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    allowed = max(0, limit - held) >> 20
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    while True:
        try:
            if not connection.poll(idle):
                raise SystemExit(IDLE_EXIT)
            request = connection.recv()
        except (EOFError, OSError):
            return  # the parent is gone (it exited or closed the pipe): so is our work
        if request is None:
            return
        module, name, args = request
        try:
            result = getattr(importlib.import_module(module), name)(*args)
        except SafeshareError as exc:
            connection.send(("error", type(exc).__name__, str(exc)))
        except MemoryError:
            connection.send(("error", "TooLarge", f"decoding needs more than the {allowed} MB allowed"))
        except Exception as exc:  # noqa: BLE001 - a decoder's own exception: the file is the problem
            connection.send(("error", "CorruptImage", f"the decoder failed ({type(exc).__name__})"))
        else:
            connection.send(("ok", result))


class _Worker:
    """One worker process and its pipe; started on first use, replaced after a crash."""

    def __init__(self, memory_mb: int, nice: int = 0, idle: float = IDLE_SECONDS, baseline: int = 0) -> None:
        self.memory_mb = memory_mb
        self.nice = nice
        self.idle = idle
        self.baseline = baseline  # this process's resident memory before it read any file
        self.process: Any = None
        self.connection: Connection | None = None
        self.busy = False  # a request was sent and its answer not read (a stop kills it)

    def call(self, request: tuple[str, str, tuple[Any, ...]], timeout: float) -> Any:
        for attempt in (1, 2):
            connection = self.start()
            try:
                self.busy = True
                connection.send(request)
                if not connection.poll(timeout):
                    self.kill()
                    raise CorruptImage(f"decoding took longer than {timeout:g} s")
                answer = connection.recv()
                self.busy = False
                return answer
            except (EOFError, ConnectionError, BrokenPipeError) as exc:
                code = self.reap()
                if code == IDLE_EXIT and attempt == 1:
                    continue  # it went idle as the request arrived, unread: a fresh worker takes it
                raise CorruptImage(f"the image decoder crashed on this file ({describe_exit(code)})") from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    def start(self) -> Connection:
        if self.process is not None and self.process.is_alive() and self.connection is not None:
            return self.connection
        self.reap()
        from safeshare import forkstart  # imported here: most files never need a decoder

        if forkstart.possible(self.baseline):  # a few ms instead of a fresh interpreter's 60-100 ms
            self.process, self.connection = forkstart.start(_serve, self.memory_mb, self.nice, self.idle)
            return self.connection
        import multiprocessing

        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        process = context.Process(
            target=_serve,
            args=(child, self.memory_mb, self.nice, self.idle),
            name="safeshare-decoder",
            daemon=True,
        )
        process.start()
        child.close()
        self.process, self.connection = process, parent
        return parent

    def kill(self) -> None:
        process = self.process
        if process is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.kill()
        self.reap()

    def end_now(self) -> None:
        """Kill the process from another thread; the thread using it reaps it."""
        process = self.process
        if process is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.kill()

    def reap(self) -> int | None:
        # Taken once: a stop on another thread may reap the same worker at the same time.
        process, connection = self.process, self.connection
        self.process = self.connection = None
        code = None
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():  # it did not leave when asked: it is not left running
                with contextlib.suppress(OSError, ValueError, AttributeError):
                    process.kill()
                process.join(timeout=1)
            code = process.exitcode
        if connection is not None:
            with contextlib.suppress(OSError):
                connection.close()
        return code

    def stop(self) -> None:
        if self.busy:  # cut short mid-decode (Ctrl-C): nobody waits for its answer
            self.busy = False
            self.kill()
            return
        if self.connection is not None:
            with contextlib.suppress(OSError, ValueError):  # it may be gone already
                self.connection.send(None)
        self.reap()


class DecoderPool:
    """`size` worker processes; each call takes a free one (the daemon uses one, a batch two)."""

    def __init__(
        self,
        timeout: float = 60.0,
        memory_mb: int = 2048,
        size: int = 1,
        nice: int = 0,
        idle: float = IDLE_SECONDS,
    ) -> None:
        from safeshare.forkstart import resident

        self.timeout = timeout
        self.memory_mb = memory_mb
        baseline = resident()  # made before any file is read (`configure`, `forked`)
        self._workers = [_Worker(memory_mb, nice, idle, baseline) for _ in range(max(1, size))]
        self._free: queue.Queue[_Worker] = queue.Queue()
        for worker in self._workers:
            self._free.put(worker)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in a worker; SafeshareError subclasses come back as such."""
        worker = self._free.get()
        try:
            answer = worker.call((function.__module__, function.__name__, args), self.timeout)
        finally:
            self._free.put(worker)
        if answer[0] == "ok":
            result: T = answer[1]
            return result
        raise _rebuild(answer[1], answer[2])

    def prestart(self) -> None:
        """Start the workers now, in the background, so the first decode does not wait."""
        for worker in self._workers:
            worker.start()

    def worker_pid(self) -> int | None:
        return next((w.process.pid for w in self._workers if w.process is not None), None)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()

    def kill(self) -> None:
        """Stop at once, mid-decode (the daemon is stopping and will not wait for the file)."""
        for worker in self._workers:
            worker.end_now()


def describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return "exit status unknown" if code is None else f"exit status {code}"


def _rebuild(kind: str, message: str) -> SafeshareError:
    cls = getattr(errors, kind, CorruptImage)
    if not (isinstance(cls, type) and issubclass(cls, SafeshareError)):
        cls = CorruptImage
    error: SafeshareError = cls(message)
    return error


_pool: DecoderPool | None = None
_pool_lock = threading.Lock()


def pool() -> DecoderPool:
    """The process-wide pool (configured by `configure`, else with defaults)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = DecoderPool()
            atexit.register(_pool.close)
        return _pool


def forked() -> None:
    """In a process just forked from one that may have started decoders: those are the
    parent's (their pipes too), so this process gets a pool of its own, same limits."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool = DecoderPool(_pool.timeout, _pool.memory_mb, 1)
            atexit.register(_pool.close)


def configure(timeout: float, memory_mb: int, size: int = 1) -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = DecoderPool(timeout, memory_mb, size)
        atexit.register(_pool.close)
