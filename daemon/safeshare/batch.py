"""`safeshare clean`: command-line paths into a list of files, each cleaned the one way
(pipeline: prepare -> stage -> claim -> commit), with names claimed within the run."""

from __future__ import annotations

import contextlib
import os
import stat
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import interrupts, isolation
from safeshare.config import CleanConfig
from safeshare.errors import NotAnImage, SafeshareError, UnsupportedFormat
from safeshare.fileio import Opener, open_path
from safeshare.formats import HEAD_SIZE, CleanOptions, detect, looks_like_image_name
from safeshare.naming import numbered
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Ready, Result, Settings
from safeshare.safepath import PinnedDir
from safeshare.staging import MIN_SHARED, Job, stage
from safeshare.staging import staged as stage_all

if TYPE_CHECKING:
    from concurrent.futures import Future

    from safeshare.vision.step import VisionStep


SYNC_EVERY = 64  # renames made durable together (the folders are fsynced once per so many)


def collect(paths: list[Path], out_dir: Path | None) -> tuple[list[Job], int]:
    """Files named directly, plus the images found under folders (recursively)."""
    jobs: list[Job] = []
    skipped = 0
    for path in paths:
        if path.is_dir():
            found, skip = _walk(path, out_dir)
            jobs += found
            skipped += skip
        else:
            jobs.append(Job(path, Path()))
    return jobs, skipped


def _walk(root: Path, out_dir: Path | None) -> tuple[list[Job], int]:
    jobs, skipped = [], 0
    try:
        pinned = PinnedDir.open(Path(os.path.realpath(root)))
    except (OSError, SafeshareError):
        return [], 0
    avoid = out_dir.resolve() if out_dir is not None and out_dir.exists() else None
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        # Hidden folders and our own output are never walked.
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and (here / d).resolve() != avoid)
        for name in sorted(files):
            path = here / name
            if name.startswith(".") or path.is_symlink():
                continue
            if _wanted(path):
                jobs.append(Job(path, here.relative_to(root), (pinned, root)))
            else:
                skipped += 1
    return jobs, skipped


def _wanted(path: Path) -> bool:
    if looks_like_image_name(path.name):
        return True
    try:
        fd = open_path(path, follow_symlinks=False)  # never blocks (a FIFO), never a link
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        detect(os.read(fd, HEAD_SIZE))
    except (OSError, NotAnImage, UnsupportedFormat):
        return False
    finally:
        os.close(fd)
    return True


class RunNames:
    """Output names within one run. Two inputs never get the same name ('name (2).jpg'), and
    a file this run did not write is never replaced: a name already taken gets the next
    number, unless the file there holds exactly this copy (an earlier run's, on the same
    input and settings), which is then left as it is. Files are published in the batch's
    order, so which one gets 'name (2)' does not depend on which was cleaned first."""

    def __init__(self) -> None:
        self._claimed: dict[Path, Path] = {}
        self._unsynced: dict[tuple[int, int], int] = {}  # folders renamed into, not yet fsynced
        self._renames = 0

    def publish(self, ready: Ready) -> Result:
        source = ready.prepared.source
        wanted = Path(ready.prepared.name)
        candidate, n = wanted, 1
        self._renames += 1
        if self._renames % SYNC_EVERY == 0:
            self.sync()  # a long batch: what was reported a while ago is made durable now
        st = os.fstat(ready.staged.folder_fd)
        if (st.st_dev, st.st_ino) not in self._unsynced:
            self._unsynced[(st.st_dev, st.st_ino)] = os.dup(ready.staged.folder_fd)
        while True:
            key = ready.folder / candidate.name
            owner = self._claimed.get(key)
            if owner == source or (owner is None and not ready.taken(candidate.name)):
                result = ready.commit(candidate.name, replace=owner == source, sync=False)
                if result is not None:
                    self._claimed[key] = source
                    break
            elif owner is None and ready.same_as(candidate.name):
                self._claimed[key] = source
                ready.discard()
                result = ready.prepared.result(key)
                result.notes.append("the same clean copy was already there; left unchanged")
                return result
            n += 1
            candidate = numbered(wanted, n)
        if result.ok and candidate != wanted:
            result.notes.append(f"{wanted.name} was taken by another file; wrote {candidate.name}")
        return result

    def sync(self) -> None:
        """Make the batch's renames durable: one fsync per folder, not one per file (every
        copy was fsynced before its rename, so a crash leaves whole copies or none)."""
        for fd in self._unsynced.values():
            with contextlib.suppress(OSError):
                os.fsync(fd)
            os.close(fd)
        self._unsynced.clear()


