"""The daemon: drop-to-published latency, a 1000-file burst, idle CPU and memory, each
against a bare watchdog copier (baseline_watcher.py) measured in the same run. Picture
analysis (the vision extra) is off here; bench/vision_bench.py measures it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import PHOTO, cpu_seconds, percentile, python, rss_mb, table, variant

LATENCY_DROPS = 40
BURST = 1000
IDLE_SECONDS = 60


@dataclass
class Numbers:
    p50: float
    p95: float
    burst: float
    burst_cpu: float  # CPU seconds the watcher spent per photo of the burst
    idle_cpu: float
    idle_rss: float


class Subject:
    """One watcher process (safeshare or the baseline) on its own temp folders."""

    def __init__(self, root: Path, kind: str, vision: bool = False) -> None:
        self.watched, self.output = root / "in", root / "out"
        self.watched.mkdir(parents=True)
        env = dict(os.environ)
        if kind == "safeshare":
            config = root / "c.toml"
            config.write_text(
                f'output = "{self.output}"\n[vision]\nenabled = {str(vision).lower()}\n'
                f'[[watch]]\npath = "{self.watched}"\n'
            )
            env.update(HOME=str(root), XDG_STATE_HOME=str(root / "state"), SAFESHARE_CONFIG=str(config))
            command = [python(), "-m", "safeshare", "run"]
        else:
            command = [
                python(),
                str(Path(__file__).with_name("baseline_watcher.py")),
                str(self.watched),
                str(self.output),
            ]
        self.log = (root / "stderr").open("w")
        self.proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self._wait_ready(kind, root)

    def _wait_ready(self, kind: str, root: Path) -> None:
        if kind == "baseline":
            assert self.proc.stdout is not None
            self.proc.stdout.readline()
            return
        log = root / "state" / "safeshare" / "log" / "safeshare.log"
        while not (log.exists() and "safeshare running" in log.read_text()):
            time.sleep(0.05)

    def drop(self, name: str, data: bytes) -> float:
        """Write one file as a camera import would; seconds until its copy is published."""
        target = self.output / name
        start = time.perf_counter()
        with (self.watched / name).open("wb") as handle:
            handle.write(data)
        while not target.exists():
            time.sleep(0.001)
        return time.perf_counter() - start

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


HEADERS = ["daemon", "safeshare", "bare watchdog copier", "ratio", "target"]


def measure(kind: str, photo: bytes, idle_seconds: int) -> Numbers:
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as folder:
        subject = Subject(Path(folder), kind)
        try:
            latencies = []
            for i in range(LATENCY_DROPS):
                latencies.append(subject.drop(f"drop_{i}.jpg", variant(photo, i)))
                time.sleep(0.1)
            start, cpu_before = time.perf_counter(), cpu_seconds(subject.proc.pid)
            for i in range(BURST):
                (subject.watched / f"burst_{i:04d}.jpg").write_bytes(variant(photo, 10_000 + i))
            last = subject.output / f"burst_{BURST - 1:04d}.jpg"
            while len(list(subject.output.glob("burst_*.jpg"))) < BURST or not last.exists():
                time.sleep(0.05)
            burst = time.perf_counter() - start
            burst_cpu = (cpu_seconds(subject.proc.pid) - cpu_before) / BURST
            time.sleep(3)
            before = cpu_seconds(subject.proc.pid)
            time.sleep(idle_seconds)
            idle_cpu = (cpu_seconds(subject.proc.pid) - before) * 60 / idle_seconds
            idle_rss = rss_mb(subject.proc.pid)
        finally:
            subject.stop()
    return Numbers(percentile(latencies, 50), percentile(latencies, 95), burst, burst_cpu, idle_cpu, idle_rss)


def run(idle_seconds: int = IDLE_SECONDS) -> list[list[str]]:
    photo = PHOTO.read_bytes()
    ours = measure("safeshare", photo, idle_seconds)
    base = measure("baseline", photo, idle_seconds)

    def row(name: str, a: float, b: float, unit: str, target: str) -> list[str]:
        ratio = f"{a / b:.1f}x" if b > 0 else "n/a"
        return [name, f"{a:.3f} {unit}", f"{b:.3f} {unit}", ratio, target]

    return [
        row("drop-to-published p50 (2.2 MB photo)", ours.p50, base.p50, "s", ""),
        row("drop-to-published p95", ours.p95, base.p95, "s", "< 0.5 s"),
        row(f"burst of {BURST} photos, all published", ours.burst, base.burst, "s", "< 1.2x"),
        # The burst's wall time depends on how busy the machine is; CPU per photo does not.
        row("CPU per burst photo", ours.burst_cpu * 1000, base.burst_cpu * 1000, "ms", ""),
        row("idle CPU per minute", ours.idle_cpu, base.idle_cpu, "s", "< 0.1 s"),
        row("idle resident memory", ours.idle_rss, base.idle_rss, "MB", "< 60 MB"),
    ]


if __name__ == "__main__":  # python -m bench.daemon_bench
    print(table(HEADERS, run(int(sys.argv[1]) if len(sys.argv) > 1 else IDLE_SECONDS)))
