"""Where the time of `safeshare clean` goes, per JPEG of the corpus: the fixed start-up
cost and each stage of the pipeline, measured in-process on the same files."""

from __future__ import annotations

import mmap
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

from bench.common import CORPUS, table

HEADERS = ["stage", "time"]
STARTUP_PHOTO = CORPUS / "jpeg" / "exif-samples__Canon_40D.jpg"  # 8 kB with EXIF: the time is start-up
STARTUP_TARGET_MS = 80  # issue 17


def _startup(runs: int = 9, cached: bool = True) -> float:
    """The imports of `safeshare clean` of one JPEG, in ms: the median wall time of the
    command minus the median of a bare interpreter (`python -c pass`), runs interleaved.
    `cached`: with bytecode caches, as an installed safeshare runs (kept in a folder of their
    own, so this works whatever PYTHONDONTWRITEBYTECODE says); else every safeshare source is
    compiled at every run (a copy of the package without caches, none written)."""
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        if cached:
            env["PYTHONPYCACHEPREFIX"] = str(Path(folder) / "pycache")
        else:
            package = Path(__import__("safeshare").__file__).parent
            shutil.copytree(
                package, Path(folder) / "src" / "safeshare", ignore=shutil.ignore_patterns("__pycache__")
            )
            env["PYTHONDONTWRITEBYTECODE"] = "1"
            env["PYTHONPATH"] = str(Path(folder) / "src")
        bare = [sys.executable, "-c", "pass"]
        out = Path(folder) / "out"

        def clean(n: int) -> list[str]:
            return [
                sys.executable,
                "-m",
                "safeshare",
                "clean",
                "--no-vision",
                "-o",
                str(out / str(n)),
                str(STARTUP_PHOTO),
            ]

        def wall(command: list[str]) -> float:
            start = time.perf_counter()
            subprocess.run(command, capture_output=True, check=True, env=env)
            return time.perf_counter() - start

        for n in range(2):  # warm-up: the caches are written, the files are in the page cache
            wall(bare)
            wall(clean(-1 - n))
        bare_times, clean_times = [], []
        for n in range(runs):
            bare_times.append(wall(bare))
            clean_times.append(wall(clean(n)))
    return (statistics.median(clean_times) - statistics.median(bare_times)) * 1000


def _one(path: Path, out: Path, spent: dict[str, float]) -> None:
    """Clean one file through the pipeline's stages, adding each stage's time to `spent`."""
    from safeshare.fileio import read_input
    from safeshare.formats import CleanOptions, detect
    from safeshare.outdir import OutputFolder
    from safeshare.verify import _pillow, _structural, pillow_view

    mark = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal mark
        now = time.perf_counter()
        spent[stage] += now - mark
        mark = now

    src = read_input(path, 1 << 30)
    lap("read the input")
    fmt = detect(bytes(src.data[:64]))
    options = replace(CleanOptions(), path=path)
    cleaned = fmt.clean(src.data, options)
    lap("parse, classify, rebuild")
    expected = pillow_view(str(path), fmt.name, options.max_pixels)
    lap("Pillow reads the input's headers")

    staged = OutputFolder(out).stage(Path(), cleaned.parts, src.mode)
    lap("write and fsync the temp file")
    with staged.path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
        _structural(data, cleaned)
    lap("verify: our structural re-read")
    _pillow(str(staged.path), cleaned, expected, options.max_pixels)
    lap("verify: Pillow's re-read")
    staged.commit(path.name, replace=True)
    lap("link into place, fsync the folder")


def run() -> list[list[str]]:
    files = sorted(p for p in (CORPUS / "jpeg").iterdir() if p.suffix == ".jpg" and "ultrahdr" not in p.name)
    spent: dict[str, float] = defaultdict(float)
    with tempfile.TemporaryDirectory(prefix="bench-stages-") as folder:
        for path in files:
            _one(path, Path(folder), spent)
    per_file = {stage: seconds / len(files) * 1000 for stage, seconds in spent.items()}
    cached, compiled = _startup(), _startup(cached=False)
    verdict = "met" if cached < STARTUP_TARGET_MS else "NOT met"
    rows = [
        [
            "start-up: imports of `clean` of one JPEG (wall - bare interpreter, median), once",
            f"{cached:.0f} ms (target < {STARTUP_TARGET_MS} ms: {verdict})",
        ],
        ["  the same without bytecode caches (every source compiled)", f"{compiled:.0f} ms"],
    ]
    rows += [[stage, f"{ms:.2f} ms per file"] for stage, ms in per_file.items()]
    rows.append([f"all stages, {len(files)} JPEGs", f"{sum(per_file.values()):.2f} ms per file"])
    return rows


if __name__ == "__main__":  # python -m bench.stages_bench
    print(table(HEADERS, run()))
