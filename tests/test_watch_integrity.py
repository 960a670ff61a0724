"""Nothing from outside the watched folders: links where a watched folder should be, hidden
folders below one, and watches the OS refuses. Real folders, real links, a real watchdog
observer; a refused watch is injected where the OS says it (schedule, inotify_add_watch)."""

from __future__ import annotations

import ctypes
import errno
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer, inotify_c
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.observers.inotify import InotifyObserver

from safeshare.config import WatchConfig
from safeshare.folders import Folder, Folders, files_in
from safeshare.safepath import open_file_beneath
from safeshare.watcher import EventFilter, is_watched_candidate
from safeshare.watchlimits import make_observer
from tests import synth
from tests.daemon_harness import wait_until

LIMIT = "the system's limit on watched folders is reached (fs.inotify.max_user_watches)"


class Recorder:
    """What the daemon would be told: files to look at, folders to walk."""

    def __init__(self) -> None:
        self.touched: list[Path] = []
        self.walked: list[Path] = []
        self.appeared: list[Path] = []
        self.notices: list[str] = []

    def filter(self, excluded: Path) -> EventFilter:
        return EventFilter(
            lambda p, complete: self.touched.append(p), lambda p: None, self.walked.append, excluded
        )

    def on_appeared(self, folder: Folder) -> None:
        self.appeared.append(folder.path)


@pytest.fixture()
def home() -> Path:
    home = Path.home()  # the per-test HOME of conftest: notices show it as ~
    (home / "Pictures").mkdir(parents=True)
    return home


@pytest.fixture()
def observers() -> Iterator[Callable[[BaseObserver], BaseObserver]]:
    started: list[BaseObserver] = []

    def start(observer: BaseObserver) -> BaseObserver:
        observer.start()
        started.append(observer)
        return observer

    yield start
    for observer in started:
        observer.stop()
        observer.join(timeout=10)


def _folders(
    recorder: Recorder, observer: BaseObserver, *watches: WatchConfig, output: Path | None = None
) -> Folders:
    excluded = output or Path("/nonexistent-output")
    return Folders(
        watches, observer, recorder.filter(excluded), notice=recorder.notices.append, poll_seconds=20
    )


def _checks(folders: Folders, recorder: Recorder, times: int = 3) -> None:
    for _ in range(times):
        folders.check(recorder.on_appeared)


# -- 1. a watched folder that is (or becomes) a link is not followed -------------------------
def test_a_watched_folder_that_is_a_link_is_not_followed(
    home: Path, observers: Callable[..., BaseObserver]
) -> None:
    elsewhere = home / "private"
    elsewhere.mkdir()
    (elsewhere / "secret.jpg").write_bytes(synth.jpeg())
    (home / "Pictures" / "Screenshots").symlink_to(elsewhere)
    recorder, observer = Recorder(), observers(Observer())
    folders = _folders(recorder, observer, WatchConfig(home / "Pictures" / "Screenshots"))
    _checks(folders, recorder)
    folder = folders.folders[0]
    assert folder.state == "symlink" and folder.handle is None and not observer.emitters
    assert recorder.notices == [
        "~/Pictures/Screenshots is a link to another place; safeshare does not follow it, "
        "so new pictures there are not cleaned"
    ]
    assert folder.describe()["state"] == "symlink" and recorder.appeared == []
    assert folders.owner(home / "Pictures" / "Screenshots" / "secret.jpg") is None


