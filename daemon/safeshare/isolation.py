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
import multiprocessing
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from safeshare import errors
from safeshare.errors import CorruptImage, SafeshareError

log = logging.getLogger(__name__)
T = TypeVar("T")
IDLE_SECONDS = 30.0  # a worker with nothing to do exits, so the idle daemon stays small


def _serve(connection: Connection, memory_mb: int) -> None:
    """The worker: run (module, function, args) requests until told to stop."""
    import resource

    limit = memory_mb << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    while True:
        if not connection.poll(IDLE_SECONDS):
            return
        request = connection.recv()
        if request is None:
            return
        module, name, args = request
        try:
            result = getattr(importlib.import_module(module), name)(*args)
        except SafeshareError as exc:
            connection.send(("error", type(exc).__name__, str(exc)))
        except MemoryError:
            connection.send(("error", "TooLarge", f"decoding needs more than the {memory_mb} MB allowed"))
        except Exception as exc:  # noqa: BLE001 - a decoder's own exception: the file is the problem
            connection.send(("error", "CorruptImage", f"the decoder failed ({type(exc).__name__})"))
        else:
            connection.send(("ok", result))


class DecoderPool:
    """One worker process at a time; calls are serialized (the daemon has one worker thread)."""

    def __init__(self, timeout: float = 60.0, memory_mb: int = 2048) -> None:
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._context = multiprocessing.get_context("spawn")
        self._process: Any = None
        self._connection: Connection | None = None
        self._lock = threading.Lock()

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """`function(*args)` in the worker; SafeshareError subclasses come back as such."""
        with self._lock:
            connection = self._ensure_worker()
            try:
                connection.send((function.__module__, function.__name__, args))
                if not connection.poll(self.timeout):
                    self._kill()
                    raise CorruptImage(f"decoding took longer than {self.timeout:g} s")
                answer = connection.recv()
            except (EOFError, ConnectionError, BrokenPipeError) as exc:
                code = self._reap()
                raise CorruptImage(
                    f"the image decoder crashed on this file ({_describe_exit(code)})"
                ) from exc
        if answer[0] == "ok":
            result: T = answer[1]
            return result
        raise _rebuild(answer[1], answer[2])

    def _ensure_worker(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._connection is not None:
            return self._connection
        self._reap()
        parent, child = self._context.Pipe()
        process = self._context.Process(
            target=_serve, args=(child, self.memory_mb), name="safeshare-decoder", daemon=True
        )
        process.start()
        child.close()
        self._process, self._connection = process, parent
        return parent

    def _kill(self) -> None:
        if self._process is not None:
            self._process.kill()
        self._reap()

    def _reap(self) -> int | None:
        code = None
        if self._process is not None:
            self._process.join(timeout=5)
            code = self._process.exitcode
        if self._connection is not None:
            self._connection.close()
        self._process = self._connection = None
        return code

    def worker_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                with contextlib.suppress(OSError, ValueError):  # it may be gone already
                    self._connection.send(None)
            self._reap()


def _describe_exit(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


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


def configure(timeout: float, memory_mb: int) -> None:
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.close()
        _pool = DecoderPool(timeout, memory_mb)
        atexit.register(_pool.close)
