"""`safeshare clean`: command-line paths into a list of files, each cleaned the one way
(pipeline: prepare -> stage -> claim -> commit), with names claimed within the run."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from safeshare import isolation
from safeshare.config import CleanConfig
from safeshare.errors import NotAnImage, SafeshareError, UnsupportedFormat
from safeshare.fileio import Opener, open_path, reachable_mode
from safeshare.formats import HEAD_SIZE, CleanOptions, detect, looks_like_image_name
from safeshare.naming import numbered
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Ready, Result, Settings
from safeshare.safepath import PinnedDir, open_file_beneath
from safeshare.vision.step import VisionStep

PRESTART_SUFFIXES = {".heic", ".heif", ".hif", ".avif"}


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
    input and settings), which is then left as it is."""

    def __init__(self) -> None:
        self._claimed: dict[Path, Path] = {}
        self._lock = threading.Lock()  # files are cleaned by two threads

    def publish(self, ready: Ready) -> Result:
        source = ready.prepared.source
        wanted = Path(ready.prepared.name)
        candidate, n = wanted, 1
        with self._lock:  # claim and commit together: no other thread takes the name between
            while True:
                key = ready.folder / candidate.name
                owner = self._claimed.get(key)
                if owner == source or (owner is None and not ready.taken(candidate.name)):
                    result = ready.commit(candidate.name, replace=owner == source)
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
    prepared = pipeline.prepare(source, opener)
    if isinstance(prepared, Result):
        return prepared
    ready = prepared.stage(out, subfolder, reachable_mode(source, prepared.src.mode))
    if isinstance(ready, Result):
        return ready
    return (names or RunNames()).publish(ready)


def workers_for(jobs: list[Job]) -> int:
    """Two files at a time when there are several and two cores: while one waits for the disk
    (read, fsync) or a decoder, the other is parsed."""
    return min(2, os.cpu_count() or 1) if len(jobs) > 1 else 1


def clean_all(
    jobs: list[Job], pipeline: Pipeline, out_dir: Path, workers: int, vision: VisionStep | None = None
) -> Iterator[Result]:
    """Results in the order of `jobs`, cleaned `workers` at a time; with `vision`, each clean
    copy is then looked at for faces, text and codes (unless redaction already did)."""
    names = RunNames()
    output = OutputFolder(out_dir)
    if any(job.source.suffix.lower() in PRESTART_SUFFIXES for job in jobs):
        isolation.pool().prestart()  # HEIF/AVIF will need decoders: start them meanwhile

    def one(job: Job) -> Result:
        return clean_one(pipeline, job.source, output, job.subfolder, names, job.opener())

    if vision is None and workers == 1:
        yield from map(one, jobs)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="clean") as executor:
        if vision is None:
            yield from executor.map(one, jobs)
            return
        # Looking takes ~0.8 s a photo, cleaning ~10 ms: every clean copy is published at
        # cleaning speed, and one thread looks at them in order behind it, in the niced worker.
        looker = ThreadPoolExecutor(1, thread_name_prefix="look")
        cleaned = [executor.submit(one, job) for job in jobs]
        looked = [looker.submit(_look, vision, future) for future in cleaned]
        try:
            for future in looked:
                yield future.result()
        finally:  # stopped early (Ctrl-C): what has not started never will
            for future in cleaned:
                future.cancel()
            looker.shutdown(cancel_futures=True)


def _look(vision: VisionStep, cleaning: Future[Result]) -> Result:
    result = cleaning.result()
    if result.output is not None and result.visible is None:
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
