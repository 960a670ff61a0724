"""Opening beneath a pinned folder on real folders and real links: a folder swapped for a
link (the watched folder itself or any subfolder of it) never leads out of the tree."""

from __future__ import annotations

import errno
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from safeshare import safepath
from safeshare.errors import OutsideOutputFolder, OutsideWatchedFolder
from safeshare.safepath import PinnedDir, open_dir_beneath, open_file_beneath

SECRET = b"outside the watched folder"


@pytest.fixture(params=["openat", "lstat-fallback"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs with dir_fd walks and with the fallback of platforms without them."""
    if request.param == "lstat-fallback":
        monkeypatch.setattr(safepath, "_DIR_FD", False)
    return str(request.param)


@pytest.fixture()
def tree(tmp_path: Path) -> Iterator[tuple[PinnedDir, Path]]:
    """A watched tree with nested photos, and an outside folder holding a secret photo."""
    root, outside = tmp_path / "Pictures", tmp_path / "private"
    (root / "2024" / "trip").mkdir(parents=True)
    (root / "top.jpg").write_bytes(b"top")
    (root / "2024" / "trip" / "photo.jpg").write_bytes(b"trip photo")
    outside.mkdir()
    (outside / "photo.jpg").write_bytes(SECRET)
    with PinnedDir.open(root) as pinned:
        yield pinned, outside


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def _open_fds() -> int:
    return len(list(Path("/proc/self/fd").iterdir()))


def test_nested_files_open_fine(tree: tuple[PinnedDir, Path], mode: str) -> None:
    pinned, _ = tree
    assert _read(open_file_beneath(pinned, pinned.path / "top.jpg")) == b"top"
    assert _read(open_file_beneath(pinned, pinned.path / "2024" / "trip" / "photo.jpg")) == b"trip photo"
    assert pinned.still_there()


def test_a_subfolder_swapped_for_a_link_is_refused_and_nothing_is_read(
    tree: tuple[PinnedDir, Path], mode: str
) -> None:
    pinned, outside = tree
    trip = pinned.path / "2024" / "trip"
    trip.rename(pinned.path / "2024" / "moved-away")
    trip.symlink_to(outside)  # the attacker can write inside a recursive watched tree
    before = _open_fds()
    with pytest.raises(OutsideWatchedFolder, match=r"^2024/trip is a link to another place"):
        open_file_beneath(pinned, trip / "photo.jpg")
    assert _open_fds() == before  # no fd returned, none left open: nothing can be read


def test_a_link_as_the_file_or_higher_up_is_refused(tree: tuple[PinnedDir, Path], mode: str) -> None:
    pinned, outside = tree
    (pinned.path / "key.jpg").symlink_to(outside / "photo.jpg")
    (pinned.path / "2024" / "elsewhere").symlink_to(outside)
    with pytest.raises(OutsideWatchedFolder, match=r"^key\.jpg is a link"):
        open_file_beneath(pinned, pinned.path / "key.jpg")
    with pytest.raises(OutsideWatchedFolder, match=r"^2024/elsewhere is a link"):
        open_file_beneath(pinned, pinned.path / "2024" / "elsewhere" / "photo.jpg")
    with pytest.raises(OutsideWatchedFolder, match=r"^top\.jpg is not a folder"):
        open_file_beneath(pinned, pinned.path / "top.jpg" / "photo.jpg")


def test_paths_outside_the_root_are_refused(tree: tuple[PinnedDir, Path], mode: str) -> None:
    pinned, outside = tree
    for path in (outside / "photo.jpg", pinned.path / ".." / "private" / "photo.jpg", pinned.path):
        with pytest.raises(OutsideWatchedFolder):
            open_file_beneath(pinned, path)


def test_the_root_swapped_for_a_link_is_no_longer_there(tree: tuple[PinnedDir, Path], mode: str) -> None:
    pinned, outside = tree
    assert pinned.still_there()
    moved = pinned.path.with_name("Pictures-moved")
    pinned.path.rename(moved)
    pinned.path.symlink_to(outside)  # the attacker can write to the watched folder's parent
    assert not pinned.still_there()
    if mode == "openat":
        # The pinned fd still holds the real folder: its photo, never the link target's.
        assert _read(open_file_beneath(pinned, pinned.path / "top.jpg")) == b"top"
        with pytest.raises(FileNotFoundError):
            open_file_beneath(pinned, pinned.path / "photo.jpg")  # exists only in the target
    else:
        with pytest.raises(OutsideWatchedFolder, match="moved or replaced"):
            open_file_beneath(pinned, pinned.path / "photo.jpg")


def test_a_deleted_or_recreated_root_is_no_longer_there(tmp_path: Path) -> None:
    root = tmp_path / "Screenshots"
    root.mkdir()
    with PinnedDir.open(root) as pinned:
        root.rmdir()
        assert not pinned.still_there()
        root.mkdir()  # same path, new inode
        assert not pinned.still_there()


def test_pinning_refuses_a_link_or_a_file(tmp_path: Path, mode: str) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(OutsideWatchedFolder, match=r"^link is a link"):
        PinnedDir.open(tmp_path / "link")
    with pytest.raises(OutsideWatchedFolder, match=r"^file is not a folder"):
        PinnedDir.open(tmp_path / "file")
    with pytest.raises(FileNotFoundError):
        PinnedDir.open(tmp_path / "missing")


def test_a_fifo_opens_without_blocking_and_fstat_says_it_is_no_file(tree: tuple[PinnedDir, Path]) -> None:
    pinned, _ = tree
    os.mkfifo(pinned.path / "pipe.jpg")  # no writer: a blocking open would hang for ever
    opened: list[int] = []
    thread = threading.Thread(
        target=lambda: opened.append(open_file_beneath(pinned, pinned.path / "pipe.jpg")), daemon=True
    )
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive() and opened
    try:
        assert stat.S_ISFIFO(os.fstat(opened[0]).st_mode)
    finally:
        os.close(opened[0])


def test_noatime_refused_is_retried_without_it(
    tree: tuple[PinnedDir, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    if not getattr(os, "O_NOATIME", 0):
        pytest.skip("no O_NOATIME on this system")
    pinned, _ = tree
    real_open = os.open

    def not_owner(path: str, flags: int, mode: int = 0o777, *, dir_fd: int | None = None) -> int:
        if flags & os.O_NOATIME:  # what the kernel says to a file we do not own
            raise PermissionError(errno.EPERM, "Operation not permitted")
        return real_open(path, flags, mode, dir_fd=dir_fd)

    monkeypatch.setattr(os, "open", not_owner)
    assert _read(open_file_beneath(pinned, pinned.path / "top.jpg")) == b"top"


def test_a_closed_pin_opens_nothing(tree: tuple[PinnedDir, Path]) -> None:
    pinned, _ = tree
    pinned.close()
    assert not pinned.still_there()
    with pytest.raises(FileNotFoundError):
        open_file_beneath(pinned, pinned.path / "top.jpg")


def test_output_subfolders_are_made_beneath_and_never_through_a_link(tmp_path: Path, mode: str) -> None:
    out, elsewhere = tmp_path / "Safe to share", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    with PinnedDir.open(out) as pinned:
        fd = open_dir_beneath(pinned, Path("Screenshots/2024"), create=True, mode=0o700)
        made = out / "Screenshots" / "2024"
        assert made.is_dir() and not made.is_symlink()
        assert stat.S_IMODE(made.stat().st_mode) == 0o700 & ~_umask()
        if mode == "openat":
            st = os.fstat(fd)
            assert stat.S_ISDIR(st.st_mode) and st.st_ino == made.stat().st_ino
            os.close(fd)
            again = open_dir_beneath(pinned, Path("Screenshots/2024"), create=False, mode=0o700)
            os.close(again)
            root_fd = open_dir_beneath(pinned, Path(), create=False, mode=0o700)
            assert os.fstat(root_fd).st_ino == out.stat().st_ino
            os.close(root_fd)
        else:
            assert fd == -1
        (out / "Camera").symlink_to(elsewhere)  # a planted link where a mirrored subfolder goes
        with pytest.raises(OutsideOutputFolder, match=r"^Camera is a link"):
            open_dir_beneath(pinned, Path("Camera/2024"), create=True, mode=0o700)
        assert list(elsewhere.iterdir()) == []
        with pytest.raises(FileNotFoundError):
            open_dir_beneath(pinned, Path("Absent"), create=False, mode=0o700)
        with pytest.raises(OutsideOutputFolder):
            open_dir_beneath(pinned, Path("../elsewhere"), create=True, mode=0o700)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
