"""Hostile files: many small metadata segments, and compressed text that inflates to
gigabytes. Each is cleaned by the real command in a process of its own; the targets are
under 2 s per file (cleaned or refused) and a peak memory under the file's size + 256 MB.

Baselines from the same run: `cp` of the same file, and cleaning an ordinary phone photo
of the corpus (the fixed cost of one `safeshare clean` process).
"""

from __future__ import annotations

import io
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from bench.common import PHOTO, table

HEADERS = ["hostile file", "safeshare", "outcome", "vs cp", "vs clean of a corpus photo", "target"]
MAX_SECONDS = 2.0
MAX_EXTRA_MB = 256
COUNT = 20_000
BOMBS = 256
BOMB_SIZE = 17 << 20  # each zTXt inflates to 17 MB, more than the old 16 MB per-chunk cap


def _picture(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.linear_gradient("L").resize((64, 48)).convert("RGB").save(out, fmt)
    return out.getvalue()


def _segment(marker: int, body: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _before_iend(png: bytes, chunks: list[bytes]) -> bytes:
    """Chunks after the image data (Pillow's header read stops at the first IDAT)."""
    iend = png.rindex(b"IEND") - 4
    return png[:iend] + b"".join(chunks) + png[iend:]


def comment_jpeg(count: int = COUNT) -> bytes:
    """A JPEG with `count` COM segments, each with its own text."""
    data = _picture("JPEG")
    comments = b"".join(_segment(0xFE, f"comment number {i}".encode()) for i in range(count))
    return data[:2] + comments + data[2:]


def text_png(count: int = COUNT) -> bytes:
    """A PNG with `count` tEXt chunks, each with its own keyword and text."""
    chunks = [_png_chunk(b"tEXt", f"key{i}\0value {i}".encode()) for i in range(count)]
    return _before_iend(_picture("PNG"), chunks)


def bomb_png(count: int = BOMBS, size: int = BOMB_SIZE) -> bytes:
    """A PNG with `count` zTXt chunks that each inflate to `size` bytes (~4 MB on disk)."""
    payload = zlib.compress(b"A" * size, 9)
    chunks = [_png_chunk(b"zTXt", f"bomb{i}\0\0".encode() + payload) for i in range(count)]
    return _before_iend(_picture("PNG"), chunks)


def comment_gif(count: int = COUNT) -> bytes:
    """A GIF with `count` comment extensions, each with its own text."""
    data = _picture("GIF")
    comments = []
    for i in range(count):
        text = f"comment number {i}".encode()
        comments.append(b"\x21\xfe" + bytes([len(text)]) + text + b"\0")
    return data[:-1] + b"".join(comments) + data[-1:]


FILES: dict[str, tuple[str, Callable[[], bytes]]] = {
    f"JPEG, {COUNT} COM segments": ("comments.jpg", comment_jpeg),
    f"PNG, {COUNT} tEXt chunks": ("text.png", text_png),
    f"PNG, {BOMBS} zTXt bombs of {BOMB_SIZE >> 20} MB": ("bombs.png", bomb_png),
    f"GIF, {COUNT} comment extensions": ("comments.gif", comment_gif),
}


def measure(command: list[str]) -> tuple[float, float, int]:
    """(seconds, peak resident MB, exit code) of one run of `command`.

    The peak comes from GNU time when it is installed (it forks from a small process, so
    the pages of this process are not counted); otherwise from getrusage(RUSAGE_CHILDREN),
    the largest child so far, which here is the command under test."""
    gnu_time = shutil.which("time") or "/usr/bin/time"
    with tempfile.NamedTemporaryFile("r") as report:
        prefix = [gnu_time, "-q", "-f", "%M", "-o", report.name] if Path(gnu_time).exists() else []
        start = time.perf_counter()
        proc = subprocess.run(
            [*prefix, *command], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
        )
        seconds = time.perf_counter() - start
        peak_kb = (
            int(report.read().split()[-1])
            if prefix
            else resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        )
    return seconds, peak_kb / 1024, proc.returncode


def clean_command(path: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "safeshare", "clean", "--no-vision", str(path), "--output", str(out)]


def run() -> list[list[str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-hostile-") as folder:
        root = Path(folder)
        photo_s, photo_mb, _ = measure(clean_command(PHOTO, root / "photo-out"))
        for label, (name, build) in FILES.items():
            path = root / name
            path.write_bytes(build())
            size_mb = path.stat().st_size / 2**20
            out = root / "out"
            shutil.rmtree(out, ignore_errors=True)
            seconds, peak_mb, code = measure(clean_command(path, out))
            cp_s, _, _ = measure(["cp", str(path), str(root / "copy")])
            outcome = {0: "cleaned", 1: "refused"}.get(code, f"exit {code}")
            ok = seconds < MAX_SECONDS and peak_mb < size_mb + MAX_EXTRA_MB and code in (0, 1)
            rows.append(
                [
                    f"{label} ({size_mb:.1f} MB)",
                    f"{seconds:.2f} s, {peak_mb:.0f} MB",
                    outcome,
                    f"{seconds / cp_s:.0f}x",
                    f"{seconds / photo_s:.1f}x time, {peak_mb / photo_mb:.1f}x memory",
                    f"< {MAX_SECONDS:.0f} s, < {size_mb + MAX_EXTRA_MB:.0f} MB: {'met' if ok else 'NOT MET'}",
                ]
            )
            path.unlink()
        rows.append(
            [
                f"baseline: a corpus photo ({PHOTO.stat().st_size / 2**20:.1f} MB)",
                f"{photo_s:.2f} s, {photo_mb:.0f} MB",
                "cleaned",
                "",
                "1.0x",
                "",
            ]
        )
    return rows


if __name__ == "__main__":  # python -m bench.hostile_bench
    print(table(HEADERS, run()))
