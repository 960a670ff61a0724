"""Decoders run in a worker process: a crash, a hang or a memory hog costs one file."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest

from safeshare import isolation
from safeshare.batch import clean_one
from safeshare.errors import CorruptImage, TooLarge
from safeshare.isolation import DecoderPool
from safeshare.pipeline import Pipeline, Settings, Status
from tests import crashers, synth
from tests.daemon_harness import wait_until


@pytest.fixture()
def pool() -> DecoderPool:
    worker = DecoderPool(timeout=5, memory_mb=1024)
    yield worker
    worker.close()


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
