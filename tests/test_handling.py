"""The daemon's per-file path with a real ledger, real files and an injected clock: what is
decided for each kind of attempt, what is recorded, rescheduled and reported."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from safeshare.config import WatchConfig
from safeshare.decision import RETRY_DELAYS, Attempt, decide
from safeshare.disposition import Disposition
from safeshare.errors import InputError, OutputError, Truncated
from safeshare.fileio import Opener, open_path
from safeshare.handling import INTERRUPTED, OUTPUT_RETRY_DELAYS, FileHandler
from safeshare.ledger import Ledger
from safeshare.outdir import OutputFolder
from safeshare.pipeline import Pipeline, Prepared, Result, Settings, Status, stopped
from safeshare.safepath import PinnedDir
from safeshare.settle import Settler
from tests import synth
from tests.test_settle import Clock


@dataclass
class StubPipeline:
    """The real pipeline, except for the failures a test asks for (by file name)."""

    real: Pipeline = field(default_factory=lambda: Pipeline(Settings(workers_read_path=False, digest=True)))
    failures: dict[str, Exception] = field(default_factory=dict)
    key: str = "settings-a"
    calls: int = 0

    def prepare(self, source: Path, opener: Opener = open_path) -> Prepared | Result:
        self.calls += 1
        if source.name in self.failures:
            return stopped(source, self.failures[source.name])
        return self.real.prepare(source, opener)


class OneFolder:
    """A recursive watched folder, pinned as `Folders` pins it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.pinned = PinnedDir.open(root)

    def owner(self, path: Path) -> Any:
        if not path.is_relative_to(self.root):
            return None
        return SimpleNamespace(config=WatchConfig(self.root, recursive=True), pinned=self.pinned)


@dataclass
class Run:
    handler: FileHandler
    ledger: Ledger
    settler: Settler
    clock: Clock
    pipeline: StubPipeline
    reported: list[Result]
    pictures: Path
    out: Path

    def outcome(self, path: Path) -> Disposition | None:
        record = self.ledger.get(path)
        return None if record is None else record.outcome


@pytest.fixture()
def run(tmp_path: Path) -> Run:
    clock = Clock()
    pictures = tmp_path / "Pictures"
    pictures.mkdir()
    out = tmp_path / "safe"
    ledger = Ledger(tmp_path / "ledger.sqlite3")
    settler = Settler(1.0, lambda path: None, clock)
    pipeline = StubPipeline()
    reported: list[Result] = []
    handler = FileHandler(
        pipeline,  # type: ignore[arg-type]
        ledger,
        OneFolder(pictures),  # type: ignore[arg-type]
        settler,
        OutputFolder(out),
        reported.append,
    )
    return Run(handler, ledger, settler, clock, pipeline, reported, pictures, out)


def _photo(run: Run, name: str = "IMG_1.jpg", size: tuple[int, int] = (32, 16)) -> Path:
    path = run.pictures / name
    path.write_bytes(synth.jpeg(size=size))
    return path


def test_a_photo_is_published_recorded_and_reported_once(run: Run) -> None:
    photo = _photo(run)
    run.handler.process(photo)
    assert run.outcome(photo) is Disposition.PUBLISHED
    assert [r.output for r in run.reported] == [run.out / "IMG_1.jpg"]
    run.handler.process(photo)  # the same file, unchanged: nothing more
    assert run.pipeline.calls == 1 and len(run.reported) == 1


def test_an_unfinished_file_is_retried_on_the_schedule_then_refused(run: Run) -> None:
    photo = _photo(run, "half.jpg")
    run.pipeline.failures["half.jpg"] = Truncated("the image data ends early")
    for delay in RETRY_DELAYS:
        run.handler.process(photo)
        assert run.outcome(photo) is Disposition.RETRY_INPUT
        assert run.settler.next_due() == pytest.approx(run.clock.now + delay)
        assert run.reported == []  # not nagged while it may still be arriving
        run.clock.advance(delay)
    run.handler.process(photo)
    assert run.outcome(photo) is Disposition.REFUSED
    assert [r.status for r in run.reported] == [Status.REFUSED]


