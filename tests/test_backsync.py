"""A copy's data goes to disk while it is verified, never after it has its name."""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path

import pytest

from safeshare import backsync, outdir
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Settings, Status
from tests import synth


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The descriptors each background fsync was started on."""
    fds: list[int] = []
    real = outdir.BackgroundSync

    def counted(fd: int) -> backsync.BackgroundSync:
        fds.append(fd)
        return real(fd)

    monkeypatch.setattr(outdir, "BackgroundSync", counted)
    return fds


def _open_fds() -> set[str]:
    return {entry.name for entry in Path("/proc/self/fd").iterdir()}


def _temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".safeshare-")]


def test_a_copy_is_not_renamed_before_its_data_is_on_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rename waits for the fsync still running on its thread (held here until released)."""
    release, entered = threading.Event(), threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        entered.set()
        assert release.wait(30)
        real_fsync(fd)

    monkeypatch.setattr(backsync.os, "fsync", slow_fsync)
    output = OutputFolder(tmp_path / "out")
    staged = output.stage(Path(), [b"the clean copy"], 0o600, now=False)
    assert entered.wait(10) and staged.syncing is not None
    done: list[Path | None] = []
    committing = threading.Thread(target=lambda: done.append(staged.commit("a.jpg", replace=False)))
    committing.start()
    committing.join(0.5)
    assert committing.is_alive() and not (tmp_path / "out" / "a.jpg").exists()  # still waiting
    release.set()
    committing.join(10)
    assert done == [tmp_path / "out" / "a.jpg"]
    assert (tmp_path / "out" / "a.jpg").read_bytes() == b"the clean copy"


def test_a_copy_whose_data_did_not_reach_the_disk_is_not_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, started: list[int]
) -> None:
    """The disk fails the fsync (EIO, at the OS edge): the file fails with the reason, its
    temp file is removed, nothing has its name."""

    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(backsync.os, "fsync", failing_fsync)
    source = tmp_path / "in" / "IMG_1.jpg"
    source.parent.mkdir()
    source.write_bytes(synth.jpeg())
    out = tmp_path / "out"
    prepared = Pipeline(Settings(overlap=True)).prepare(source)
    assert not hasattr(prepared, "status")  # cleaned in memory
    result = prepared.stage(OutputFolder(out), Path())  # type: ignore[union-attr]
    assert getattr(result, "status", None) is Status.FAILED
    assert len(started) == 1  # it failed on the background fsync
    assert result.reason.endswith(": input/output error")  # type: ignore[union-attr]
    assert _temp_files(out) == [] and list(out.iterdir()) == []
    assert threading.active_count() == 1 or all(
        t.name != "safeshare-fsync" for t in threading.enumerate()
    )  # no fsync thread left running


def test_a_copy_verified_while_its_data_goes_to_disk_is_whole(tmp_path: Path, started: list[int]) -> None:
    """The daemon's path: a JPEG staged with its fsync meanwhile, verified, published, and
    no fsync thread outlives it."""
    from safeshare.batch import clean_one

    source = tmp_path / "in" / "IMG_1.jpg"
    source.parent.mkdir()
    source.write_bytes(synth.jpeg())
    result = clean_one(Pipeline(Settings(overlap=True)), source, tmp_path / "out")
    assert result.ok, result.reason
    assert result.output is not None and result.output.read_bytes()[:2] == b"\xff\xd8"
    assert len(started) == 1  # the daemon's setting: fsynced meanwhile
    assert all(t.name != "safeshare-fsync" for t in threading.enumerate())
    again = clean_one(Pipeline(Settings()), source, tmp_path / "out2")
    assert again.ok and len(started) == 1  # a batch's: fsynced before it is verified


def test_where_no_thread_can_start_the_copy_is_fsynced_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread limit reached (the OS edge): the fsync is done inline, the copy published,
    and no descriptor of it is left open."""

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(backsync.threading, "Thread", NoThread)
    before = _open_fds()
    output = OutputFolder(tmp_path / "out")
    staged = output.stage(Path(), [b"the clean copy"], 0o600, now=False)
    assert staged.commit("a.jpg", replace=False) == tmp_path / "out" / "a.jpg"
    output.close()
    assert _open_fds() <= before


def test_a_wait_cut_short_by_ctrl_c_is_not_taken_for_a_finished_fsync(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while waiting for the fsync: the copy still counts as unsynced (a commit would
    wait again), and discarding it closes its descriptors even then."""
    import signal

    release = threading.Event()
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:
        release.wait(30)
        real_fsync(fd)

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(backsync.os, "fsync", slow_fsync)
    previous = signal.signal(signal.SIGALRM, interrupt)
    output = OutputFolder(tmp_path / "out")
    try:
        staged = output.stage(Path(), [b"the clean copy"], 0o600, now=False)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            staged.synced()
        assert staged.syncing is not None  # not done: waited for again
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            staged.discard()  # cut short while waiting: its own descriptors still go
        assert staged.folder_fd == -1 and staged.lock_fd == -1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        release.set()
        output.close()
    assert _temp_files(tmp_path / "out") == []


def test_the_daemons_input_is_hashed_while_it_is_parsed(tmp_path: Path) -> None:
    """The digest worked out on a thread is the input's, for a clean copy and a refusal."""
    import hashlib

    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(synth.jpeg())
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a JPEG" * 10)
    pipeline = Pipeline(Settings(digest=True, overlap=True))
    for path in (good, bad):
        prepared = pipeline.prepare(path)
        assert prepared.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        if not hasattr(prepared, "status"):
            prepared.src.release()  # type: ignore[union-attr]
    assert getattr(pipeline.prepare(bad), "status", None) is Status.REFUSED
    assert all(t.name != "safeshare-sha256" for t in threading.enumerate())


def test_where_no_thread_can_start_the_input_is_hashed_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A thread limit reached: the daemon's input is hashed inline, and still cleaned."""
    import hashlib

    class NoThread(threading.Thread):
        def start(self) -> None:
            raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threading, "Thread", NoThread)
    source = tmp_path / "good.jpg"
    source.write_bytes(synth.jpeg())
    prepared = Pipeline(Settings(digest=True, overlap=True)).prepare(source)
    assert not hasattr(prepared, "status")  # cleaned, not failed
    assert prepared.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    prepared.src.release()  # type: ignore[union-attr]
