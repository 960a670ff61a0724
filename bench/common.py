"""Shared pieces of the benchmarks: the machine, test pictures, process accounting, tables."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "corpus"
PHOTO = CORPUS / "jpeg" / "exif-samples__HMD_Nokia_8.3_5G.jpg"  # a 2.2 MB phone photo with GPS


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, "
        f"Python {platform.python_version()}"
    )


def variant(data: bytes, n: int) -> bytes:
    """The same JPEG with a different picture (one quantisation entry changed), so every
    copy has its own content hash and its own clean output."""
    out = bytearray(data)
    pos = 2
    while out[pos + 1] != 0xDB:
        pos += 2 + int.from_bytes(out[pos + 2 : pos + 4], "big")
    out[pos + 5 + 63] = 1 + n % 250
    out[pos + 5 + 62] = 1 + n // 250 % 250
    return bytes(out)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def python() -> str:
    return sys.executable


def measure(command: list[str], runs: int = 1) -> tuple[float, float]:
    """(median seconds, peak resident MB) of running `command`, output discarded.

    The peak comes from GNU time, which forks from a small process: the rusage of a child
    forked straight from this (large) benchmark process would count our pages too."""
    import shutil
    import subprocess
    import tempfile
    import time

    gnu_time = shutil.which("time") or "/usr/bin/time"
    if not Path(gnu_time).exists():
        raise SystemExit("the benchmarks need GNU time for peak memory (Debian: apt-get install time)")
    times, peaks = [], []
    with tempfile.NamedTemporaryFile("r") as report:
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(
                [gnu_time, "-q", "-f", "%M", "-o", report.name, *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                check=False,
            )
            times.append(time.perf_counter() - start)
            report.seek(0)
            peaks.append(int(report.read().split()[-1]) / 1024)
    return statistics.median(times), max(peaks)


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Markdown table with aligned columns."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)])
