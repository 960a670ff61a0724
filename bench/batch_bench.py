"""Batch cleaning: safeshare against the tools a user would pick instead, on the same files.

- `exiftool -all= -tagsfromfile @ -Orientation -ICC_Profile -o OUT DIR`: one ExifTool
  process for the whole batch, keeping orientation and colour as safeshare does;
- `cp -r DIR OUT`: the floor (copying without looking).
Both batches come from tests/corpus: its JPEGs, and every file of every format.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import CORPUS, measure, table

RUNS = 5


HEADERS = ["batch", "safeshare", "exiftool", "cp -r", "vs exiftool", "vs cp"]


def _batches(root: Path) -> dict[str, Path]:
    jpegs, everything = root / "jpegs", root / "all"
    jpegs.mkdir()
    everything.mkdir()
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and "exiftool" not in path.parts and path.suffix not in (".tsv", ".md"):
            target = everything / f"{path.parent.name}__{path.name}"
            shutil.copyfile(path, target)
            if path.parent.name == "jpeg":
                shutil.copyfile(path, jpegs / path.name)
    return {"corpus JPEGs": jpegs, "corpus, all formats": everything}


def _time(command: list[str], out: Path) -> float:
    def fresh() -> None:
        shutil.rmtree(out, ignore_errors=True)

    seconds = []
    for _ in range(RUNS):
        fresh()
        seconds.append(measure(command)[0])
    fresh()
    return sorted(seconds)[len(seconds) // 2]


def run() -> list[list[str]]:
    exiftool = shutil.which("exiftool")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as folder:
        root = Path(folder)
        for label, batch in _batches(root).items():
            files = sum(1 for _ in batch.iterdir())
            size = sum(p.stat().st_size for p in batch.iterdir()) / 1e6
            out = root / "out"
            # Cleaning is what ExifTool and cp do too; what looking at the pixels adds (the
            # vision extra, on by default when installed) is measured in vision_bench.
            clean = [
                sys.executable,
                "-m",
                "safeshare",
                "clean",
                str(batch),
                "--output",
                str(out),
                "--no-vision",
            ]
            ours = _time(clean, out)
            copy = _time(["cp", "-r", str(batch), str(out)], out)
            theirs = (
                _time(
                    [
                        exiftool,
                        "-q",
                        "-q",
                        "-all=",
                        "-tagsfromfile",
                        "@",
                        "-Orientation",
                        "-ICC_Profile",
                        "-o",
                        f"{out}/",
                        str(batch),
                    ],
                    out,
                )
                if exiftool
                else float("nan")
            )
            rows.append(
                [
                    f"{label} ({files} files, {size:.0f} MB)",
                    f"{ours:.3f} s",
                    f"{theirs:.3f} s",
                    f"{copy:.3f} s",
                    f"{theirs / ours:.1f}x faster",
                    f"{ours / copy:.1f}x of cp",
                ]
            )
    return rows


if __name__ == "__main__":  # python -m bench.batch_bench
    print(table(HEADERS, run()))
