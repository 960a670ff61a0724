"""Decoders run in a worker process: a crash, a hang or a memory hog costs one file."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from safeshare import isolation
from safeshare.batch import clean_one
from safeshare.errors import CorruptImage, TooLarge
from safeshare.forkstart import ForkedProcess
from safeshare.isolation import DecoderPool
from safeshare.pipeline import Pipeline, Settings, Status
from tests import crashers, synth
from tests.daemon_harness import wait_until


def _forking_or_skip() -> None:
    from safeshare import forkstart

    if not forkstart.single_threaded():
        threads = len(list(Path("/proc/self/task").iterdir())) if Path("/proc/self/task").is_dir() else "?"
        pytest.skip(
            f"{threads} threads run in this process ({threading.enumerate()} of them Python's, the rest "
            "a C library's, e.g. an earlier test's ONNX runtime): a decoder is not forked then"
        )


@pytest.fixture(params=["forked", "spawned"])
def pool(request: pytest.FixtureRequest) -> Iterator[DecoderPool]:
    """The decoder worker both ways it starts: forked where this is the only thread (a
    `clean` batch), spawned where another thread runs (the daemon, here a waiting one)."""
    release = threading.Event()
    waiting = threading.Thread(target=release.wait, daemon=True)
    if request.param == "spawned":
        waiting.start()
    else:
        _forking_or_skip()
    worker = DecoderPool(timeout=5, memory_mb=1024)
    worker.call(crashers.pid)  # started now, the one way
    assert isinstance(worker._workers[0].process, ForkedProcess) is (request.param == "forked")
    yield worker
    worker.close()
    release.set()
    if waiting.is_alive():
        waiting.join()


def test_a_segfault_costs_one_call_and_the_next_one_works(pool: DecoderPool) -> None:
    first = pool.call(crashers.pid)
    with pytest.raises(CorruptImage, match=r"crashed on this file \(killed by SIGSEGV\)"):
        pool.call(crashers.segfault)
    assert pool.call(crashers.pid) != first  # a fresh worker
    assert first != os.getpid()


def test_a_hang_is_cut_off_at_the_time_limit(pool: DecoderPool) -> None:
    pool.timeout = 0.5
    with pytest.raises(CorruptImage, match=r"longer than 0\.5 s"):
        pool.call(crashers.hang)
    pool.timeout = 5
    assert isinstance(pool.call(crashers.pid), int)


def test_a_memory_hog_hits_the_limit(pool: DecoderPool) -> None:
    with pytest.raises(TooLarge, match="more than the 1024 MB allowed"):
        pool.call(crashers.hog)


def test_killing_the_worker_mid_decode_refuses_that_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real HEIC being decoded when its worker is killed: that file is refused with a
    reason, nothing is published for it, and the next file cleans."""
    pool = DecoderPool(timeout=60)
    monkeypatch.setattr(isolation, "_pool", pool)
    big = synth.picture((1200, 900))
    source = tmp_path / "big.heic"
    import pillow_heif

    pillow_heif.from_pillow(big.resize((4000, 3000))).save(source, quality=90)
    out = tmp_path / "out"
    results = []
    thread = threading.Thread(target=lambda: results.append(clean_one(Pipeline(Settings()), source, out)))
    thread.start()
    pid = wait_until(pool.worker_pid, timeout=30, step=0.01)
    os.kill(pid, signal.SIGKILL)
    thread.join(timeout=60)
    (result,) = results
    assert (
        result.status is Status.REFUSED and "decoder crashed" in result.reason and "SIGKILL" in result.reason
    )
    assert not out.exists() or list(out.iterdir()) == []
    (tmp_path / "next.heic").write_bytes(synth.heic())
    assert clean_one(Pipeline(Settings()), tmp_path / "next.heic", out).status is Status.CLEANED
    pool.close()


def test_a_call_as_the_worker_goes_idle_is_taken_by_a_fresh_one() -> None:
    """The worker leaves after `idle` seconds without work; a request that arrives as it goes
    is never read by it, so a fresh worker takes it instead of the file failing as a crash."""
    import random
    import time

    pool = DecoderPool(timeout=5, memory_mb=1024, idle=0.05)
    pids = set()
    try:
        for _ in range(60):
            pids.add(pool.call(crashers.pid))
            time.sleep(random.uniform(0.03, 0.08))  # around the moment the worker leaves
    finally:
        pool.close()
    assert len(pids) > 5  # workers did leave idle while this ran: the race was exercised


