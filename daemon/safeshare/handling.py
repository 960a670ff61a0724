"""What happens to one complete file in the daemon: checked against the ledger, cleaned
once per content, recorded, retried when it looks unfinished or its output cannot be
written, and reported (through `on_result`, the notifier)."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare.batch import IMAGE_SUFFIXES
from safeshare.folders import Folders
from safeshare.ledger import Ledger
from safeshare.naming import numbered
from safeshare.pipeline import Claim, Pipeline, Result, Status
from safeshare.watcher import Settler

if TYPE_CHECKING:
    from safeshare.vision.later import LookLater

log = logging.getLogger(__name__)
RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # for files that look unfinished (empty, truncated)
OUTPUT_RETRY_DELAYS = (2.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0)  # output unwritable: disk full, gone
OnResult = Callable[[Result], None]


class FileHandler:
    def __init__(
        self,
        pipeline: Pipeline,
        ledger: Ledger,
        folders: Folders,
        settler: Settler,
        output: Path,
        on_result: OnResult,
        look_later: LookLater | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.ledger = ledger
        self.folders = folders
        self.settler = settler
        self.output = output
        self.on_result = on_result
        self.look_later = look_later  # clean copies are looked at (vision) before being reported
        self.attempts: dict[Path, int] = {}
        self.output_failures: dict[Path, int] = {}

    def process(self, path: Path) -> None:
        folder = self.folders.owner(path)
        try:
            st = os.lstat(path)
        except OSError:
            return
        if folder is None or not stat.S_ISREG(st.st_mode) or path.is_relative_to(self.output):
            return
        if self.ledger.is_done(path, st.st_size, st.st_mtime_ns):
            return
        src = self.pipeline.read(path, follow_symlinks=False)
        if isinstance(src, Result):
            self._finish(src, st.st_size, st.st_mtime_ns, None)
            return
        digest = hashlib.sha256(src.data).hexdigest()
        seen = self.ledger.content_seen(digest)
        if seen is not None:
            # Same bytes as a file already handled (a copy, a move, a touch): not done twice.
            outcome = seen.outcome if seen.path == path else "duplicate"
            self.ledger.record(
                path,
                outcome,
                size=src.size,
                mtime_ns=src.mtime_ns,
                sha256=digest,
                output=seen.output,
                categories=seen.categories,
                history=False,
            )
            log.info("%s: same content as %s, not cleaned again", path.name, seen.path.name)
            return
        out_dir = self.output / folder.config.label if folder.config.label else self.output
        claim = self._claim(digest, src.size, src.mtime_ns)
        result = self.pipeline.clean_source(path, src, out_dir, claim, False, self.output)
        self._finish(result, src.size, src.mtime_ns, digest)

    def _claim(self, digest: str, size: int, mtime_ns: int) -> Claim:
        """Output names owned per input: a changed file updates its copy; two inputs with the
        same name get 'name.jpg' and 'name (2).jpg'. The intent is recorded before writing."""
        ledger = self.ledger

        def claim(desired: Path, source: Path) -> Path:
            candidate, n = desired, 1
            while True:
                owner = ledger.owner_of(candidate)
                if owner == source or (owner is None and not os.path.lexists(candidate)):
                    break
                n += 1
                candidate = numbered(desired, n)
            ledger.record(
                source,
                "working",
                size=size,
                mtime_ns=mtime_ns,
                sha256=digest,
                output=candidate,
                history=False,
            )
            return candidate

        return claim

    def _finish(self, result: Result, size: int, mtime_ns: int, digest: str | None) -> None:
        path = result.source
        if result.vanished:
            return
        if result.retryable:
            attempt = self.attempts.get(path, 0)
            if attempt < len(RETRY_DELAYS):
                self.attempts[path] = attempt + 1
                log.info(
                    "%s looks unfinished (%s); retrying in %.1f s",
                    path.name,
                    result.reason,
                    RETRY_DELAYS[attempt],
                )
                self.settler.touch(path, complete=True, delay=RETRY_DELAYS[attempt])
                return
        self.attempts.pop(path, None)
        if result.not_image and path.suffix.lower() not in IMAGE_SUFFIXES:
            # Videos, documents and the like land in picture folders too: noted, not nagged about.
            self.ledger.record(
                path, "skipped", size=size, mtime_ns=mtime_ns, sha256=digest, reason=result.reason
            )
            log.info("skipped %s: %s", path.name, result.reason)
            return
        self.ledger.record(
            path,
            result.status.value,
            size=size,
            mtime_ns=mtime_ns,
            sha256=digest,
            output=result.output,
            fmt=result.format,
            categories=result.findings.categories(),
            reason=result.reason,
        )
        if result.output_error:
            # The output could not be written (disk full, read-only or missing folder): try again later,
            # less and less often, and tell the user once, not at every attempt.
            failures = self.output_failures.get(path, 0)
            self.output_failures[path] = failures + 1
            delay = OUTPUT_RETRY_DELAYS[min(failures, len(OUTPUT_RETRY_DELAYS) - 1)]
            log.warning("failed %s: %s; trying again in %.0f s", path.name, result.reason, delay)
            self.settler.touch(path, complete=True, delay=delay)
            if failures:
                return
        else:
            self.output_failures.pop(path, None)
            if result.status is not Status.CLEANED:
                log.warning("%s %s: %s", result.status.value, path.name, result.reason)
        if self.look_later is not None and result.ok and result.visible is None:
            self.look_later.submit(result)
        else:
            self.on_result(result)
