"""Ctrl-C (and SIGTERM, SIGHUP: a closed terminal) during a batch, taken between files.

A signal that lands in the middle of a file (a descriptor received but not yet stored, a
copy renamed but not yet reported) would leave a temp file behind or a copy unreported.
So while a batch runs, the first such signal is noted and raised as KeyboardInterrupt only
at a safe point: while waiting (for a worker, a thread, the next reply), or between files
(`check`). A second signal is raised at once: the user who presses Ctrl-C twice wants out
now, even at the cost of a temp file (removed by the next daemon start).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))


class Deferred:
    def __init__(self) -> None:
        self.received = 0
        self.waiting = 0  # inside `safe_point`: raising here loses nothing

    def _handler(self, signum: int, frame: FrameType | None) -> None:
        self.received += 1
        if self.waiting or self.received > 1:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.received:
            raise KeyboardInterrupt


_current: Deferred | None = None


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Signals deferred for the duration (only from the main thread, which receives them;
    elsewhere, and when already deferred, nothing changes)."""
    global _current
    if _current is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    state = Deferred()
    before = {number: signal.signal(number, state._handler) for number in SIGNALS}
    _current = state
    try:
        yield
    finally:
        _current = None
        for number, handler in before.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def safe_point() -> Iterator[None]:
    """A wait that a deferred signal may interrupt."""
    state = _current
    if state is None:
        yield
        return
    state.check()
    state.waiting += 1
    try:
        yield
    finally:
        state.waiting -= 1


def check() -> None:
    """Between files: raise the signal that came meanwhile, if any."""
    if _current is not None:
        _current.check()
