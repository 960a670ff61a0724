"""The daemon's notifications: one per file, one per burst, never a storm, never a crash.

Results are collected until the folders have been quiet for `burst_seconds` (a camera
import of 300 photos becomes one summary); then one message goes to the first backend
that delivers. A backend that fails is logged once and the next one is tried; when none
works, that is logged once and the daemon goes on cleaning.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from safeshare.config import NotifyConfig
from safeshare.messages import Message, PlaceLookup, fit, for_burst, for_file
from safeshare.notify_backends import Backend, DeliveryError, backends_for_this_os
from safeshare.pipeline import Result

log = logging.getLogger(__name__)
MAX_WAIT = 15.0  # a burst that keeps going is still reported at least this often


class Notifier:
    def __init__(
        self,
        settings: NotifyConfig,
        output: Path,
        backends: list[Backend] | None = None,
        place: PlaceLookup | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.output = output
        self.backends = backends if backends is not None else backends_for_this_os()
        self.place = place
        self.clock = clock
        self._pending: list[Result] = []
        self._first = self._last = 0.0
        self._cond = threading.Condition()
        self._closed = False
        self._reported: set[str] = set()  # failures already logged: each is logged once
        self._all_failed_logged = False
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        self._thread.start()

    def file_done(self, result: Result) -> None:
        """Called by the daemon for every finished file (from its worker thread)."""
        if self.settings.when == "never" or (self.settings.when == "errors" and result.ok):
            return
        with self._cond:
            now = self.clock()
            if not self._pending:
                self._first = now
            self._pending.append(result)
            self._last = now
            self._cond.notify()

    def notice(self, title: str, body: str) -> None:
        """Something the user must know that is not about one file (said at once, always:
        it says that a promise cannot be kept, e.g. a watched folder is not watched)."""
        if self.settings.when != "never":
            self.deliver(Message(title, body, error=True))

    def close(self) -> None:
        """Send what is still pending, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=2 * len(self.backends) * 10 + 5)

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            if batch:
                self.deliver(self.compose(batch))

    def _next_batch(self) -> list[Result] | None:
        with self._cond:
            while True:
                if self._pending:
                    quiet_until = self._last + self.settings.burst_seconds
                    due = min(quiet_until, self._first + MAX_WAIT)
                    wait = due - self.clock()
                    if wait <= 0 or self._closed:
                        batch, self._pending = self._pending, []
                        return batch
                    self._cond.wait(wait)
                elif self._closed:
                    return None
                else:
                    self._cond.wait()

    def compose(self, batch: list[Result]) -> Message:
        if len(batch) == 1:
            return for_file(batch[0], self.settings.detail, self.place)
        return for_burst(batch, self.output)

    def deliver(self, message: Message) -> bool:
        """Try the backends in order; True when one showed the message."""
        for backend in self.backends:
            title, body = fit(message.title, backend.title_max), fit(message.body, backend.body_max)
            try:
                backend.send(title, body, message.error)
            except DeliveryError as exc:
                self._log_once(f"{backend.name}: {exc}", logging.INFO)
                continue
            self._all_failed_logged = False
            return True
        if not self._all_failed_logged:
            log.warning(
                "notifications cannot be shown (%s); cleaning goes on", "; ".join(sorted(self._reported))
            )
            self._all_failed_logged = True
        return False

    def _log_once(self, text: str, level: int) -> None:
        if text not in self._reported:
            self._reported.add(text)
            log.log(level, "notification not shown via %s", text)
