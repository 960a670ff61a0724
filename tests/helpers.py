"""Independent checks used by the tests: ExifTool's reading, pixel comparison, trailers."""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageOps, ImageSequence

pillow_heif.register_heif_opener()  # the tests decode HEIC originals to compare with outputs

ROOT = Path(__file__).resolve().parent.parent
# The real-image corpus lives in the repository (tests/corpus/README.md: sources and licences).
CORPUS = ROOT / "tests" / "corpus"
EXIFTOOL = shutil.which("exiftool")

# What ExifTool may still report on a clean output: structure, colour, resolution, orientation.
ALWAYS_OK_GROUPS = {"SourceFile", "ExifTool", "System", "Adobe"}
FILE_OK = {
    "FileType",
    "FileTypeExtension",
    "MIMEType",
    "ExifByteOrder",
    "ImageWidth",
    "ImageHeight",
    "EncodingProcess",
    "BitsPerSample",
    "ColorComponents",
    "YCbCrSubSampling",
    "FileSize",
    "FileName",
    "Directory",
    "FilePermissions",
}
COMPOSITE_OK = {"ImageSize", "Megapixels"}
JFIF_OK = {"JFIFVersion", "ResolutionUnit", "XResolution", "YResolution"}
PNG_OK = {
    "ImageWidth",
    "ImageHeight",
    "BitDepth",
    "ColorType",
    "Compression",
    "Filter",
    "Interlace",
    "Gamma",
    "WhitePointX",
    "WhitePointY",
    "RedX",
    "RedY",
    "GreenX",
    "GreenY",
    "BlueX",
    "BlueY",
    "SRGBRendering",
    "ProfileName",
    "SignificantBits",
    "AnimationFrames",
    "AnimationPlays",
    "Transparency",
    "Palette",
    "ColorPrimaries",
    "TransferCharacteristics",
    "MatrixCoefficients",
    "VideoFullRangeFlag",
    "PixelsPerUnitX",
    "PixelsPerUnitY",
    "PixelUnits",
}
RIFF_OK = {
    "VP8Version",
    "ImageWidth",
    "ImageHeight",
    "HorizontalScale",
    "VerticalScale",
    "WebP_Flags",
    "AnimationLoopCount",
    "BackgroundColor",
    "AlphaPreprocessing",
    "AlphaFiltering",
    "AlphaCompression",
    "FrameCount",
    "Duration",
}
GIF_OK = {
    "GIFVersion",
    "ImageWidth",
    "ImageHeight",
    "HasColorMap",
    "ColorResolutionDepth",
    "BitsPerPixel",
    "BackgroundColor",
    "AnimationIterations",
    "TransparentColor",
    "FrameCount",
    "Duration",
    "PixelAspectRatio",
}
TIFF_OK = {
    "ImageWidth",
    "ImageHeight",
    "BitsPerSample",
    "Compression",
    "PhotometricInterpretation",
    "FillOrder",
    "StripOffsets",
    "Orientation",
    "SamplesPerPixel",
    "RowsPerStrip",
    "StripByteCounts",
    "XResolution",
    "YResolution",
    "PlanarConfiguration",
    "ResolutionUnit",
    "Predictor",
    "ExtraSamples",
    "SampleFormat",
    "SubfileType",
    "PageNumber",
    "ColorMap",
    "TileWidth",
    "TileLength",
    "TileOffsets",
    "TileByteCounts",
    "T4Options",
    "T6Options",
    "YCbCrSubSampling",
    "YCbCrPositioning",
    "ReferenceBlackWhite",
    "WhitePoint",
    "PrimaryChromaticities",
    "TransferFunction",
    "JPEGTables",
    "InkSet",
    "NumberOfInks",
    "MinSampleValue",
    "MaxSampleValue",
    "Thresholding",
    "HalftoneHints",
    "GrayResponseUnit",
    "YCbCrCoefficients",
    "SMinSampleValue",
    "SMaxSampleValue",
    "DotRange",
}