def test_an_unwritable_output_is_retried_less_and_less_often_and_said_once(run: Run) -> None:
    photo = _photo(run)
    run.pipeline.failures["IMG_1.jpg"] = OutputError("cannot write to safe: No space left on device")
    for delay in (*OUTPUT_RETRY_DELAYS, OUTPUT_RETRY_DELAYS[-1]):
        run.handler.process(photo)
        assert run.outcome(photo) is Disposition.RETRY_OUTPUT
        assert run.settler.next_due() == pytest.approx(run.clock.now + delay)
        run.clock.advance(delay)
    assert len(run.reported) == 1 and "No space left" in run.reported[0].reason
    del run.pipeline.failures["IMG_1.jpg"]
    run.handler.process(photo)  # space again: published
    assert run.outcome(photo) is Disposition.PUBLISHED and run.reported[-1].ok


def test_a_copy_gets_the_same_content_duplicate_and_a_deleted_copy_is_made_again(run: Run) -> None:
    photo = _photo(run)
    run.handler.process(photo)
    twin = run.pictures / "IMG_1 copy.jpg"
    twin.write_bytes(photo.read_bytes())
    run.handler.process(twin)
    assert run.outcome(twin) is Disposition.DUPLICATE
    assert run.reported[-1].already == run.out / "IMG_1.jpg"
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    (run.out / "IMG_1.jpg").unlink()  # the user deleted the clean copy
    third = run.pictures / "IMG_1 again.jpg"
    third.write_bytes(photo.read_bytes())
    run.handler.process(third)
    assert run.outcome(third) is Disposition.PUBLISHED
    assert (run.out / "IMG_1 again.jpg").is_file()


def test_new_settings_clean_the_same_photo_again(run: Run) -> None:
    photo = _photo(run)
    run.handler.process(photo)
    run.pipeline.key = "settings-b"  # e.g. convert_to or redaction changed
    again = run.pictures / "IMG_1 again.jpg"
    again.write_bytes(photo.read_bytes())
    run.handler.process(again)
    assert run.outcome(again) is Disposition.PUBLISHED


def test_a_refused_files_duplicate_is_reported_as_refused(run: Run) -> None:
    bad = run.pictures / "bad.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg" + bytes(64))
    run.handler.process(bad)
    for _ in RETRY_DELAYS:
        if run.outcome(bad) is not Disposition.RETRY_INPUT:
            break
        run.handler.process(bad)
    assert run.outcome(bad) is Disposition.REFUSED
    twin = run.pictures / "bad copy.jpg"
    twin.write_bytes(bad.read_bytes())
    run.handler.process(twin)
    assert run.outcome(twin) is Disposition.REFUSED
    assert run.reported[-1].status is Status.REFUSED and run.reported[-1].source == twin


def test_a_file_that_stopped_safeshare_twice_is_refused_not_retried_forever(run: Run) -> None:
    photo = _photo(run)
    st = photo.stat()
    # As a crash leaves it: the intent recorded before reading, no outcome.
    run.ledger.record(photo, Disposition.WORKING, size=st.st_size, mtime_ns=st.st_mtime_ns, history=False)
    assert run.handler._begin(photo, st)  # the next start takes it up once...
    record = run.ledger.get(photo)
    assert record is not None and record.reason == INTERRUPTED  # ...and crashes in it again
    run.handler.process(photo)  # the start after that
    assert run.outcome(photo) is Disposition.REFUSED
    assert "stopped twice" in run.reported[-1].reason
    assert run.pipeline.calls == 0  # not read again


def test_a_non_picture_is_skipped_quietly_and_a_picture_name_is_reported(run: Run) -> None:
    notes = run.pictures / "notes.txt"
    notes.write_text("shopping list")
    run.handler.process(notes)
    assert run.outcome(notes) is Disposition.SKIPPED and run.reported == []
    fake = run.pictures / "fake.jpg"
    fake.write_text("not a picture at all")
    run.handler.process(fake)
    assert run.outcome(fake) is Disposition.REFUSED and run.reported[-1].source == fake


def test_decide_is_the_one_place(tmp_path: Path) -> None:
    photo = tmp_path / "a.jpg"
    ok = Result(photo, Status.CLEANED)
    assert decide(Attempt(photo, 1, 1, ok)) is Disposition.PUBLISHED
    assert decide(Attempt(photo, 1, 1, stopped(photo, OutputError("full")))) is Disposition.RETRY_OUTPUT
    assert decide(Attempt(photo, 1, 1, stopped(photo, RuntimeError("bug")))) is Disposition.FAILED


