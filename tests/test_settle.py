"""The settle thread's schedule, driven by an injected clock: exact, no sleeping."""

from __future__ import annotations

import threading
from pathlib import Path

from safeshare.settle import Settler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make(tmp_path: Path, settle: float = 1.0) -> tuple[Settler, Clock, list[Path]]:
    clock = Clock()
    ready: list[Path] = []
    return Settler(settle, ready.append, clock), clock, ready


def test_a_file_still_being_written_waits_until_it_holds_still(tmp_path: Path) -> None:
    settler, clock, ready = make(tmp_path)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x" * 10)
    settler.touch(photo)
    assert settler.step() == 0 and settler.next_due() == clock.now + 1.0
    clock.advance(1.0)
    assert settler.step() == 0  # first look: size and mtime noted, not yet known to be stable
    clock.advance(1.0)
    assert settler.step() == 1 and ready == [photo]  # unchanged since the last look: handed on
    assert settler.pending_count() == 0 and settler.next_due() is None


def test_a_write_between_looks_starts_the_wait_again(tmp_path: Path) -> None:
    settler, clock, ready = make(tmp_path)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    settler.touch(photo)
    clock.advance(1.0)
    settler.step()
    clock.advance(0.5)
    photo.write_bytes(b"xy")
    settler.touch(photo)  # modified: stability must be seen again, a full settle period later
    clock.advance(0.5)
    assert settler.step() == 0
    clock.advance(0.5)
    assert settler.step() == 0  # first look after the change
    clock.advance(1.0)
    assert settler.step() == 1 and ready == [photo]


def test_close_after_write_is_handed_on_at_once(tmp_path: Path) -> None:
    settler, _clock, ready = make(tmp_path, settle=30.0)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    settler.touch(photo, complete=True)
    assert settler.step() == 1 and ready == [photo]


def test_a_retry_falls_due_exactly_after_its_delay_without_a_stability_check(tmp_path: Path) -> None:
    settler, clock, ready = make(tmp_path)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    settler.retry(photo, 300.0)
    assert settler.pending_count(due_within=5.0) == 0  # a retry minutes away holds nothing back
    assert settler.pending_count() == 1
    clock.advance(299.999)
    assert settler.step() == 0
    clock.advance(0.001)
    assert settler.step() == 1 and ready == [photo]


def test_a_new_event_replaces_a_pending_retry(tmp_path: Path) -> None:
    settler, clock, ready = make(tmp_path)
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    settler.retry(photo, 300.0)
    settler.touch(photo, complete=True)  # the user saved it again: look now
    assert settler.step() == 1
    clock.advance(300.0)
    assert settler.step() == 0 and ready == [photo]  # the old retry is gone, not a second hand-on


def test_gone_links_and_forgotten_files_are_dropped(tmp_path: Path) -> None:
    settler, _clock, ready = make(tmp_path)
    link = tmp_path / "link.jpg"
    link.symlink_to(tmp_path / "elsewhere.jpg")
    (tmp_path / "elsewhere.jpg").write_bytes(b"x")
    gone = tmp_path / "gone.jpg"
    kept = tmp_path / "kept.jpg"
    kept.write_bytes(b"x")
    for path in (link, gone, kept):
        settler.touch(path, complete=True)
    settler.forget(kept)
    assert settler.step() == 0 and ready == [] and settler.pending_count() == 0


def test_the_thread_sleeps_until_due_and_stops_when_asked(tmp_path: Path) -> None:
    """The real loop with the real clock: a complete file is handed on, stop() ends it."""
    got = threading.Event()
    settler = Settler(60.0, lambda path: got.set())
    thread = threading.Thread(target=settler.run, daemon=True)
    thread.start()
    photo = tmp_path / "a.jpg"
    photo.write_bytes(b"x")
    settler.touch(photo, complete=True)
    assert got.wait(10)
    settler.stop()
    thread.join(10)
    assert not thread.is_alive()


def test_a_file_still_open_for_writing_waits_though_it_holds_still(tmp_path: Path) -> None:
    """A download that allocated the whole file first, then fills it in with pauses: its
    size and mtime hold still between writes, but its writer has it open. It is handed on
    once the writer closes it, also when it was due again as a retry. (The real /proc scan,
    on a file this test holds open.)"""
    from safeshare.openfiles import write_check

    clock = Clock()
    ready: list[Path] = []
    settler = Settler(1.0, ready.append, clock, being_written=write_check())
    path = tmp_path / "VID.mp4"
    writer = path.open("wb")
    try:
        writer.truncate(1 << 20)  # full size at once
        writer.flush()
        settler.touch(path)
        for _ in range(5):  # it holds still, look after look
            clock.advance(1.0)
            settler.step()
        assert ready == []
        settler.retry(path, 2.0)
        clock.advance(2.0)
        settler.step()
        assert ready == []
    finally:
        writer.close()
    clock.advance(1.0)
    settler.step()
    assert ready == [path]


def test_a_file_open_only_for_reading_is_not_held(tmp_path: Path) -> None:
    from safeshare.openfiles import write_check

    path = tmp_path / "IMG.jpg"
    path.write_bytes(b"\xff\xd8" * 100)
    with path.open("rb"):
        assert write_check()(path) is False
    with path.open("r+b"):
        assert write_check()(path) is True
