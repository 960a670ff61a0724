"""One large photo: a 100-megapixel JPEG and a 200 MB TIFF, time and peak memory of
safeshare against ExifTool and cp on the same file. The lossless path keeps peak memory
within the file's size plus 64 MB."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from bench.common import measure, table

HEADERS = ["file", "safeshare", "exiftool", "cp", "safeshare peak over file size"]


def _photo(width: int, height: int) -> Image.Image:
    """A gradient with sensor-like noise: compresses like a real photo, not like a flat fill."""
    rng = np.random.default_rng(7)
    y = np.linspace(0, 200, height, dtype=np.float32)[:, None]
    x = np.linspace(0, 200, width, dtype=np.float32)[None, :]
    base = np.stack([x * 0.7 + y * 0.3, x * 0.2 + y * 0.8, 230 - x * 0.5 - y * 0.5], axis=2)
    noise = rng.integers(-20, 21, (height, width, 3), dtype=np.int16)
    return Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))


def _files(folder: Path) -> dict[str, Path]:
    jpeg, tiff = folder / "100mp.jpg", folder / "200mb.tif"
    _photo(11550, 8660).save(jpeg, quality=92)
    _photo(8200, 8200).save(tiff)  # uncompressed RGB: 8200 x 8200 x 3 = 202 MB
    return {"100 MP JPEG": jpeg, "200 MB TIFF": tiff}


def run() -> list[list[str]]:
    exiftool = shutil.which("exiftool")
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-large-") as folder:
        root = Path(folder)
        for label, path in _files(root).items():
            size = path.stat().st_size / 2**20
            out = root / "out"
            results = []
            for command in (
                # --no-vision: the vision extra's cost on this file is in vision_bench
                [sys.executable, "-m", "safeshare", "clean", str(path), "--output", str(out), "--no-vision"],
                [
                    exiftool or "exiftool",
                    "-q",
                    "-q",
                    "-all=",
                    "-tagsfromfile",
                    "@",
                    "-Orientation",
                    "-ICC_Profile",
                    "-o",
                    str(out / "e" / path.name),
                    str(path),
                ],
                ["cp", str(path), str(out / "c")],
            ):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                results.append(measure(command, runs=3))
            (ours_s, ours_mb), (et_s, et_mb), (cp_s, cp_mb) = results
            rows.append(
                [
                    f"{label} ({size:.0f} MB)",
                    f"{ours_s:.2f} s, {ours_mb:.0f} MB",
                    f"{et_s:.2f} s, {et_mb:.0f} MB",
                    f"{cp_s:.2f} s, {cp_mb:.0f} MB",
                    f"{ours_mb - size:+.0f} MB (target <= +64 MB)",
                ]
            )
    return rows


if __name__ == "__main__":  # python -m bench.large_bench
    print(table(HEADERS, run()))
