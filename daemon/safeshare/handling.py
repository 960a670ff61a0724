"""What happens to one complete file in the daemon, top to bottom:

    begin       the intent is recorded before the file is read ('working'), so a file that
                crashes safeshare is not tried forever; while paused, only noted ('paused')
    prepare     read beneath the watched folder (never through a link), clean in memory
    duplicate?  same content and settings as a copy still in the output folder: not again
    stage       write and verify the copy in the pinned output folder
    claim       pick the output name (the ledger owns names) and record it
    publish     give the copy its name
    decide      one Disposition (`decision.decide`), acted on in one place (`_act`): recorded,
                rescheduled, reported

This is the only code that touches the ledger and the retry schedule for a file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import ownership
from safeshare.catchup import Moves
from safeshare.decision import RETRY_DELAYS, Attempt, decide, logged, repeated
from safeshare.disposition import Disposition
from safeshare.errors import InputError, SafeshareError
from safeshare.fileio import Opener, reachable_mode
from safeshare.folders import Folders
from safeshare.ledger import Ledger, LedgerError
from safeshare.naming import numbered
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Ready, Result, Status, stopped
from safeshare.safepath import open_file_beneath
from safeshare.settle import Settler

if TYPE_CHECKING:
    from safeshare.vision.later import LookLater

log = logging.getLogger(__name__)
OUTPUT_RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)  # output unwritable: disk full, gone
LEDGER_RETRY = 10.0  # the ledger is busy (another process holds it) or being replaced
INTERRUPTED = "interrupted once"  # the reason a 'working' row gets when it is resumed
STOPPED = "stopped by the user"  # a stop (SIGTERM) cut it short: not the file's fault
# Outcomes of an attempt that wrote nothing: the file's earlier copy (if any) stays its own,
# so that the next good version replaces it instead of landing beside it as "name (2)".
KEEPS_COPY = frozenset(
    {Disposition.RETRY_INPUT, Disposition.RETRY_OUTPUT, Disposition.REFUSED, Disposition.FAILED}
)
OnResult = Callable[[Result], None]


class FileHandler:
    def __init__(
        self,
        pipeline: Pipeline,
        ledger: Ledger,
        folders: Folders,
        settler: Settler,
        output: OutputFolder,
        on_result: OnResult,
        look_later: LookLater | None = None,
        stopping: threading.Event | None = None,
    ) -> None:
        self.pipeline = pipeline
        # Once set, an attempt cut short by the stop (its decoder ended) is not recorded: the
        # file stays 'working' and is resumed at the next start.
        self.stopping = stopping or threading.Event()
        self.ledger, self.folders, self.settler, self.output = ledger, folders, settler, output
        self.on_result = on_result
        self.look_later = look_later  # clean copies are looked at (vision) after being reported
        self.tries: dict[Path, int] = {}  # attempts that found a file unfinished
        self.unfinished: dict[Path, tuple[int, int]] = {}  # its size and mtime then
        self.output_failures: dict[Path, int] = {}
        self.current: Path | None = None  # the file being handled (for `note_stop`)
        self.owned_at: dict[Path, float] = {}  # when the ledger last saw a file's own copy
        self.delayed: set[Path] = set()  # files a busy ledger held up (not crashes)
        # Files (or folders) deleted or moved away since their copy was published: a file that
        # appears at that path later is another photo, and the earlier copy is not its to replace.
        self.released: set[Path] = set()
        self.paused: Callable[[float], bool] = lambda landed: False  # `safeshare pause` (the daemon's)
        self.held: set[Path] = set()  # photos with a copy that changed while paused
        self.unreported: set[Path] = set()  # copies renamed into place, then a stop or crash
        self.moves = Moves()

    def process(self, path: Path) -> None:
        folder = self.folders.owner(path)
        if folder is None or path.is_relative_to(self.output.path):
            return
        try:
            st = os.lstat(path)
        except OSError:
            return
        if not stat.S_ISREG(st.st_mode):
            return
        try:
            if not self._begin(path, st):
                return
            pinned = folder.pinned

            def opener(path: Path) -> int:  # name by name from the pinned folder, never a link
                if pinned is None:
                    raise FileNotFoundError(f"{folder.config.path} is not there")
                return open_file_beneath(pinned, path)

            subfolder = Path(folder.config.label) if folder.config.label else Path()
            self.current = path
            attempt = self._attempt(path, st, opener, subfolder)
            if self.stopping.is_set():
                self.note_stop()  # cut short by the stop (or done just as it came): taken up again
            else:
                self._act(decide(attempt), attempt)
        except LedgerError as exc:
            # The ledger is busy or was just replaced: the file waits, it is never lost, and
            # its 'working' row does not count as the file having stopped safeshare.
            log.warning("%s waits: %s; trying again in %.0f s", path.name, exc, LEDGER_RETRY)
            self.delayed.add(path)
            self.settler.retry(path, LEDGER_RETRY)
        finally:
            self.current = None  # whatever ended it: a later stop is not noted on this file

    def _begin(self, path: Path, st: os.stat_result) -> bool:
        """Record the intent before reading; False when there is nothing to do: this exact
        file (same size and mtime) already has its outcome. A file found 'working' was being
        handled when safeshare stopped; one that stopped it twice is refused until it changes."""
        before = self.ledger.get(path)  # one read serves both questions
        known = before is not None and (before.size, before.mtime_ns) == (st.st_size, st.st_mtime_ns)
        if known and before is not None and before.outcome.final:
            return False
        origin = self.moves.origin(path)  # renamed within the watch: handled there is handled
        if before is None and origin and self.ledger.carry_over(origin, path, st.st_size, st.st_mtime_ns):
            return False
        if self.paused(st.st_ctime):  # noted as it is now: a later change is cleaned, this state never
            if before is None or before.output is None:
                self.ledger.record(path, Disposition.PAUSED, size=st.st_size, mtime_ns=st.st_mtime_ns)
            else:  # a photo with a copy keeps its row (and its copy's name): updated at the end
                self.held.add(path)
            log.info("%s arrived while paused: not cleaned", path.name)
            return False
        interrupted = (
            known
            and path not in self.delayed
            and before is not None
            and before.outcome is Disposition.WORKING
        )
        working = before is not None and before.outcome is Disposition.WORKING
        released = bool(self.released.intersection((path, *path.parents)))  # deleted: another photo
        happened, copy = ownership.split(before.reason) if before is not None and working else ("", "")
        copy = "" if released else copy  # a copy named before the deletion is not this photo's
        if before is not None and before.output is not None:
            # When our copy was last known to be ours: its publish (the row is written just
            # after), or, after a stop or crash, the working row's naming of it (`ownership`).
            if before.outcome is Disposition.PUBLISHED:
                self.owned_at.setdefault(path, before.at)
                if not released:  # the copy is still this photo's: it is named across a stop or crash
                    copy = ownership.published(before.output, before.at)
            elif working and copy:  # a stop or a crash came before the final row
                in_place = ownership.in_place(before.output, happened, copy, before.at)
                copy = ""  # carried on, exactly as it is now, only while it is there
                if in_place is not None:
                    owned_since, copy = in_place
                    self.owned_at.setdefault(path, owned_since)
                    if not copy.endswith(" said"):  # a first copy never said: "cleaned", not "updated"
                        self.unreported.add(path)
        self.delayed.discard(path)
        if interrupted and happened == INTERRUPTED:
            reason = "safeshare stopped twice while cleaning it; it is not tried again until it changes"
            self.ledger.record(
                path,
                Disposition.REFUSED,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
                output=before.output if before is not None else None,  # its copy's name stays its own
                reason=reason,
            )
            log.warning("refused %s: %s", path.name, reason)
            self.on_result(Result(path, Status.REFUSED, reason=reason, problem=InputError))
            return False
        self.ledger.record(
            path,
            Disposition.WORKING,
            size=st.st_size,
            mtime_ns=st.st_mtime_ns,
            output=before.output if before is not None else None,  # it still owns its copy's name
            # A stop, or a crash while publishing (parsing was over), is not the file's doing.
            reason=ownership.join(
                INTERRUPTED if interrupted and happened not in (STOPPED, ownership.PUBLISHING) else "", copy
            ),
            history=False,
        )
        return True

    def note_stop(self) -> None:
        """The daemon is stopping before the current file is done: when it is taken up again
        at the next start, that does not count as the file having stopped safeshare."""
        path = self.current
        if path is None:
            return
        record = self.ledger.get(path)
        if record is None or record.outcome is not Disposition.WORKING:
            return
        happened, copy = ownership.split(record.reason)
        # A 'publishing' row stays: its copy may be in place already (the stop came just
        # after the rename), and it names the very file that copy is.
        if happened != ownership.PUBLISHING:
            self.ledger.record(
                path,
                Disposition.WORKING,
                size=record.size,
                mtime_ns=record.mtime_ns,
                output=record.output,
                reason=ownership.join(STOPPED, copy),
                history=False,
            )

    def _attempt(self, path: Path, st: os.stat_result, opener: Opener, subfolder: Path) -> Attempt:
        tries = self.tries.get(path, 0)
        if tries and self.unfinished.get(path) != (st.st_size, st.st_mtime_ns):
            tries = min(tries, len(RETRY_DELAYS) - 1)  # still being written (a long copy): wait on
        prepared = self.pipeline.prepare(path, opener)
        # Same bytes and settings as a file already handled (a copy, a move, a touch): the
        # earlier outcome stands, a refusal included, and nothing is written twice.
        seen = self.ledger.content_seen(prepared.sha256, self.pipeline.key) if prepared.sha256 else None
        if seen is not None:
            if not isinstance(prepared, Result):
                prepared.src.release()  # a streamed video's file is open: closed now
            return Attempt(
                path, st.st_size, st.st_mtime_ns, repeated(path, prepared, seen), seen, tries, seen.sha256
            )
        if isinstance(prepared, Result):
            return Attempt(path, st.st_size, st.st_mtime_ns, prepared, tries=tries, sha256=prepared.sha256)
        size, mtime_ns = prepared.src.size, prepared.src.mtime_ns
        ready = prepared.stage(self.output, subfolder, reachable_mode(path, prepared.src.mode))
        if isinstance(ready, Result):
            return Attempt(path, size, mtime_ns, ready, tries=tries, sha256=prepared.sha256)
        return Attempt(
            path, size, mtime_ns, self._publish(ready, size, mtime_ns), None, tries, prepared.sha256
        )

    def _publish(self, ready: Ready, size: int, mtime_ns: int) -> Result:
        """Claim a name (a changed file replaces its own copy; another file's name gets
        'name (2).jpg'; a file nobody recorded is never replaced) and publish under it."""
        try:
            return self._claim_and_commit(ready, Path(ready.prepared.name), size, mtime_ns)
        except BaseException:
            ready.discard()  # no temp file (nor its folder's descriptor) is left behind
            raise

    def _claim_and_commit(self, ready: Ready, wanted: Path, size: int, mtime_ns: int) -> Result:
        source = ready.prepared.source
        candidate, n = wanted, 1
        while not self.stopping.is_set():  # stopping: nothing is published that is not recorded
            path = ready.folder / candidate.name
            owner = self.ledger.owner_of(path)
            ours = owner == source and not self.released.intersection((source, *source.parents))
            taken = ready.taken(candidate.name)
            if ours or (owner is None and not taken):
                reason = self._publishing(ready, candidate.name if ours and taken else None)
                self.ledger.record(
                    source,
                    Disposition.WORKING,
                    size=size,
                    mtime_ns=mtime_ns,
                    sha256=ready.prepared.sha256,
                    output=path,
                    reason=reason,
                    history=False,
                    timed_at_write=True,
                )
                # Our own copy is replaced only if nobody changed it since we wrote it.
                result = ready.commit(
                    candidate.name, replace=ours, owned_since=self._owned(source) if ours else None
                )
                if result is not None:
                    # an earlier copy of this file, one the user was told of, was replaced
                    result.updated = ours and taken and source not in self.unreported
                    self.released.discard(source)
                    return result
            n += 1
            candidate = numbered(wanted, n)
        ready.discard()
        return stopped(source, SafeshareError("safeshare was stopping"), ready.prepared.sha256)

    def _publishing(self, ready: Ready, earlier: str | None) -> str:
        """The row's reason just before the rename: the staged file, and the earlier copy at
        `earlier` it is to replace if that is still the copy (unchanged since it was ours)."""
        source = ready.prepared.source
        try:
            new = ready.staged.stat()
        except OSError:
            return f"{ownership.PUBLISHING} -"  # names no file: nothing is taken for the copy
        replaced = None
        with contextlib.suppress(OSError):
            st = ready.staged.stat(earlier) if earlier is not None else None
            if st is not None and stat.S_ISREG(st.st_mode) and st.st_ctime <= self._owned(source):
                replaced = st
        return ownership.publishing(new, replaced, said=source not in self.unreported)

    def _owned(self, source: Path) -> float:
        return self.owned_at.get(source, 0.0)

    def _act(self, disposition: Disposition, attempt: Attempt) -> None:
        path, result = attempt.path, attempt.result
        if disposition is Disposition.RETRY_INPUT:
            delay = RETRY_DELAYS[attempt.tries]
            self.tries[path] = attempt.tries + 1
            self.unfinished[path] = (attempt.size, attempt.mtime_ns)
            log.info("%s looks unfinished (%s); retrying in %.1f s", path.name, result.reason, delay)
            self._record(disposition, attempt, history=False)
            self.settler.retry(path, delay)
            return
        self.tries.pop(path, None)
        self.unfinished.pop(path, None)
        if disposition not in KEEPS_COPY:
            self.owned_at.pop(path, None)  # decided: the next change starts from the ledger's row
            self.unreported.discard(path)
        if disposition is Disposition.RETRY_OUTPUT:
            # Disk full, read-only or missing folder: try again later, less and less often,
            # and tell the user once, not at every attempt. (Logged before it is recorded:
            # whoever sees the outcome finds the reason in the log.)
            failures = self.output_failures.get(path, 0)
            self.output_failures[path] = failures + 1
            delay = OUTPUT_RETRY_DELAYS[min(failures, len(OUTPUT_RETRY_DELAYS) - 1)]
            log.warning("failed %s: %s; trying again in %.0f s", path.name, result.reason, delay)
            self._record(disposition, attempt, history=failures == 0)
            self.settler.retry(path, delay)
            if failures:
                return
        else:
            self.output_failures.pop(path, None)
            logged(disposition, attempt)
            self._record(disposition, attempt, history=disposition is not Disposition.DUPLICATE)
        if disposition is Disposition.SKIPPED:
            return  # videos, documents: noted, not nagged about
        result.disposition = disposition
        look = self.look_later is not None and disposition is Disposition.PUBLISHED and result.visible is None
        look = look and result.picture
        result.looking = look  # reported now; what it shows is reported once it was looked at
        self.on_result(result)
        if look and self.look_later is not None:
            self.look_later.submit(result)

    def _record(self, disposition: Disposition, attempt: Attempt, *, history: bool) -> None:
        result, seen = attempt.result, attempt.seen
        output = result.output if disposition is Disposition.PUBLISHED else None
        if disposition in KEEPS_COPY:  # this version failed: the copy of the last one stays its own
            before = self.ledger.get(attempt.path)
            output = before.output if before is not None else None
        self.ledger.record(
            attempt.path,
            disposition,
            size=attempt.size,
            mtime_ns=attempt.mtime_ns,
            sha256=attempt.sha256,
            # Only a file's own copy is recorded as its output: a duplicate owns no name.
            output=output,
            fmt=result.format,
            categories=seen.categories if seen is not None else result.findings.categories(),
            reason=result.reason,
            history=history,
            settings=self.pipeline.key,
        )