def test_a_forked_decoder_holds_none_of_our_descriptors(tmp_path: Path) -> None:
    """A staged copy (and its lock) open in the cleaning process is not held by the forked
    decoder too: the decoder keeps its pipe and the standard streams, nothing else."""
    _forking_or_skip()
    held = os.open(tmp_path / "staged", os.O_CREAT | os.O_WRONLY, 0o600)
    pool = DecoderPool(timeout=5, memory_mb=1024)
    try:
        pid = pool.call(crashers.pid)
        assert pid != os.getpid()
        targets = [str(entry.readlink()) for entry in Path(f"/proc/{pid}/fd").iterdir()]
        assert str(tmp_path / "staged") not in targets
        assert len([t for t in targets if t.startswith("socket:")]) == 1  # its pipe
        assert len(targets) <= 4, targets  # the pipe and stdin, stdout, stderr
    finally:
        pool.close()
        os.close(held)


def test_a_forked_decoder_dies_with_the_process_that_forked_it(tmp_path: Path) -> None:
    """A `clean` killed mid-decode (SIGKILL: no atexit) leaves no decoder running on."""
    import subprocess
    import sys
    import time

    script = (
        "import sys, threading; from safeshare.isolation import DecoderPool; from tests import crashers\n"
        "pool = DecoderPool(timeout=60)\n"
        "print(pool.call(crashers.pid), flush=True)\n"
        "pool.call(crashers.hang)\n"
    )
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=root)
    assert proc.stdout is not None
    decoder = int(proc.stdout.readline())
    assert decoder != proc.pid
    assert b"spawn_main" not in Path(f"/proc/{decoder}/cmdline").read_bytes()  # it was forked
    proc.kill()
    proc.wait()
    deadline = time.monotonic() + 10
    while _running(decoder) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _running(decoder)


def _running(pid: int) -> bool:
    """Alive: neither gone nor a zombie waiting for whoever adopted it to reap it."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_process_holding_a_big_file_spawns_its_decoder_instead(tmp_path: Path) -> None:
    """Forked while holding a big input, a decoder would keep that memory alive and count it
    against its limit: past the headroom it is spawned, and gets its whole limit."""
    import multiprocessing.process

    from safeshare import forkstart

    _forking_or_skip()
    pool = DecoderPool(timeout=30, memory_mb=512)
    held = b"\x01" * (forkstart.HEADROOM + (32 << 20))  # a big file being worked on (in RAM)
    try:
        assert pool.call(crashers.pid) != os.getpid()
        assert isinstance(pool._workers[0].process, multiprocessing.process.BaseProcess)
        with pytest.raises(TooLarge, match="more than the 512 MB allowed"):
            pool.call(crashers.hog)
    finally:
        pool.close()
        del held


def test_a_decoder_cut_short_by_ctrl_c_is_killed_not_waited_for() -> None:
    """Ctrl-C while a decode runs: the pool's close (at exit) kills the busy decoder at
    once instead of asking it to leave and waiting for an answer that never comes."""
    import signal
    import time

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    pool = DecoderPool(timeout=60)
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        pid = pool.call(crashers.pid)
        signal.setitimer(signal.ITIMER_REAL, 0.3)
        with pytest.raises(KeyboardInterrupt):
            pool.call(crashers.hang)
        process = pool._workers[0].process
        started = time.monotonic()
        pool.close()
        assert time.monotonic() - started < 4  # not the 5 s a leaving decoder is given
        assert process.exitcode == -signal.SIGKILL
        assert not _running(pid)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        pool.close()


def test_the_users_own_memory_limit_stands_and_is_the_one_told(tmp_path: Path) -> None:
    """A soft `ulimit -v` lower than the configured limit is kept, not raised, and the
    refusal names the room the decoder really had."""
    import subprocess
    import sys

    script = (
        "import resource; from safeshare.isolation import DecoderPool\n"
        "from safeshare.errors import TooLarge; from tests import crashers\n"
        "resource.setrlimit(resource.RLIMIT_AS, (3 << 30, resource.RLIM_INFINITY))\n"
        "pool = DecoderPool(timeout=60, memory_mb=8192)\n"
        "try:\n"
        "    pool.call(crashers.hog)\n"
        "except TooLarge as exc:\n"
        "    print(exc)\n"
        "pool.close()\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=root, timeout=60
    )
    said = done.stdout.strip()
    assert "MB allowed" in said, (said, done.stderr)
    allowed = int(said.split("more than the ")[1].split(" MB")[0])
    assert 0 < allowed < 3072  # the user's 3 GB, less what the decoder held as it started


def test_a_forked_decoder_that_fails_before_serving_says_why(capfd: pytest.CaptureFixture[str]) -> None:
    from safeshare import forkstart

    _forking_or_skip()

    def broken(*args: object) -> None:
        raise RuntimeError("the worker's own bug")

    process, connection = forkstart.start(broken, 64, 0, 1.0)
    process.join(10)
    connection.close()
    assert process.exitcode == 70
    assert "RuntimeError: the worker's own bug" in capfd.readouterr().err
