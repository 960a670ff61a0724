"""One large video (issue 18): a 4 GB QuickTime movie (uncompressed 1080p frames and PCM
sound, an Apple location key) cleaned against cp on the same disk, with peak memory.

cp does not fsync; safeshare fsyncs every copy before it is renamed, so "cp + fsync" is
the like-for-like baseline, and both ratios are printed. The media data is copied file to
file (copy_file_range), never read into memory: peak memory stays far below the file's size.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import measure

HEADERS = ["file", "safeshare", "cp", "cp + fsync", "ratio (target <= 1.5x cp)", "safeshare peak"]
RUNS = 3
SECONDS = int(os.environ.get("SAFESHARE_BENCH_VIDEO_SECONDS", "33"))  # 4.1 GB at 1080p


def _movie(path: Path) -> None:
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=30",
            "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", str(SECONDS), "-map", "0", "-map", "1",
            "-c:v", "rawvideo", "-pix_fmt", "uyvy422", "-c:a", "pcm_s16le",
            "-movflags", "use_metadata_tags",
            "-metadata", "com.apple.quicktime.location.ISO6709=+48.8584+002.2945/",
            "-metadata", "com.apple.quicktime.model=iPhone 15 Pro",
            str(path),
        ],
        check=True,
    )  # fmt: skip


def run() -> list[list[str]]:
    if shutil.which("ffmpeg") is None:
        return [["(skipped: ffmpeg is not installed)", "", "", "", "", ""]]
    with tempfile.TemporaryDirectory(
        prefix="bench-video-", dir=os.environ.get("TMPDIR", "/var/tmp")
    ) as folder:
        root = Path(folder)
        source = root / "VID_4GB.mov"
        _movie(source)
        os.sync()  # the movie's own writeback is not charged to the first command measured
        size = source.stat().st_size
        out = root / "out"
        commands = (
            [sys.executable, "-m", "safeshare", "clean", str(source), "--output", str(out), "--no-vision"],
            ["cp", str(source), str(out / "c.mov")],
            ["sh", "-c", f'cp "{source}" "{out}/c.mov" && sync "{out}/c.mov"'],
        )
        times: list[list[float]] = [[], [], []]
        peak = 0.0
        for _ in range(RUNS):  # interleaved, each after a sync: no run pays for another's writeback
            for i, command in enumerate(commands):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                os.sync()
                seconds, mb = measure(command)
                times[i].append(seconds)
                peak = max(peak, mb) if i == 0 else peak
        ours_s, cp_s, sync_s = (min(t) for t in times)
        ours_mb = peak
        return [
            [
                f"{size / 2**30:.1f} GB MOV",
                f"{ours_s:.2f} s",
                f"{cp_s:.2f} s",
                f"{sync_s:.2f} s",
                f"{ours_s / cp_s:.2f}x cp, {ours_s / sync_s:.2f}x cp + fsync",
                f"{ours_mb:.0f} MB",
            ]
        ]


if __name__ == "__main__":  # python -m bench.video_bench
    from bench.common import table

    print(table(HEADERS, run()))
