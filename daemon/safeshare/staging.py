"""Every file of a batch staged (read, cleaned, written to a temp file and verified, not
yet named), handed out in the batch's order: by worker processes on every core (`procpool`)
where they can be forked, else by two threads (or one, for a few files)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import interrupts, isolation
from safeshare.errors import SafeshareError
from safeshare.fileio import Opener, open_path, reachable_mode
from safeshare.outdir import OutputFolder, remove_stale_temp_files
from safeshare.pipeline import Pipeline, Ready, Result, stopped
from safeshare.safepath import PinnedDir, open_file_beneath

if TYPE_CHECKING:
    from concurrent.futures import Future

    from safeshare import procpool

PRESTART_SUFFIXES = {".heic", ".heif", ".hif", ".avif"}
MIN_SHARED = 4  # fewer files are cleaned in-process: forking costs more than it saves


@dataclass(frozen=True)
class Job:
    source: Path
    subfolder: Path  # where under the output folder the clean copy goes
    # For a file found inside a folder: that folder, pinned when it was walked. The file is
    # then opened name by name beneath it, never through a link swapped in after the walk.
    # A file named on the command line is opened as named (a link the user gave is theirs).
    walked: tuple[PinnedDir, Path] | None = None

    def opener(self) -> Opener:
        if self.walked is None:
            return open_path
        pinned, root = self.walked
        inside = pinned.path / self.source.relative_to(root)
        return lambda path: open_file_beneath(pinned, inside)


def stage(pipeline: Pipeline, output: OutputFolder, job: Job, opener: Opener | None = None) -> Ready | Result:
    prepared = pipeline.prepare(job.source, opener or job.opener())
    if isinstance(prepared, Result):
        return prepared
    return prepared.stage(output, job.subfolder, reachable_mode(job.source, prepared.src.mode))


def staged(
    jobs: list[Job], pipeline: Pipeline, output: OutputFolder, workers: int
) -> Generator[Ready | Result]:
    """Every job staged (written and verified, not yet named), in the order of `jobs`."""
    redacts = pipeline.vision is not None and pipeline.vision.redacts
    if workers > 1 and len(jobs) >= MIN_SHARED and not redacts:
        from safeshare import procpool  # imported here: one file needs none of it

        if procpool.available():
            return _in_processes(jobs, pipeline, output, workers)
    return _in_threads(jobs, pipeline, output, workers)


def _in_threads(
    jobs: list[Job], pipeline: Pipeline, output: OutputFolder, workers: int
) -> Generator[Ready | Result]:
    """Where processes cannot be forked (or redaction's vision worker is in use): two threads,
    so that one file's disk waits overlap another's parse."""
    if any(job.source.suffix.lower() in PRESTART_SUFFIXES for job in jobs):
        isolation.pool().prestart()  # HEIF/AVIF will need decoders: start them meanwhile
    if workers == 1:
        yield from (stage(pipeline, output, job) for job in jobs)
        return
    from concurrent.futures import ThreadPoolExecutor

    futures: list[Future[Ready | Result]] = []
    given = 0
    try:
        with ThreadPoolExecutor(min(2, workers), thread_name_prefix="clean") as executor:
            futures = [executor.submit(stage, pipeline, output, job) for job in jobs]
            try:
                for future in futures:
                    with interrupts.safe_point():
                        item = future.result()
                    given += 1
                    yield item
            finally:  # stopped early (Ctrl-C): what has not started never will
                for future in futures:
                    future.cancel()
    finally:  # the executor has waited for those running: what they staged is not published
        for future in futures[given:]:
            if not future.cancelled() and isinstance(item := future.result(), Ready):
                item.discard()


def _in_processes(
    jobs: list[Job], pipeline: Pipeline, output: OutputFolder, workers: int
) -> Generator[Ready | Result]:
    """Forked workers stage the files; this process names and publishes them, in order."""
    from safeshare import procpool

    heif = any(job.source.suffix.lower() in PRESTART_SUFFIXES for job in jobs)

    def task(index: int) -> procpool.Reply:
        item = stage(pipeline, output, jobs[index])
        if isinstance(item, Result):
            return procpool.Reply(item)
        staged, fds = item.staged.handed_over()
        bare = dataclasses.replace(
            item.prepared, src=dataclasses.replace(item.prepared.src, data=bytearray())
        )
        return procpool.Reply(
            Ready(bare, staged), fds, lambda sent: item.staged.close() if sent else item.discard()
        )

    def at_start() -> None:
        isolation.forked()
        if heif:
            isolation.pool().prestart()

    _preload({job.source.suffix.lower() for job in jobs})
    pool = procpool.ForkPool(task, workers, at_start, lambda: isolation.pool().close())
    return _in_order(pool, jobs, pipeline, output, procpool.chunked(len(jobs), workers))


def _in_order(
    pool: procpool.ForkPool,
    jobs: list[Job],
    pipeline: Pipeline,
    output: OutputFolder,
    chunks: list[list[int]],
) -> Generator[Ready | Result]:
    from safeshare import procpool

    pending: dict[int, Ready | Result] = {}
    following, lost = 0, False
    try:
        for index, payload, fds in pool.results(chunks):
            if isinstance(payload, Ready) and len(fds) in (1, 2):
                payload.staged.taken_over(fds)
                pending[index] = payload
            elif isinstance(payload, procpool.Lost) and not payload.started:
                lost = True  # its worker died before it began: it is cleaned here instead
                pending[index] = stage(pipeline, output, jobs[index])
            else:
                for fd in fds:
                    os.close(fd)
                lost = lost or not isinstance(payload, Result)  # a temp file may be left: swept
                pending[index] = _as_result(jobs[index], payload)
            while following in pending:
                yield pending.pop(following)
                following += 1
    finally:
        for item in pending.values():
            if isinstance(item, Ready):
                item.discard()
        pool.close()
        if lost or following < len(jobs):  # a worker died or we stopped early: its temp files go
            remove_stale_temp_files(output.path)


def _as_result(job: Job, payload: object) -> Result:
    from safeshare import procpool

    if isinstance(payload, Result):
        return payload
    reason = payload.reason if isinstance(payload, procpool.Lost) else "internal error (a bad reply)"
    return stopped(job.source, SafeshareError(reason))


def _preload(suffixes: set[str]) -> None:
    """Import, before forking, the format modules the files' names point to, and Pillow's
    plugins for them: imported once here, not once in every worker (content still decides)."""
    from safeshare.formats import FORMATS
    from safeshare.pillow_reading import preload

    for line in FORMATS:
        if suffixes & set(line.extensions):
            preload(line.load().pillow_name)
