"""The daemon's notifications: one per file, one per burst, never a storm, never a crash.

Results are collected until the folders have been quiet for `burst_seconds` and no file is
about to be cleaned (a camera import of 300 photos becomes one summary, however long it
takes; a stream that never stops is still summed up every MAX_WAIT). With the vision extra,
a published file is reported `looking`: a single photo's notification waits for its look
(one notification that says what it shows); a burst's summary goes at once, and what the
burst shows follows as at most one more notification, once all of it was looked at. Each
message goes to the first backend that delivers; a backend that fails is logged once and
the next one is tried; when none works, that is logged once and the daemon goes on.
`poll` decides what to say at a given time (tests call it with their own clock).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from safeshare.config import NotifyConfig
from safeshare.messages import Message, PlaceLookup, fit, for_burst, for_file, for_visible
from safeshare.notify_backends import Backend, DeliveryError, FreedesktopBackend, backends_for_this_os
from safeshare.pipeline import Result

log = logging.getLogger(__name__)
MAX_WAIT = 1800.0  # files that keep coming (a 300-photo redacted import) are summed up this often
BUSY_RECHECK = 0.5  # quiet but files about to be cleaned: asked again this soon
LOOK_WAIT = 120.0  # a single photo's notification waits at most this long for its look
LOOK_WAIT_EACH = 30.0  # and a burst's "what they show" this much more per photo


@dataclass
class _Looks:
    """Results whose looks are awaited: `single` holds back the file's one notification."""

    results: list[Result]
    single: bool
    deadline: float


def copies_of(results: list[Result]) -> tuple[Path, ...]:
    """The clean copies that exist for these results (a duplicate's is the earlier copy)."""
    found = (r.output or r.already for r in results if r.ok)
    return tuple(dict.fromkeys(p for p in found if p is not None))


class Notifier:
    def __init__(
        self,
        settings: NotifyConfig,
        output: Path,
        backends: list[Backend] | None = None,
        place: PlaceLookup | None = None,
        clock: Callable[[], float] = time.monotonic,
        start: bool = True,
    ) -> None:
        self.settings = settings
        self.output = output
        self.backends = backends if backends is not None else backends_for_this_os()
        for backend in self.backends:  # a button whose action failed says so
            if isinstance(backend, FreedesktopBackend):
                backend.failed = self.action_failed
        self.place = place
        self.clock = clock
        self.busy: Callable[[], bool] = lambda: False  # files about to be cleaned (the daemon's)
        self._pending: list[Result] = []
        self._first = self._last = 0.0
        self._looking: set[int] = set()  # results (by id) whose look is still to come
        self._groups: list[_Looks] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reported: set[str] = set()  # failures already logged: each is logged once
        self._all_failed_logged = False
        self._thread = threading.Thread(target=self._run, name="notify", daemon=True)
        if start:
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
            if result.looking:
                self._looking.add(id(result))
            self._cond.notify()

    def file_seen(self, result: Result) -> None:
        """Called once a `looking` result was looked at (its `visible` set) or given up on."""
        with self._cond:
            self._looking.discard(id(result))
            self._cond.notify()

    def notice(self, title: str, body: str) -> None:
        """Something the user must know that is not about one file (said at once, always:
        it says that a promise cannot be kept, e.g. a watched folder is not watched)."""
        if self.settings.when != "never":
            self.deliver(Message(title, body, error=True))

    def action_failed(self, title: str, body: str) -> None:
        """A notification's button could not do what it says (the copy was deleted...)."""
        if self.settings.when != "never":
            self.deliver(Message(title, body))

    def inform(self, title: str, body: str) -> bool:
        """News that is not a problem (what is watched at the first start, a pause), at
        normal urgency; not with `when = "errors"` or "never". False: it could not be shown
        (to be said again later)."""
        return self.settings.when != "all" or self.deliver(Message(title, body))

    def close(self) -> None:
        """Send what is still pending, then stop."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=2 * len(self.backends) * 10 + 5)
        for backend in self.backends:  # notifications whose buttons nobody answers now close
            backend.close()

    def _run(self) -> None:
        while True:
            with self._cond:
                closing = self._closed
                messages, wait = self._poll(closing)
                if not messages:
                    if closing and not self._pending and not self._groups:
                        return
                    self._cond.wait(wait)
                    continue
            for message in messages:
                self.deliver(message)

    def poll(self, closing: bool = False) -> tuple[list[Message], float | None]:
        """What is to be said now, and in how many seconds to ask again (None: when a file
        comes). `closing`: everything still held is said."""
        with self._cond:
            return self._poll(closing)

    def _poll(self, closing: bool) -> tuple[list[Message], float | None]:
        now, out = self.clock(), []
        if self._pending and (closing or self._burst_over(now)):
            batch, self._pending = self._pending, []
            # Every result that is looked at is said in the second message, whether its look
            # came before this summary or comes after it: one count for the whole burst.
            waiting = [r for r in batch if r.looking]
            if len(batch) == 1 and id(batch[0]) in self._looking:
                self._groups.append(_Looks(batch, True, now + LOOK_WAIT))
            elif len(batch) == 1:
                out.append(self.compose(batch))
            else:
                out.append(self.compose(batch))
                if waiting:
                    self._groups.append(
                        _Looks(waiting, False, now + LOOK_WAIT + LOOK_WAIT_EACH * len(waiting))
                    )
        for group in list(self._groups):
            if closing or now >= group.deadline or not any(id(r) in self._looking for r in group.results):
                self._groups.remove(group)
                self._looking.difference_update(id(r) for r in group.results)
                said = self.compose(group.results) if group.single else for_visible(group.results)
                out += [replace(said, copies=copies_of(group.results))] if said is not None else []
        waits = [g.deadline - now for g in self._groups]
        if self._pending:
            quiet = self._last + self.settings.burst_seconds
            waits.append(BUSY_RECHECK if now >= quiet else min(quiet, self._first + MAX_WAIT) - now)
        return out, max(0.01, min(waits)) if waits else None

    def _burst_over(self, now: float) -> bool:
        if now >= self._first + MAX_WAIT:
            return True
        return now >= self._last + self.settings.burst_seconds and not self.busy()

    def compose(self, batch: list[Result]) -> Message:
        """What is said about these results, with the clean copies its buttons act on."""
        said = for_file(batch[0], self.settings.detail, self.place) if len(batch) == 1 else None
        said = said or for_burst(batch, self.output)
        return replace(said, copies=copies_of(batch))

    def deliver(self, message: Message) -> bool:
        """Try the backends in order; True when one showed the message."""
        for backend in self.backends:
            title, body = fit(message.title, backend.title_max), fit(message.body, backend.body_max)
            try:
                backend.send(title, body, message.error, message.copies)
            except DeliveryError as exc:
                self._log_once(f"{backend.name}: {exc}", logging.INFO)
                continue
            except Exception as exc:  # noqa: BLE001 - a backend's bug must not end notifications
                self._log_once(f"{backend.name}: {type(exc).__name__}: {exc}", logging.WARNING)
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