def test_a_subfolder_swapped_for_a_link_while_queued_publishes_nothing_from_its_target(
    run: Run, tmp_path: Path
) -> None:
    trip = run.pictures / "2024" / "trip"
    trip.mkdir(parents=True)
    queued = trip / "IMG_9.jpg"
    queued.write_bytes(synth.jpeg())
    outside = tmp_path / "someone-elses"
    outside.mkdir()
    (outside / "IMG_9.jpg").write_bytes(synth.jpeg(size=(40, 40)))  # what the link leads to
    trip.rename(tmp_path / "moved-away")
    trip.symlink_to(outside)  # swapped after the event, before the worker reads it
    run.handler.process(queued)
    assert not run.out.exists() or list(run.out.rglob("*.jpg")) == []
    assert run.outcome(queued) is Disposition.FAILED  # said, and not final: the real folder may return
    assert "link to another place" in run.reported[-1].reason


def test_a_duplicate_says_where_the_copy_already_is(run: Run) -> None:
    from safeshare.messages import for_burst, for_file

    photo = _photo(run)
    run.handler.process(photo)
    twin = run.pictures / "IMG_1 (copy).jpg"
    twin.write_bytes(photo.read_bytes())
    run.handler.process(twin)
    message = for_file(run.reported[-1])
    assert "already in safe as IMG_1.jpg" in message.body
    assert "1 was already in safe" in for_burst(run.reported, run.out).body


def test_a_file_the_user_put_in_place_of_a_copy_is_never_replaced(run: Run) -> None:
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    copy = run.out / "IMG_1.jpg"
    copy.unlink()
    run.clock.advance(10)
    time_passes()
    copy.write_bytes(b"the user's own file, saved under the copy's name")
    _photo(run, size=(16, 32))  # the original is edited: its copy would be updated
    run.handler.process(photo)
    assert copy.read_bytes() == b"the user's own file, saved under the copy's name"
    assert (run.out / "IMG_1 (2).jpg").is_file()
    assert run.outcome(photo) is Disposition.PUBLISHED


def test_an_edited_photo_still_updates_its_own_copy(run: Run) -> None:
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    first = (run.out / "IMG_1.jpg").read_bytes()
    time_passes()
    _photo(run, size=(16, 32))
    run.handler.process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert (run.out / "IMG_1.jpg").read_bytes() != first


def test_resaving_a_photo_that_has_a_duplicate_makes_no_second_copy(run: Run) -> None:
    photo = _photo(run)
    run.handler.process(photo)
    twin = run.pictures / "sub" / "IMG_1.jpg"
    twin.parent.mkdir()
    twin.write_bytes(photo.read_bytes())
    run.handler.process(twin)
    assert run.outcome(twin) is Disposition.DUPLICATE
    time_passes()
    photo.write_bytes(photo.read_bytes())  # saved again, same bytes, new mtime
    run.handler.process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]


def test_a_stop_by_the_user_does_not_count_as_the_file_stopping_safeshare(run: Run) -> None:
    photo = _photo(run)
    run.pipeline.failures["IMG_1.jpg"] = MemoryError()  # stands for a file cut short
    for _ in range(3):  # stopped mid-file at three starts in a row
        run.handler.stopping.set()
        run.handler.process(photo)
        run.handler.current = photo
        run.handler.note_stop()
        run.handler.stopping.clear()
        run.handler.current = None
    del run.pipeline.failures["IMG_1.jpg"]
    run.handler.process(photo)
    assert run.outcome(photo) is Disposition.PUBLISHED


