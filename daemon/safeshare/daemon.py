"""`safeshare run`: observer + settle thread + one worker, catching every new image once.

Threads: the watchdog observer turns OS events into `Settler.touch`; the settle thread
hands complete files to a queue; one worker cleans them through the same pipeline as
`safeshare clean` and records them in the ledger; a housekeeping thread re-checks the
watched folders (missing, deleted, recreated) and rescans now and then for events the OS
dropped. SIGTERM/SIGINT stop it within about two seconds: the worker gets that long to finish its
current file; a file cut short is left as an intent in the ledger and a hidden temp file,
both picked up at the next start. Things the user must know that are not about one file
(the ledger was replaced, a watched folder is a link, watches ran out) go to `notice`.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from safeshare import folders as folders_mod
from safeshare import instance, isolation, paths
from safeshare.announce import Announcer, Inform
from safeshare.batch import pipeline_settings
from safeshare.catchup import CatchUp
from safeshare.config import Config
from safeshare.errors import ConfigError
from safeshare.folders import Folders
from safeshare.handling import FileHandler, OnResult
from safeshare.ledger import Ledger, open_ledger
from safeshare.openfiles import write_check
from safeshare.outdir import OutputFolder, remove_stale_temp_files
from safeshare.pipeline import Pipeline
from safeshare.settle import Settler
from safeshare.vision.later import LookLater
from safeshare.vision.step import VisionStep
from safeshare.watcher import EventFilter
from safeshare.watchlimits import make_observer

log = logging.getLogger(__name__)


BUSY_HORIZON = 5.0  # seconds: a file due sooner keeps looking at pictures waiting
STOP_GRACE = 1.5  # seconds the worker gets to finish its file once asked to stop
Notice = Callable[[str, str], None]  # (title, body): said to the user once


def cleaning_waits(waiting: queue.Queue[Path | None], settler: Settler) -> bool:
    """Files are waiting to be cleaned now or within seconds (so looking at pictures waits).
    A retry minutes away (an output that could not be written) does not hold reports back."""
    return waiting.qsize() > 0 or settler.pending_count(due_within=BUSY_HORIZON) > 0


class Daemon:
    def __init__(
        self,
        config: Config,
        state_dir: Path | None = None,
        on_result: OnResult | None = None,
        notice: Notice | None = None,
        on_seen: OnResult | None = None,
        inform: Inform | None = None,
    ) -> None:
        self.config = config
        self.state_dir = state_dir or paths.state_dir()
        self.output = Path(os.path.realpath(config.output))
        for watch in config.watch:
            watched = Path(os.path.realpath(watch.path))
            if watched == self.output or watched.is_relative_to(self.output):
                raise ConfigError(
                    f"{config.source or 'defaults'}: {watch.path} is the output folder or inside it; "
                    "it cannot be watched (its pictures would never be cleaned)"
                )
        # on_result: every file's outcome, at once; on_seen: a published file once the vision
        # step has looked at it (its result said `looking`), or was stopped before it could.
        self.on_result = on_result or (lambda result: None)
        self.on_seen = on_seen or (lambda result: None)
        self.notice = notice or (lambda title, body: None)
        self.notices: list[str] = []  # what was said, for `safeshare status`
        self.announce = Announcer(self.state_dir, inform or (lambda title, body: True))  # news
        self.vision = VisionStep.if_available(config.vision, config.clean.max_pixels)
        settings = replace(
            pipeline_settings(config.clean, None, None),
            workers_read_path=False,
            digest=True,
            overlap=True,
        )
        self.pipeline = Pipeline(settings, self.vision)
        self.out = OutputFolder(self.output)
        self.look_later: LookLater | None = None
        self.stop_event = threading.Event()
        self.queue: queue.Queue[Path | None] = queue.Queue()
        self.settler = Settler(config.daemon.settle_seconds, self.queue.put, being_written=write_check())
        self.catchup = CatchUp(self.settler, self.output, config.daemon.first_start)
        handler = EventFilter(
            self.settler.touch, self._gone, self.catchup.new_folder, self.output, moved=self._moved
        )
        self.observer = make_observer(timeout=5)
        self.folders = Folders(
            config.watch,
            self.observer,
            handler,
            notice=lambda text: self._say("A watched folder changed", text),
            poll_seconds=folders_mod.POLL_SECONDS,
        )
        self.catchup.folders = self.folders
        self.ledger: Ledger | None = None
        self.handler: FileHandler | None = None
        self.started = time.time()

    # -- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        """Block until stopped; 0 on a clean stop. Raises instance.AlreadyRunning."""
        lock = instance.InstanceLock(self.state_dir)
        lock.acquire()
        try:
            self.ledger, _ = open_ledger(self.state_dir / "ledger.sqlite3", on_notice=self._ledger_replaced)
            self.catchup.ledger = self.ledger
            if self.vision is not None and not self.vision.redacts:
                self.look_later = LookLater(self.vision, self.cleaning_soon, self.on_seen)
            self.handler = FileHandler(
                self.pipeline,
                self.ledger,
                self.folders,
                self.settler,
                self.out,
                self.on_result,
                self.look_later,
                self.stop_event,
            )
            self.announce.attach(self.ledger, self.handler, self.settler)
            self._install_signals()
            remove_stale_temp_files(self.output)
            self._resume_unfinished()
            self.observer.start()
            self.folders.check(self.catchup.at_start)
            cleaning = self.config.daemon.first_start == "clean"
            self.announce.first_start(self.folders.folders, self.output, self.catchup.baselined, cleaning)
            self.announce.check()  # a pause in force is said at every start
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
            deadline = time.monotonic() + STOP_GRACE
            for thread in threads:  # daemon threads: one still busy past the grace ends with us
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
            self.observer.join(timeout=max(0.1, deadline - time.monotonic()))
            if self._worker_busy():  # still on its file: the decoders are ended, not awaited
                log.info("stopping without finishing the current file; it is resumed at the next start")
                if self.handler is not None:
                    self.handler.note_stop()
                isolation.pool().kill()
                if self.vision is not None:
                    self.vision.pool.kill()
            if self.look_later is not None:
                self.look_later.stop()
            elif self.vision is not None:
                self.vision.close()
            return 0
        finally:
            if self.ledger is not None and not self._worker_busy():
                self.ledger.close()  # a worker still busy past the grace keeps it until exit
                self.out.close()
            lock.release()

    def stop(self) -> None:
        self.stop_event.set()

    def _worker_busy(self) -> bool:
        return any(t.is_alive() for t in threading.enumerate() if t.name == "worker")

    def _ledger_replaced(self, text: str) -> None:
        """At start or later: the new ledger knows no folder, so the pictures already there
        are noted as on a first start (with `first_start = "baseline"`), not copied twice."""
        if self.config.daemon.first_start == "baseline":
            text += (
                " Pictures already in the watched folders are noted, not cleaned again;"
                " use `safeshare clean` for any you need."
            )
            if self.ledger is not None:  # while running (at start the first scan baselines)
                self.catchup.rebaseline.set()  # by housekeeping, not inside the ledger call
        self._say("safeshare's ledger was damaged", text)

    def _say(self, title: str, body: str) -> None:
        """Tell the user something that is not about one file, once: notification and status."""
        log.warning("%s: %s", title, body)
        self.notices.append(f"{title}: {body}")
        self._write_state()
        self.notice(title, body)

    def cleaning_soon(self) -> bool:  # a file is being cleaned or due within seconds
        working = self.handler is not None and self.handler.current is not None
        return working or cleaning_waits(self.queue, self.settler)

    def _gone(self, path: Path) -> None:
        """Deleted or moved away: its copy is no longer its to replace (a new photo by that name
        gets a name of its own)."""
        self.settler.forget(path)
        if self.handler is not None:
            self.handler.released.add(path)

    def _moved(self, source: Path, target: Path) -> None:
        """Renamed (a photo, or an album folder): already handled there is handled here."""
        if self.handler is not None:
            self.handler.moves.note(source, target)

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.stop())

    # -- folders -----------------------------------------------------------------------------
    def _housekeeping(self) -> None:
        """Folder checks; scans of folders not watched live (watch limit reached) every
        `poll_seconds`; the periodic rescan of every folder for events the OS dropped."""
        every = min(self.config.daemon.folder_check_seconds, self.folders.poll_seconds)
        rescan = self.config.daemon.rescan_minutes * 60
        last_rescan = last_poll = time.monotonic()
        while not self.stop_event.wait(every):
            try:
                last_rescan, last_poll = self._housekeep(rescan, last_rescan, last_poll)
            except Exception:  # housekeeping outlives any error: logged, tried at the next tick
                log.exception("housekeeping failed; it goes on at the next check")

    def _housekeep(self, rescan: float, last_rescan: float, last_poll: float) -> tuple[float, float]:
        """One round; returns when the last rescan and the last poll were."""
        assert self.ledger is not None
        if self.ledger.gone_from_disk():
            self.ledger.reopen()
            path = self.ledger.path
            self._ledger_replaced(
                f"The ledger {path} was deleted or replaced while running; a new one was started."
            )
        self.catchup.waiting(self.folders.folders)
        self.announce.check()
        if self.folders.check(self.catchup.later):
            self._write_state()
        now = time.monotonic()
        if now - last_poll >= self.folders.poll_seconds:
            last_poll = now
            for folder in self.folders.polled():
                self.catchup.scan(folder)
        if rescan and now - last_rescan >= rescan:
            last_rescan = now
            for folder in self.folders.folders:
                if folder.active:
                    self.catchup.scan(folder)
        return last_rescan, last_poll

    def _write_state(self) -> None:
        state = {
            "pid": os.getpid(),
            "started": self.started,
            "config": str(self.config.source or ""),
            "output": str(self.config.output),
            "watches": [f.describe() for f in self.folders.folders],
            "notices": self.notices[-10:],
            "ledger": self.ledger.health() if self.ledger is not None else "not open",
        }
        try:
            instance.write_state(self.state_dir, state)
        except OSError as exc:
            log.warning("cannot write %s: %s", self.state_dir, exc.strerror)

    def _resume_unfinished(self) -> None:
        """Files cut short by a stop or a crash, and retries that were still due."""
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