def manifest() -> list[dict[str, str]]:
    """The corpus's rows; empty when the corpus is missing, so collection still works and
    `test_corpus_is_in_the_repository` fails with the reason instead."""
    path = CORPUS / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def require_corpus() -> Path:
    """The corpus folder; a missing corpus is a failure, never a skip."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.fail(f"the test corpus is missing: {CORPUS}/MANIFEST.tsv (it ships in the repository)")
    return CORPUS


def require_exiftool() -> str:
    if EXIFTOOL is None:
        pytest.skip(
            "ExifTool is not installed (Debian: apt-get install libimage-exiftool-perl); "
            "it is the independent reader these tests need"
        )
    return EXIFTOOL


def exiftool_read(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """`exiftool -j -a -G1 -n` of every path, keyed by the resolved path."""
    tool = require_exiftool()
    if not paths:
        return {}
    out = subprocess.run(
        [tool, "-j", "-a", "-G1", "-n", "-q", *map(str, paths)], capture_output=True, check=False, text=True
    )
    records = json.loads(out.stdout or "[]")
    return {str(Path(r["SourceFile"]).resolve()): r for r in records}


def residual_tags(record: dict[str, Any]) -> list[str]:
    """Tags ExifTool finds that are outside the small allowlist of a clean file."""
    leftover = []
    for key in record:
        group, _, name = key.partition(":")
        if group in ALWAYS_OK_GROUPS or group.startswith("ICC"):
            continue
        if group == "ExifTool" or (group == "File" and name in FILE_OK):
            continue
        allowed = {
            "Composite": COMPOSITE_OK,
            "JFIF": JFIF_OK,
            "PNG": PNG_OK,
            "PNG-pHYs": PNG_OK,
            "RIFF": RIFF_OK,
            "GIF": GIF_OK,
        }.get(group)
        if allowed is None and group.startswith("IFD"):
            allowed = TIFF_OK if record.get("File:FileType") == "TIFF" else {"Orientation"}
        if allowed is None or name not in allowed:
            leftover.append(key)
    warning = str(record.get("ExifTool:Warning", ""))
    if "trailer" in warning.lower() or "after" in warning.lower():
        leftover.append(f"ExifTool:Warning={warning}")
    return leftover


def bytes_after_end(data: bytes) -> int:
    """Bytes after the end of the image, by each format's own end marker."""
    if data[:3] == b"\xff\xd8\xff":
        return 0 if data.endswith(b"\xff\xd9") else -1
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return len(data) - (data.rindex(b"IEND") + 8)
    if data[:4] == b"RIFF":
        return len(data) - 8 - struct.unpack_from("<I", data, 4)[0]
    if data[:3] == b"GIF":
        return 0 if data.endswith(b";") else -1
    return 0


def frames(source: Path | bytes, orientation: bool = True) -> list[Image.Image]:
    """Every frame, decoded, with EXIF orientation applied (as viewers show it)."""
    image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    out = []
    for frame in ImageSequence.Iterator(image):
        copy = frame.copy()
        out.append(ImageOps.exif_transpose(copy) if orientation else copy)
    return out


def same_pixels(a: Path | bytes, b: Path | bytes, first_only: bool = False) -> bool:
    """Decoded pixels identical (size, mode, bytes) in every frame, orientation applied.
    `first_only` for MPO/JPEG, whose secondary images are removed on purpose."""
    fa, fb = frames(a), frames(b)
    if first_only:
        fa, fb = fa[:1], fb[:1]
    return len(fa) == len(fb) and all(
        x.size == y.size and x.mode == y.mode and x.tobytes() == y.tobytes()
        for x, y in zip(fa, fb, strict=True)
    )


def psnr(a: Image.Image, b: Image.Image) -> float:
    import numpy as np

    x = np.asarray(a.convert("RGB"), dtype=np.float64)
    y = np.asarray(b.convert("RGB"), dtype=np.float64)
    mse = float(((x - y) ** 2).mean())
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def bare_venv(root: Path) -> tuple[Path, Path]:
    """A new venv at `root` without pip or packages: its python and its site-packages."""
    import sys

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    probe = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True)
    return python, Path(site.stdout.strip())
