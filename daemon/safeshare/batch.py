"""Turning command-line paths into a list of files, and naming outputs within one run."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from safeshare import isolation
from safeshare.config import CleanConfig
from safeshare.errors import NotAnImage, UnsupportedFormat
from safeshare.formats import FORMATS, HEAD_SIZE, CleanOptions, detect
from safeshare.naming import numbered
from safeshare.pipeline import Claim, Pipeline, Result, Settings
from safeshare.vision.step import VisionStep

# Names that claim to be pictures: inside folders, such a file is refused with a reason
# even when its content is not an image; any other non-image file is skipped.
IMAGE_SUFFIXES = {ext for fmt in FORMATS for ext in fmt.extensions} | {
    ".bmp",
    ".jxl",
    ".jp2",
    ".psd",
    ".dng",
    ".cr2",
    ".cr3",
    ".nef",
    ".arw",
    ".orf",
    ".rw2",
    ".raf",
    ".ico",
    ".svg",
}


PRESTART_SUFFIXES = {".heic", ".heif", ".hif", ".avif"}


@dataclass(frozen=True)
class Job:
    source: Path
    subfolder: Path  # where under the output folder the clean copy goes


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
                jobs.append(Job(path, here.relative_to(root)))
            else:
                skipped += 1
    return jobs, skipped


def _wanted(path: Path) -> bool:
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return True
    try:
        with path.open("rb") as handle:
            detect(handle.read(HEAD_SIZE))
    except (OSError, NotAnImage, UnsupportedFormat):
        return False
    return True


def make_claim() -> Claim:
    """Within one run, two inputs never get the same output path ('name (2).jpg')."""
    claimed: dict[Path, Path] = {}
    lock = threading.Lock()  # files are cleaned by two threads

    def claim(desired: Path, source: Path) -> Path:
        with lock:
            candidate, n = desired, 1
            while claimed.get(candidate, source) != source:
                n += 1
                candidate = numbered(desired, n)
            claimed[candidate] = source
            return candidate

    return claim


def workers_for(jobs: list[Job]) -> int:
    """Two files at a time when there are several and two cores: while one waits for the disk
    (read, fsync) or a decoder, the other is parsed."""
    return min(2, os.cpu_count() or 1) if len(jobs) > 1 else 1


def clean_all(
    jobs: list[Job], pipeline: Pipeline, out_dir: Path, workers: int, vision: VisionStep | None = None
) -> Iterator[Result]:
    """Results in the order of `jobs`, cleaned `workers` at a time; with `vision`, each clean
    copy is then looked at for faces, text and codes (unless redaction already did)."""
    claim = make_claim()
    if any(job.source.suffix.lower() in PRESTART_SUFFIXES for job in jobs):
        isolation.pool().prestart()  # HEIF/AVIF will need decoders: start them meanwhile

    def one(job: Job) -> Result:
        return pipeline.clean_file(job.source, out_dir / job.subfolder, claim, root=out_dir)

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
        result.visible = vision.analyze(result.output)
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
