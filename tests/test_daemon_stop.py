"""SIGTERM stops the daemon within about two seconds even in the middle of a file, and the
file cut short is cleaned at the next start (nothing lost, nothing partial)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests import synth
from tests.daemon_harness import DaemonRun, wait_until


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in (entry / "cmdline").read_bytes():
            found.append(int(entry.name))  # a decoder worker (not multiprocessing's tracker)
    return found


def _state(pid: int) -> str:
    """The process's state letter ('' when gone; 'Z' when dead but not yet reaped)."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc to find the decoder process")
def test_sigterm_mid_file_exits_at_once_and_the_file_is_cleaned_next_start(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    with run:
        _stop_mid_file(run)
    assert run.temp_files() == []
    assert run.outcomes()[str(run.pictures / "second.heic")] == "published"


def _stop_mid_file(run: DaemonRun) -> None:
    """SIGTERM while the second file waits on a hung decoder; then start again."""
    assert run.proc is not None
    (run.pictures / "first.heic").write_bytes(synth.heic())
    wait_until(lambda: (run.output / "first.jpg").exists(), timeout=60)
    decoders = wait_until(lambda: _children(run.proc.pid) if run.proc else None)
    for pid in decoders:  # the decoder hangs from now on, as on a pathological file
        os.kill(pid, signal.SIGSTOP)
    (run.pictures / "second.heic").write_bytes(synth.heic(with_video=False))
    wait_until(lambda: run.outcomes().get(str(run.pictures / "second.heic")) == "working", timeout=30)
    time.sleep(0.5)  # well inside the file: the worker waits on the stopped decoder
    started = time.monotonic()
    run.proc.send_signal(signal.SIGTERM)
    code = run.proc.wait(timeout=30)
    took = time.monotonic() - started
    assert code == 0 and took < 3.0, f"exit {code} after {took:.1f} s"
    left = {
        pid: Path(f"/proc/{pid}/cmdline").read_bytes()[:200]
        for pid in decoders
        if _state(pid) not in ("", "Z")
    }
    assert left == {}, f"decoder processes left behind: {left}"
    assert not (run.output / "second.jpg").exists()
    assert run.outcomes()[str(run.pictures / "second.heic")] == "working"  # the intent stays
    run.proc = None
    run.start()
    wait_until(lambda: (run.output / "second.jpg").exists(), timeout=60)
