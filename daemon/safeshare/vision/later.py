"""The daemon looks at what pictures show after publishing them, when cleaning is idle.

A burst of photos is cleaned, published and reported first; then each clean copy is looked
at, one at a time, by the niced vision worker, and handed to `deliver` (the notifier says
what the burst shows in one more notification; a single photo's one notification waits for
its look). Looking never delays the clean copy of any file.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable

from safeshare.pipeline import Result
from safeshare.vision.step import VisionStep

log = logging.getLogger(__name__)


class LookLater:
    def __init__(self, step: VisionStep, busy: Callable[[], bool], deliver: Callable[[Result], None]) -> None:
        self.step = step
        self.busy = busy  # True while files are waiting to be cleaned
        self.deliver = deliver
        self._queue: queue.Queue[Result | None] = queue.Queue()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="vision", daemon=True)
        self._thread.start()

    def submit(self, result: Result) -> None:
        self._queue.put(result)

    def stop(self) -> None:
        """Report what is left without looking, then stop (a stop never drops a report)."""
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout=TIMEOUT_AT_STOP)
        self.step.close()

    def _run(self) -> None:
        while True:
            result = self._queue.get()
            if result is None:
                return
            while self.busy() and not self._stopping.is_set():
                time.sleep(0.2)  # cleaning first: a burst is published before anything is looked at
            if not self._stopping.is_set() and result.output is not None:
                try:
                    result.visible = self.step.analyze(result.output, findings=result.findings)
                except Exception:  # looking failed in a way not foreseen: still report the file
                    log.exception("could not look at what %s shows", result.source.name)
            try:
                self.deliver(result)
            except Exception:  # this thread outlives any single picture and report
                log.exception("cannot report %s", result.source.name)


TIMEOUT_AT_STOP = 150.0