def clean_one(
    pipeline: Pipeline,
    source: Path,
    output: OutputFolder | Path,
    subfolder: Path = Path(),
    names: RunNames | None = None,
    opener: Opener = open_path,
) -> Result:
    """One file the whole way, as `clean` does it (the daemon's handler does the same steps
    with its ledger)."""
    out = output if isinstance(output, OutputFolder) else OutputFolder(output)
    staged = stage(pipeline, out, Job(source, subfolder), opener)
    if isinstance(staged, Result):
        return staged
    names = names or RunNames()
    try:
        return names.publish(staged)
    finally:
        names.sync()


def workers_for(jobs: list[Job]) -> int:
    """One process per core (up to eight) when there are enough files to share out."""
    if len(jobs) < MIN_SHARED:
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(8, cores))


def clean_all(
    jobs: list[Job], pipeline: Pipeline, out_dir: Path, workers: int, vision: VisionStep | None = None
) -> Iterator[Result]:
    """Results in the order of `jobs`, cleaned `workers` at a time; with `vision`, each clean
    copy is then looked at for faces, text and codes (unless redaction already did). Ctrl-C
    (SIGTERM, SIGHUP) stops it between files (`interrupts`)."""
    with interrupts.deferred():
        names = RunNames()
        output = OutputFolder(out_dir)
        staged = stage_all(jobs, pipeline, output, workers)  # workers are forked here, before any thread
        try:
            published = (names.publish(item) if isinstance(item, Ready) else item for item in staged)
            for result in published if vision is None else _looked(published, vision):
                yield result
                interrupts.check()
        finally:
            staged.close()
            names.sync()


def _looked(results: Iterator[Result], vision: VisionStep) -> Iterator[Result]:
    """Looking takes ~0.8 s a photo, cleaning ~10 ms: every clean copy is published at
    cleaning speed, and one thread looks at them in order behind it, in the niced worker."""
    from concurrent.futures import ThreadPoolExecutor

    looker = ThreadPoolExecutor(1, thread_name_prefix="look")
    looking: deque[Future[Result]] = deque()
    try:
        for result in results:
            looking.append(looker.submit(_look, vision, result))
            while looking and looking[0].done():
                yield looking.popleft().result()
        while looking:
            with interrupts.safe_point():
                looked = looking[0].result()
            looking.popleft()
            yield looked
    finally:  # stopped early (Ctrl-C): what has not started never will
        looker.shutdown(cancel_futures=True)


def _look(vision: VisionStep, result: Result) -> Result:
    if result.output is not None and result.visible is None and result.picture:
        result.visible = vision.analyze(result.output, findings=result.findings)
    return result


def pipeline_settings(
    clean: CleanConfig, rename: bool | None, convert_to: str | None, workers: int = 1
) -> Settings:
    """Config values, overridden by command-line flags where given (decoder limits included)."""
    isolation.configure(clean.decode_seconds, clean.decode_memory_mb, workers)
    options = CleanOptions(
        convert_to=convert_to or clean.convert_to,
        jpeg_quality=clean.jpeg_quality,
        max_pixels=clean.max_pixels,
    )
    return Settings(options, clean.rename if rename is None else rename, clean.max_file_mb << 20)