def test_a_user_file_at_the_copys_name_survives_an_attempt_cut_short_before_it(run: Run) -> None:
    """The row was rewritten 'working' by an attempt that never published (a busy ledger, a
    stop): it tells nothing about the copy, so the user's file is still not replaced, by
    this handler nor by a fresh one (a restart)."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    copy = run.out / "IMG_1.jpg"
    time_passes()
    copy.unlink()
    copy.write_bytes(b"the user's own file")
    _photo(run, size=(16, 32))
    st = photo.stat()
    assert run.handler._begin(photo, st)  # the first attempt got this far, then waited
    run.handler.process(photo)
    assert copy.read_bytes() == b"the user's own file"
    assert (run.out / "IMG_1 (2).jpg").is_file()


def time_passes() -> None:
    """File times (mtime, ctime) are real: let the coarsest file-system tick go by."""
    import time

    time.sleep(0.02)


def test_a_long_copy_is_waited_for_while_it_grows_and_refused_once_it_stops(run: Run) -> None:
    """A 4 GB video arriving over USB takes minutes: while each look finds the file grown,
    the retries go on (at the longest delay) instead of running out; once it stops growing
    and is still unfinished, the usual schedule ends in a refusal."""
    video = run.pictures / "VID_1.mp4"
    run.pipeline.failures["VID_1.mp4"] = Truncated("its media data runs past the end of the file")
    for n in range(len(RETRY_DELAYS) + 4):  # more looks than the schedule has
        with video.open("ab") as handle:
            handle.write(b"\0" * 4096)  # the copy goes on
        run.handler.process(video)
        assert run.outcome(video) is Disposition.RETRY_INPUT, n
        delay = RETRY_DELAYS[min(n, len(RETRY_DELAYS) - 1)]
        assert run.settler.next_due() == pytest.approx(run.clock.now + delay)
        run.clock.advance(delay)
    run.handler.process(video)  # unchanged since the last look: the last retry
    assert run.outcome(video) is Disposition.REFUSED
    assert [r.status for r in run.reported] == [Status.REFUSED]


def test_a_version_that_fails_keeps_the_earlier_copy_its_own(run: Run) -> None:
    """A photo is published, its next version looks unfinished or is refused, then a good
    version comes: it replaces the photo's own copy (said as updated), never lands beside
    it as 'name (2)' leaving the first copy owned by nobody."""
    photo = _photo(run, "IMG_7.jpg")
    run.handler.process(photo)
    assert run.ledger.get(photo).output == run.out / "IMG_7.jpg"  # type: ignore[union-attr]
    photo.write_bytes(synth.jpeg(size=(40, 20)))
    run.pipeline.failures["IMG_7.jpg"] = InputError("corrupt: a refused version")
    run.handler.process(photo)
    assert run.outcome(photo) is Disposition.REFUSED
    assert run.ledger.get(photo).output == run.out / "IMG_7.jpg"  # type: ignore[union-attr]
    del run.pipeline.failures["IMG_7.jpg"]
    photo.write_bytes(synth.jpeg(size=(48, 24)))
    run.handler.process(photo)
    assert run.outcome(photo) is Disposition.PUBLISHED
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_7.jpg"]
    assert run.reported[-1].updated


def _restarted(run: Run) -> FileHandler:
    """A fresh handler on the same ledger and folders: the daemon after a restart."""
    return FileHandler(
        run.pipeline,  # type: ignore[arg-type]
        run.ledger,
        OneFolder(run.pictures),  # type: ignore[arg-type]
        run.settler,
        OutputFolder(run.out),
        run.reported.append,
    )


def test_a_stop_just_after_a_copy_is_renamed_keeps_the_copy_its_own(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM lands between a copy's rename and its row: the stop's note must not erase the
    intent that says the copy is this photo's, or the next start, finding a copy it cannot
    tell is its own, writes the photo again beside it as 'IMG_1 (2).jpg'."""
    from safeshare.pipeline import Ready

    photo = _photo(run)
    real = Ready.commit

    def commit_then_stop(self: Ready, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        run.handler.stopping.set()  # the signal arrives right after the rename
        return result

    monkeypatch.setattr(Ready, "commit", commit_then_stop)
    run.handler.process(photo)
    monkeypatch.setattr(Ready, "commit", real)
    assert run.outcome(photo) is Disposition.WORKING and run.reported == []
    again = _restarted(run)
    again.process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert run.outcome(photo) is Disposition.PUBLISHED
    record = run.ledger.get(photo)
    assert record is not None and record.reason != INTERRUPTED  # publishing is not a crash of its own
    # The user was never told of the first copy: this is its first word, "cleaned"
    assert [(r.output, r.updated) for r in run.reported] == [(run.out / "IMG_1.jpg", False)]


def test_a_file_that_took_the_copys_name_during_a_stop_is_not_taken_for_the_copy(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 'publishing' row names IMG_1.jpg; just then another program puts its own file
    there (so the rename is refused) and the stop comes before another name is tried. The
    row names the file safeshare was renaming, which is not the one there: the next start
    leaves that file alone and writes 'IMG_1 (2).jpg'."""
    from safeshare.pipeline import Ready

    photo = _photo(run)
    real = Ready.commit

    def raced_then_stopped(self: Ready, name: str, **kwargs: Any) -> Any:
        (self.folder / name).write_bytes(b"someone else's file")  # after the 'taken' check
        run.handler.stopping.set()
        return real(self, name, **kwargs)

    monkeypatch.setattr(Ready, "commit", raced_then_stopped)
    run.handler.process(photo)
    monkeypatch.setattr(Ready, "commit", real)
    _restarted(run).process(photo)
    assert (run.out / "IMG_1.jpg").read_bytes() == b"someone else's file"
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_the_users_file_at_the_copys_name_survives_a_stop_while_an_edit_is_published(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user put their own file where the photo's copy was; the photo is edited, and the
    stop comes while its new copy is being published (which declines the user's file). The
    'publishing' row is newer than the user's file, but names another file: the next start
    does not take the user's file for the photo's copy."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    copy = run.out / "IMG_1.jpg"
    time_passes()
    copy.unlink()
    copy.write_bytes(b"the user's own file")
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    from safeshare.pipeline import Ready

    real = Ready.commit

    def stopped_meanwhile(self: Ready, name: str, **kwargs: Any) -> Any:
        run.handler.stopping.set()
        return real(self, name, **kwargs)

    monkeypatch.setattr(Ready, "commit", stopped_meanwhile)
    run.handler.process(photo)
    monkeypatch.setattr(Ready, "commit", real)
    _restarted(run).process(photo)
    assert copy.read_bytes() == b"the user's own file"
    assert (run.out / "IMG_1 (2).jpg").is_file()


class _Killed(BaseException):
    """Stands for kill -9 or a power cut: nothing after it runs."""


def _stop_after_rename(run: Run, monkeypatch: pytest.MonkeyPatch, handler: FileHandler | None = None) -> None:
    from safeshare.pipeline import Ready

    real = Ready.commit
    stopped = handler or run.handler

    def commit_then_stop(self: Ready, *args: Any, **kwargs: Any) -> Any:
        result = real(self, *args, **kwargs)
        stopped.stopping.set()
        return result

    monkeypatch.setattr(Ready, "commit", commit_then_stop)


def _killed_before_rename(run: Run, monkeypatch: pytest.MonkeyPatch, photo: Path) -> None:
    from safeshare.pipeline import Ready

    def die(self: Ready, *args: Any, **kwargs: Any) -> Any:
        raise _Killed

    with monkeypatch.context() as patch:
        patch.setattr(Ready, "commit", die)
        with pytest.raises(_Killed):
            run.handler.process(photo)  # its temp file is discarded, as the start's sweep does


def _cut_while_parsing(
    run: Run,
    monkeypatch: pytest.MonkeyPatch,
    photo: Path,
    how: str = "stop",
    handler: FileHandler | None = None,
    meanwhile: Callable[[], None] | None = None,
) -> None:
    """`handler` (the run's) takes up `photo` and is stopped, or dies (`how`), while it is
    parsed; `meanwhile` is what happens just before (the user doing something)."""
    cut = handler or run.handler

    def prepare(*args: Any, **kwargs: Any) -> Any:
        if meanwhile is not None:
            meanwhile()
        if how == "crash":
            raise _Killed
        cut.stopping.set()
        return stopped(photo, InputError("the decoder was ended"))

    with monkeypatch.context() as patch:
        patch.setattr(run.pipeline, "prepare", prepare)
        if how == "crash":
            with pytest.raises(_Killed):
                cut.process(photo)
        else:
            cut.process(photo)


def test_a_copy_changed_in_place_after_a_stop_is_not_replaced(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same file (inode) at the copy's name, but written to since its rename: the user's."""
    photo = _photo(run)
    with monkeypatch.context():
        _stop_after_rename(run, monkeypatch)
        run.handler.process(photo)
    monkeypatch.undo()
    copy = run.out / "IMG_1.jpg"
    time_passes()
    with copy.open("r+b") as handle:  # an in-place edit keeps the inode
        handle.seek(0, 2)
        handle.write(b"THE USER'S NOTE")
    _restarted(run).process(photo)
    assert copy.read_bytes().endswith(b"THE USER'S NOTE")
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_a_file_given_the_freed_inode_of_a_temp_file_is_not_taken_for_the_copy(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed before the rename: the temp file is removed, and ext4 gives its inode number to
    the next file made, here the user's at the copy's name. Size and mtime tell them apart."""
    photo = _photo(run)
    _killed_before_rename(run, monkeypatch, photo)
    copy = run.out / "IMG_1.jpg"
    copy.write_bytes(b"the user's own export")
    _restarted(run).process(photo)
    assert copy.read_bytes() == b"the user's own export"
    assert (run.out / "IMG_1 (2).jpg").is_file()


@pytest.mark.parametrize("cut", ["killed before its exchange", "stopped just after its rename"])
def test_an_edit_cut_short_while_it_is_published_leaves_one_copy_said_updated(
    run: Run, monkeypatch: pytest.MonkeyPatch, cut: str
) -> None:
    """The row names the earlier copy it was to replace and the copy replacing it: whichever
    is there, unchanged, is the photo's, and the user is told of an update."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    if cut.startswith("killed"):
        _killed_before_rename(run, monkeypatch, photo)
    else:
        with monkeypatch.context() as patch:
            _stop_after_rename(run, patch)
            run.handler.process(photo)
    _restarted(run).process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert [r.updated for r in run.reported] == [False, True]  # cleaned, then updated


def test_a_first_copy_published_twice_over_stops_is_still_said_cleaned(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Renamed, stopped; published again over that copy at the next start, stopped again: the
    user never heard of either, so the third start's word is "cleaned"."""
    photo = _photo(run)
    with monkeypatch.context() as patch:
        _stop_after_rename(run, patch)
        run.handler.process(photo)
    second = _restarted(run)
    with monkeypatch.context() as patch:
        _stop_after_rename(run, patch, second)
        second.process(photo)
    assert run.reported == []
    _restarted(run).process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert [r.updated for r in run.reported] == [False]


def test_a_crash_while_parsing_again_after_a_stop_keeps_the_copy_known(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The row taken up at a start carries the copy it names: a crash then, while the photo
    is parsed again, does not turn its copy into someone else's file."""
    photo = _photo(run)
    with monkeypatch.context() as patch:
        _stop_after_rename(run, patch)
        run.handler.process(photo)
    _cut_while_parsing(run, monkeypatch, photo, "crash", _restarted(run))
    _restarted(run).process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert run.outcome(photo) is Disposition.PUBLISHED


def test_a_file_that_crashes_the_parser_is_still_refused_after_two_crashes_following_a_stop(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = _photo(run)
    with monkeypatch.context() as patch:
        _stop_after_rename(run, patch)
        run.handler.process(photo)
    for _ in range(2):
        _cut_while_parsing(run, monkeypatch, photo, "crash", _restarted(run))
    _restarted(run).process(photo)
    assert run.outcome(photo) is Disposition.REFUSED


def test_a_publishing_row_that_waited_for_a_busy_ledger_still_names_the_copy(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another program holds the ledger for 3 s just as the row is written: the row's time is
    when it was written, so the copy renamed right after it is still the photo's."""
    import sqlite3
    import threading

    photo = _photo(run)
    real = FileHandler._publishing

    def while_busy(self: FileHandler, *args: Any) -> str:
        held = threading.Event()

        def hold() -> None:
            db = sqlite3.connect(run.ledger.path, timeout=0)
            db.execute("BEGIN IMMEDIATE")
            held.set()
            threading.Event().wait(3.0)
            db.rollback()
            db.close()

        threading.Thread(target=hold, daemon=True).start()
        held.wait()
        return real(self, *args)

    with monkeypatch.context() as patch:
        patch.setattr(FileHandler, "_publishing", while_busy)
        _stop_after_rename(run, patch)
        run.handler.process(photo)
    _restarted(run).process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]


@pytest.mark.parametrize("how", ["stop", "crash"])
def test_a_stop_or_crash_while_an_edit_is_cleaned_leaves_one_copy_said_updated(
    run: Run, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The most ordinary stop: the photo was published, then edited, and safeshare stops (or
    dies) while the edit is being parsed. The next start updates the photo's copy in place."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    _cut_while_parsing(run, monkeypatch, photo, how)
    _restarted(run).process(photo)
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1.jpg"]
    assert [r.updated for r in run.reported] == [False, True]


def test_a_file_whose_handling_raised_is_not_the_one_a_later_stop_is_noted_on(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = _photo(run)

    def bug(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    with monkeypatch.context() as patch:
        patch.setattr(run.pipeline, "prepare", bug)
        with pytest.raises(RuntimeError):
            run.handler.process(photo)
    assert run.handler.current is None


def test_a_copy_the_user_edits_while_the_photos_edit_is_cleaned_survives_a_stop(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The user edits the copy in place, keeping its size and mtime (`touch -r`), while the
    photo's edit is being parsed; then the stop. The rows rewritten since name the copy with
    its ctime: the changed copy is not the photo's any more."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    copy = run.out / "IMG_1.jpg"
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))

    def user_edits_copy() -> None:
        time_passes()
        before = copy.stat()
        data = bytearray(copy.read_bytes())
        data[-3:-2] = b"U"  # same size
        copy.write_bytes(bytes(data))
        os.utime(copy, ns=(before.st_atime_ns, before.st_mtime_ns))  # mtime put back

    _cut_while_parsing(run, monkeypatch, photo, meanwhile=user_edits_copy)
    edited = copy.read_bytes()
    _restarted(run).process(photo)
    assert copy.read_bytes() == edited
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_another_photo_made_where_one_was_deleted_does_not_take_its_copy_over_a_stop(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    copy = run.out / "IMG_1.jpg"
    old = copy.read_bytes()
    photo.unlink()
    run.handler.released.add(photo)  # as the daemon notes a deletion
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    _cut_while_parsing(run, monkeypatch, photo)
    _restarted(run).process(photo)
    assert copy.read_bytes() == old
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_a_photo_made_where_one_was_deleted_after_a_restart_does_not_take_its_copy(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit stopped while it was cleaned leaves a row naming the photo's copy; after the
    restart the photo is deleted and another made at its path, which is stopped too. The
    row's copy is not the new photo's: it gets its own name."""
    photo = _photo(run, size=(32, 16))
    run.handler.process(photo)
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    second = _restarted(run)
    _cut_while_parsing(run, monkeypatch, photo)
    copy = run.out / "IMG_1.jpg"
    old = copy.read_bytes()
    photo.unlink()
    second.released.add(photo)  # as the daemon notes the deletion
    time_passes()
    photo.write_bytes(synth.jpeg(size=(24, 24)))
    _cut_while_parsing(run, monkeypatch, photo, handler=second)
    _restarted(run).process(photo)
    assert copy.read_bytes() == old
    assert sorted(p.name for p in run.out.iterdir()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]


def test_a_copy_changed_while_its_final_row_waits_for_a_busy_ledger_is_not_replaced(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A published copy is the photo's since its row was asked for, not since a busy ledger
    let it be written: a change made meanwhile is someone else's."""
    import sqlite3
    import threading

    from safeshare.ledger import Ledger

    photo = _photo(run, size=(32, 16))
    copy = run.out / "IMG_1.jpg"
    real = Ledger.record
    held_once: list[bool] = []

    def busy_at_publish(self: Ledger, path: Path, outcome: Disposition, **kwargs: Any) -> None:
        if outcome is Disposition.PUBLISHED and not held_once:
            held_once.append(True)
            held = threading.Event()

            def hold() -> None:
                db = sqlite3.connect(run.ledger.path, timeout=0)
                db.execute("BEGIN IMMEDIATE")
                held.set()
                time_passes()
                copy.write_bytes(b"the user's version of the copy")  # while the row waits
                threading.Event().wait(0.5)
                db.rollback()
                db.close()

            threading.Thread(target=hold, daemon=True).start()
            held.wait()
        real(self, path, outcome, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Ledger, "record", busy_at_publish)
        run.handler.process(photo)
    time_passes()
    photo.write_bytes(synth.jpeg(size=(16, 32)))
    _restarted(run).process(photo)
    assert copy.read_bytes() == b"the user's version of the copy"
    assert (run.out / "IMG_1 (2).jpg").is_file()