def test_a_folder_swapped_for_a_link_while_running_is_dropped_and_reads_nothing_there(
    home: Path, observers: Callable[..., BaseObserver]
) -> None:
    shots, elsewhere = home / "Pictures" / "Screenshots", home / "private"
    shots.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret.jpg").write_bytes(synth.jpeg())
    recorder, observer = Recorder(), observers(Observer())
    folders = _folders(recorder, observer, WatchConfig(shots))
    _checks(folders, recorder, 1)
    folder = folders.folders[0]
    assert folder.state == "watching" and recorder.appeared == [shots]
    pinned = folder.pinned
    assert pinned is not None

    shots.rename(home / "Pictures" / "Screenshots-old")  # the attacker writes to the parent
    shots.symlink_to(elsewhere)
    # Before the periodic check notices, the pinned folder still leads to the real one only.
    with pytest.raises(FileNotFoundError):
        open_file_beneath(pinned, shots / "secret.jpg")
    _checks(folders, recorder)
    assert folder.state == "symlink" and folder.handle is None and folder.pinned is None
    assert not observer.emitters and pinned.closed
    assert folders.owner(shots / "secret.jpg") is None
    (elsewhere / "new.jpg").write_bytes(synth.jpeg())
    time.sleep(0.5)
    assert recorder.touched == []
    assert len(recorder.notices) == 1 and "is a link to another place" in recorder.notices[0]

    shots.unlink()  # a real folder takes its place again: watched, and said so
    shots.mkdir()
    _checks(folders, recorder)
    assert folder.state == "watching" and recorder.appeared == [shots, shots]
    assert recorder.notices[1:] == ["~/Pictures/Screenshots is watched again"]


def test_links_above_the_folder_are_the_users_setup_but_a_later_swap_is_not_followed(
    home: Path, observers: Callable[..., BaseObserver]
) -> None:
    data, other = home / "data" / "pictures", home / "other"
    (data / "Screenshots").mkdir(parents=True)
    (other / "Screenshots").mkdir(parents=True)
    (home / "Pictures").rmdir()
    (home / "Pictures").symlink_to(data)  # ~/Pictures -> /data/pictures: common, and fine
    recorder, observer = Recorder(), observers(Observer())
    folders = _folders(recorder, observer, WatchConfig(home / "Pictures" / "Screenshots"))
    _checks(folders, recorder)
    folder = folders.folders[0]
    assert folder.state == "watching" and folder.path == data / "Screenshots" and recorder.notices == []

    (home / "Pictures").unlink()
    (home / "Pictures").symlink_to(other)  # re-linked while running
    _checks(folders, recorder)
    assert folder.state == "moved" and folder.handle is None and not observer.emitters
    assert len(recorder.notices) == 1 and "now leads to another place" in recorder.notices[0]
    assert folders.owner(other / "Screenshots" / "x.jpg") is None

    (home / "Pictures").unlink()
    (home / "Pictures").symlink_to(data)
    _checks(folders, recorder)
    assert folder.state == "watching" and folder.path == data / "Screenshots"


# -- 3. hidden folders are skipped on events exactly as by the rescan ------------------------
def test_files_in_hidden_folders_are_skipped_on_events_as_by_the_rescan(
    home: Path, observers: Callable[..., BaseObserver]
) -> None:
    pictures, output = home / "Pictures", home / "Pictures" / "Safe to share"
    recorder, observer = Recorder(), observers(make_observer(timeout=1))
    folders = _folders(recorder, observer, WatchConfig(pictures, recursive=True), output=output)
    _checks(folders, recorder, 1)
    assert folders.folders[0].state == "watching"
    hidden = [
        pictures / ".Trash-1000" / "files" / "x.jpg",
        pictures / ".thumbnails" / "normal" / "x.png",
        pictures / "2024" / ".hidden" / "deeper" / "y.jpg",
        output / "Screenshots" / "clean.jpg",
    ]
    for path in hidden:  # folders first (watchdog adds watches for them), then their files
        path.parent.mkdir(parents=True, exist_ok=True)
    time.sleep(0.5)
    for path in hidden:
        path.write_bytes(synth.jpeg())
    moved_in = pictures / ".cache" / "z.jpg"
    moved_in.parent.mkdir()
    moved_in.write_bytes(synth.jpeg())
    (pictures / ".cache").rename(pictures / ".cache-2")  # a hidden folder moved to another hidden name
    time.sleep(0.5)
    marker = pictures / "2024" / "visible.jpg"
    marker.write_bytes(synth.jpeg())
    wait_until(lambda: marker in recorder.touched)
    time.sleep(0.5)  # anything queued before the marker has been delivered by now
    assert set(recorder.touched) == {marker}
    assert set(recorder.walked) == {pictures / "2024"}  # no hidden folder (nor the output) was walked
    rescanned = {Path(e.path) for e in files_in(folders.folders[0].path, True, output)}
    assert rescanned == {marker}  # one predicate: the rescan finds exactly what events do


