"""Start-up stays light: cleaning one JPEG imports neither pillow-heif, the decoder worker's
machinery, nor the XML parser; a HEIC loads pillow-heif in the worker only."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests import synth

PROBE = """
import sys
from safeshare.cli import main
code = main(sys.argv[1:])
heavy = ("pillow_heif", "multiprocessing", "xml.etree", "tomllib", "logging.handlers", "hashlib", "piexif",
         "onnxruntime", "rapidocr", "zxingcpp", "numpy")
print("MODULES:" + ",".join(sorted(m for m in sys.modules if m.startswith(heavy))))
sys.exit(code)
"""


def _loaded(tmp_path: Path, name: str, data: bytes, *flags: str) -> list[str]:
    (tmp_path / name).write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "clean", *flags, str(tmp_path / name), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES:"))
    return [m for m in line.removeprefix("MODULES:").split(",") if m]


def test_cleaning_one_plain_jpeg_imports_nothing_heavy(tmp_path: Path) -> None:
    plain = synth.jpeg(extras=False)  # EXIF, no XMP, orientation 1
    assert _loaded(tmp_path, "a.jpg", plain, "--no-vision") == []


def test_vision_models_load_only_in_their_worker(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "a.jpg", synth.jpeg(extras=False))
    assert not {"onnxruntime", "rapidocr", "zxingcpp", "numpy"} & set(loaded)


def test_heif_decoding_happens_in_the_worker_not_here(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "a.heic", synth.heic(with_video=False), "--no-vision")
    assert "pillow_heif" not in loaded and "multiprocessing" in loaded
