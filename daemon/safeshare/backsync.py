"""An fsync that runs while the caller goes on: a copy's data goes to disk while it is verified.

The temp file is fsynced on a short-lived thread of its own (os.fsync lets go of the
interpreter), through a descriptor of its own; `wait` returns once that fsync has returned
(an interrupted wait leaves it pending, never "done") and raises what the fsync raised. A
copy is never renamed before that: `Staged.commit` waits first, whoever calls it. Where no
thread can be started (a thread limit), the fsync is done at once instead.
"""

from __future__ import annotations

import os
import threading


class BackgroundSync:
    """fsync(`fd`) on a thread, then close `fd` (which this takes over)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._error: OSError | None = None
        self._done = threading.Event()  # set once the fsync returned and `fd` is closed
        try:
            threading.Thread(target=self._run, name="safeshare-fsync", daemon=True).start()
        except RuntimeError:  # can't start new thread: done here, now
            self._run()

    def _run(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            self._error = exc
        finally:
            os.close(self._fd)
            self._done.set()

    def wait(self) -> None:
        """Return once the data is on disk; OSError if it could not be put there."""
        while not self._done.wait(1.0):
            pass
        if self._error is not None:
            raise self._error