def test_the_predicate_counts_only_names_below_the_watched_folder(home: Path) -> None:
    root = home / ".local" / "share" / "screenshots"  # a watched folder inside a hidden one
    output = home / "Pictures" / "Safe to share"
    assert is_watched_candidate(root, root / "a.png", output)
    assert is_watched_candidate(root, root / "sub" / "a.png", output)
    assert not is_watched_candidate(root, root / ".trash" / "a.png", output)
    assert not is_watched_candidate(root, root / "sub" / ".a.png", output)
    assert not is_watched_candidate(root, root / "a.png.part", output)
    assert not is_watched_candidate(root, home / "elsewhere" / "a.png", output)
    assert not is_watched_candidate(home / "Pictures", output / "a.png", output)


# -- 4. watch limits are not silent --------------------------------------------------------
class LimitedObserver(InotifyObserver):
    """A real inotify observer whose `schedule` the OS refuses (the watch limit) while `full`."""

    full = True

    def schedule(
        self,
        event_handler: FileSystemEventHandler,
        path: str | Path,
        *,
        recursive: bool = False,
        event_filter: list[type[FileSystemEvent]] | None = None,
        follow_symlink: bool = False,
    ) -> ObservedWatch:
        if self.full:
            raise OSError(errno.ENOSPC, "inotify watch limit reached")
        return super().schedule(
            event_handler, path, recursive=recursive, event_filter=event_filter, follow_symlink=follow_symlink
        )


def test_a_refused_watch_polls_the_folder_and_says_so_once(
    home: Path, observers: Callable[..., BaseObserver]
) -> None:
    pictures = home / "Pictures"
    recorder, observer = Recorder(), LimitedObserver(timeout=1)
    observers(observer)
    folders = _folders(recorder, observer, WatchConfig(pictures, recursive=True))
    _checks(folders, recorder, 4)
    folder = folders.folders[0]
    assert folder.state == "polling" and folders.polled() == [folder]
    assert recorder.notices == [
        f"~/Pictures is not watched live: {LIMIT}; new files in ~/Pictures are found by a scan "
        "every 20 seconds instead"
    ]
    assert recorder.appeared == [pictures]  # scanned once when it appeared, like any folder
    assert folders.owner(pictures / "new.jpg") is folder  # what the polling scan finds is handled
    assert folder.describe()["state"] == "polling"
    folder.retry_at = 0.0  # tried live again, refused again: still polled, not said again
    _checks(folders, recorder, 2)
    assert folder.state == "polling" and len(recorder.notices) == 1 and recorder.appeared == [pictures]

    observer.full = False  # the limit was raised: the next live try succeeds
    folder.retry_at = 0.0
    _checks(folders, recorder, 2)
    assert folder.state == "watching" and folders.polled() == [] and folder.handle is not None
    assert recorder.notices[1:] == ["~/Pictures is watched again"]


@pytest.fixture()
def refuse(monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], None]:
    """inotify_add_watch fails with ENOSPC for the given folders, as at the kernel's limit."""
    refused: set[bytes] = set()
    real = inotify_c.inotify_add_watch

    def add_watch(fd: int, path: bytes, mask: int) -> int:
        if path in refused:
            ctypes.set_errno(errno.ENOSPC)
            return -1
        return real(fd, path, mask)

    monkeypatch.setattr(inotify_c, "inotify_add_watch", add_watch)
    return lambda path: refused.add(os.fsencode(path))


