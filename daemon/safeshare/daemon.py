"""`safeshare run`: observer + settle thread + one worker, catching every new image once.

Threads: the watchdog observer turns OS events into `Settler.touch`; the settle thread
hands complete files to a queue; one worker cleans them through the same pipeline as
`safeshare clean` and records them in the ledger; a housekeeping thread re-checks the
watched folders (missing, deleted, recreated) and rescans now and then for events the OS
dropped. SIGTERM/SIGINT let the worker finish its current file, then everything stops.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from pathlib import Path

from watchdog.observers import Observer

from safeshare import instance, paths
from safeshare.batch import pipeline_settings
from safeshare.config import Config
from safeshare.errors import ConfigError
from safeshare.fileio import is_temp_name
from safeshare.folders import Folder, Folders, files_in
from safeshare.handling import FileHandler, OnResult
from safeshare.ledger import Ledger
from safeshare.pipeline import Pipeline
from safeshare.vision.later import LookLater
from safeshare.vision.step import VisionStep
from safeshare.watcher import EventFilter, Settler

log = logging.getLogger(__name__)


BUSY_HORIZON = 5.0  # seconds: a file due sooner keeps looking at pictures waiting


def cleaning_waits(waiting: queue.Queue[Path | None], settler: Settler) -> bool:
    """Files are waiting to be cleaned now or within seconds (so looking at pictures waits).
    A retry minutes away (an output that could not be written) does not hold reports back."""
    return waiting.qsize() > 0 or settler.pending_count(due_within=BUSY_HORIZON) > 0


class Daemon:
    def __init__(
        self, config: Config, state_dir: Path | None = None, on_result: OnResult | None = None
    ) -> None:
        self.config = config
        self.state_dir = state_dir or paths.state_dir()
        self.output = Path(os.path.realpath(config.output))
        for watch in config.watch:
            if Path(os.path.realpath(watch.path)) == self.output:
                raise ConfigError(
                    f"{config.source or 'defaults'}: the output folder {watch.path} cannot be watched"
                )
        self.on_result = on_result or (lambda result: None)
        self.vision = VisionStep.if_available(config.vision, config.clean.max_pixels)
        self.pipeline = Pipeline(pipeline_settings(config.clean, None, None), self.vision)
        self.look_later: LookLater | None = None
        self.stop_event = threading.Event()
        self.queue: queue.Queue[Path | None] = queue.Queue()
        self.settler = Settler(config.daemon.settle_seconds, self.queue.put)
        handler = EventFilter(self.settler.touch, self.settler.forget, self._new_folder, self.output)
        self.observer = Observer(timeout=5)
        self.folders = Folders(config.watch, self.observer, handler)
        self.ledger: Ledger | None = None
        self.handler: FileHandler | None = None
        self.started = time.time()

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        """Block until stopped; 0 on a clean stop. Raises instance.AlreadyRunning."""
        lock = instance.InstanceLock(self.state_dir)
        lock.acquire()
        try:
            self.ledger = Ledger(self.state_dir / "ledger.sqlite3")
            if self.vision is not None and not self.vision.redacts:
                self.look_later = LookLater(self.vision, self._busy, self.on_result)
            self.handler = FileHandler(
                self.pipeline,
                self.ledger,
                self.folders,
                self.settler,
                self.output,
                self.on_result,
                self.look_later,
            )
            self._install_signals()
            self._remove_stale_temp_files()
            self._resume_unfinished()
            self.observer.start()
            self.folders.check(self._appeared_at_start)
            self._write_state()
            threads = [
                threading.Thread(target=t, name=n, daemon=True)
                for t, n in (
                    (self.settler.run, "settle"),
                    (self._work, "worker"),
                    (self._housekeeping, "housekeeping"),
                )
            ]
            for thread in threads:
                thread.start()
            log.info("safeshare running; clean copies go to %s", self.config.output)
            self.stop_event.wait()
            log.info("stopping")
            self.observer.stop()
            self.settler.stop()
            self.queue.put(None)
            for thread in threads:
                thread.join(timeout=120)
            self.observer.join(timeout=10)
            if self.look_later is not None:
                self.look_later.stop()
            elif self.vision is not None:
                self.vision.close()
            return 0
        finally:
            if self.ledger is not None:
                self.ledger.close()
            lock.release()

    def stop(self) -> None:
        self.stop_event.set()

    def _busy(self) -> bool:
        return cleaning_waits(self.queue, self.settler)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.stop())

    # -- folders -----------------------------------------------------------------------------
    def _appeared_at_start(self, folder: Folder) -> None:
        assert self.ledger is not None
        if not self.ledger.is_baselined(folder.path) and self.config.daemon.first_start == "baseline":
            self._baseline(folder)
        else:
            self._scan(folder)
        self.ledger.mark_baselined(folder.path)

    def _appeared_later(self, folder: Folder) -> None:
        """A folder that (re)appears while running: whatever is in it arrived meanwhile."""
        assert self.ledger is not None
        self._scan(folder)
        self.ledger.mark_baselined(folder.path)

    def _baseline(self, folder: Folder) -> None:
        """First start: existing pictures are recorded, not mass-processed."""
        assert self.ledger is not None
        count = 0
        for entry in files_in(folder.path, folder.config.recursive, self.output):
            st = entry.stat(follow_symlinks=False)
            self.ledger.record(
                Path(entry.path), "baseline", size=st.st_size, mtime_ns=st.st_mtime_ns, history=False
            )
            count += 1
        log.info("first start: %d existing file(s) in %s recorded, not cleaned", count, folder.config.path)

    def _scan(self, folder: Folder) -> None:
        """Catch up: every file not yet in the ledger (or changed since) is looked at."""
        assert self.ledger is not None
        for entry in files_in(folder.path, folder.config.recursive, self.output):
            st = entry.stat(follow_symlinks=False)
            if not self.ledger.is_done(Path(entry.path), st.st_size, st.st_mtime_ns):
                self.settler.touch(Path(entry.path))

    def _new_folder(self, path: Path) -> None:
        """A folder created or moved into a recursive watch: its files may have no events."""
        folder = self.folders.owner(path / "x")
        if folder is not None and folder.config.recursive:
            for entry in files_in(path, True, self.output):
                self.settler.touch(Path(entry.path))

    def _housekeeping(self) -> None:
        every = self.config.daemon.folder_check_seconds
        rescan = self.config.daemon.rescan_minutes * 60
        last_rescan = time.monotonic()
        while not self.stop_event.wait(every):
            if self.folders.check(self._appeared_later):
                self._write_state()
            if rescan and time.monotonic() - last_rescan >= rescan:
                last_rescan = time.monotonic()
                for folder in self.folders.folders:
                    if folder.handle is not None:
                        self._scan(folder)

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "started": self.started,
            "config": str(self.config.source or ""),
            "output": str(self.config.output),
            "watches": [f.describe() for f in self.folders.folders],
        }
        try:
            instance.write_state(self.state_dir, state)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.state_dir, exc.strerror)

    def _remove_stale_temp_files(self) -> None:
        """Temp files left by a crash (the lock guarantees no other writer)."""
        if not self.output.is_dir():
            return
        for folder, _dirs, files in os.walk(self.output):
            for name in files:
                if is_temp_name(name):
                    Path(folder, name).unlink(missing_ok=True)

    def _resume_unfinished(self) -> None:
        assert self.ledger is not None
        for record in self.ledger.unfinished():
            self.settler.touch(record.path, complete=True)

    # -- work --------------------------------------------------------------------------------
    def _work(self) -> None:
        assert self.handler is not None
        while True:
            path = self.queue.get()
            if path is None or self.stop_event.is_set():
                return
            try:
                self.handler.process(path)
            except Exception:  # the daemon outlives any single file
                log.exception("unexpected error while handling %s", path.name)
