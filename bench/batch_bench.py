"""Batch cleaning: safeshare against the tools a user would pick instead, on the same files.

- `exiftool -all= -tagsfromfile @ -Orientation -ICC_Profile -o OUT DIR`: one ExifTool
  process for the whole batch, keeping orientation and colour as safeshare does;
- `cp -r DIR OUT`: the floor (copying without looking).
The batches come from tests/corpus: its JPEGs; its lossless formats (JPEG, PNG, GIF, WebP,
TIFF: rebuilt without decoding); its HEIC and AVIF files, which are re-encoded from pixels
and so are also set against decoding and encoding them alone, with Pillow and pillow-heif
in one process (`FLOOR`), the work no cleaner that re-encodes can skip.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bench.common import CORPUS, measure, table

RUNS = 5


HEADERS = ["batch", "safeshare", "exiftool", "cp -r", "vs exiftool", "vs cp"]


REENCODED = ("heic", "avif")
LOSSLESS = ("jpeg", "png", "gif", "webp", "tiff")
# Decoding and encoding each file of a folder, as safeshare's default does (JPEG, quality 95;
# PNG where there is transparency); files the machine's libheif cannot decode are skipped.
FLOOR = """
import io, sys
from pathlib import Path
from PIL import Image
import pillow_heif
pillow_heif.register_heif_opener()
for path in sorted(Path(sys.argv[1]).iterdir()):
    try:
        with Image.open(path) as image:
            image.load()
            alpha = image.mode in ("RGBA", "LA", "PA")
            image.save(io.BytesIO(), "PNG" if alpha else "JPEG", quality=95)
    except Exception:
        pass
"""


def _batches(root: Path) -> dict[str, Path]:
    folders = {
        "corpus JPEGs": ("jpeg",),
        "corpus, lossless formats": LOSSLESS,
        "corpus, HEIC and AVIF": REENCODED,
    }
    batches = {}
    for n, (label, kinds) in enumerate(folders.items()):
        batch = root / f"batch{n}"
        batch.mkdir()
        for path in sorted(CORPUS.rglob("*")):
            if path.is_file() and path.parent.name in kinds and "exiftool" not in path.parts:
                shutil.copyfile(path, batch / f"{path.parent.name}__{path.name}")
        batches[label] = batch
    return batches


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
            if "HEIC" in label:
                floor = _time([sys.executable, "-c", FLOOR, str(batch)], out)
                rows.append(
                    [
                        "the same HEIC and AVIF: decode + encode alone, one process",
                        f"{floor:.3f} s",
                        "",
                        "",
                        f"safeshare takes {ours / floor:.2f}x of it",
                        "",
                    ]
                )
    return rows


if __name__ == "__main__":  # python -m bench.batch_bench
    print(table(HEADERS, run()))