def test_a_subfolder_watchdog_could_not_watch_when_scheduling_is_reported(
    home: Path, refuse: Callable[[Path], None], observers: Callable[..., BaseObserver]
) -> None:
    pictures = home / "Pictures"
    (pictures / "Archive" / "2019").mkdir(parents=True)
    refuse(pictures / "Archive")
    recorder, observer = Recorder(), observers(make_observer(timeout=1))
    folders = _folders(recorder, observer, WatchConfig(pictures, recursive=True))
    _checks(folders, recorder)
    folder = folders.folders[0]
    # watchdog before 7.1 watches the rest live; 7.1+ refuses the whole schedule: polled either way
    assert folder.state == "polling" and folders.polled() == [folder]
    assert recorder.notices == [
        f"some folders in ~/Pictures, such as ~/Pictures/Archive, are not watched live: {LIMIT}; "
        "new files in ~/Pictures are found by a scan every 20 seconds instead"
    ]


def test_a_subfolder_refused_later_in_watchdogs_thread_is_reported(
    home: Path, refuse: Callable[[Path], None], observers: Callable[..., BaseObserver]
) -> None:
    pictures = home / "Pictures"
    recorder, observer = Recorder(), observers(make_observer(timeout=1))
    folders = _folders(recorder, observer, WatchConfig(pictures, recursive=True))
    _checks(folders, recorder, 1)
    folder = folders.folders[0]
    assert folder.state == "watching"
    refuse(pictures / "Later")
    (pictures / "Later").mkdir()  # watchdog's inotify thread adds (and here fails) its watch

    def polled() -> bool:
        folders.check(recorder.on_appeared)
        return folder.state == "polling"

    wait_until(polled, timeout=10)
    _checks(folders, recorder)
    assert folders.polled() == [folder] and len(recorder.notices) == 1
    assert "such as ~/Pictures/Later" in recorder.notices[0]


def test_no_inotify_instance_left_polls_every_folder(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_instance() -> int:
        ctypes.set_errno(errno.EMFILE)
        return -1

    monkeypatch.setattr(inotify_c, "inotify_init", no_instance)
    recorder, observer = Recorder(), make_observer(timeout=1)
    folders = _folders(recorder, observer, WatchConfig(home / "Pictures"))
    _checks(folders, recorder)
    assert folders.folders[0].state == "polling" and len(recorder.notices) == 1
    assert "fs.inotify.max_user_instances" in recorder.notices[0]


def test_a_refusal_taken_while_another_folder_is_scheduled_still_counts_as_a_change(
    home: Path, refuse: Callable[[Path], None], observers: Callable[..., BaseObserver]
) -> None:
    """Pictures' new subfolder is refused in watchdog's thread; in the same check, polled
    Downloads is tried live again and refused again, which takes every waiting refusal:
    Pictures' is still applied and the check still says something changed (the daemon
    rewrites its state file only then)."""
    from safeshare.watchlimits import _QUEUE

    pictures, downloads = home / "Pictures", home / "Downloads"
    (downloads / "Archive").mkdir(parents=True)
    refuse(downloads / "Archive")
    recorder, observer = Recorder(), observers(make_observer(timeout=1))
    folders = _folders(
        recorder, observer, WatchConfig(downloads, recursive=True), WatchConfig(pictures, recursive=True)
    )
    _checks(folders, recorder, 1)
    polled, watched = folders.folders
    assert (watched.state, polled.state) == ("watching", "polling")
    refuse(pictures / "Later")
    (pictures / "Later").mkdir()
    waiting = getattr(observer, _QUEUE)
    wait_until(lambda: waiting.qsize() > 0, timeout=10)
    polled.retry_at = 0.0  # its live retry is due now
    assert folders.check(recorder.on_appeared)
    assert watched.state == "polling" and "such as ~/Pictures/Later" in recorder.notices[-1]
