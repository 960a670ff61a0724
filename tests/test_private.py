"""Private at rest: the state folder is 0700 and the ledger (with its -wal/-shm), the log, the
lock and `daemon.json` are 0600 whatever the umask; folders and files an older version left
open to others are tightened."""

from __future__ import annotations

import logging
import os
import stat
import sys
from collections.abc import Iterator
from logging.handlers import RotatingFileHandler
from pathlib import Path

import pytest

from safeshare import instance, logsetup
from safeshare.disposition import Disposition
from safeshare.ledger import Ledger
from safeshare.paths import private_dir, private_open, tighten
from tests import synth
from tests.daemon_harness import DaemonRun, wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX modes")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """Everything created in the test would be world-readable and writable by default."""
    old = os.umask(0o000)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.usefixtures("open_umask")
def test_private_dir_creates_0700_with_missing_parents_and_leaves_existing_parents(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    folder = private_dir(tmp_path / "state" / "safeshare" / "log")
    assert folder.is_dir()
    assert [mode(p) for p in (folder, folder.parent, folder.parent.parent)] == [0o700] * 3
    assert mode(tmp_path) == 0o755
    assert private_dir(folder) == folder  # existing: fine


@pytest.mark.usefixtures("open_umask")
def test_an_existing_folder_open_to_others_is_tightened_if_ours(tmp_path: Path) -> None:
    ours = tmp_path / "ours"
    ours.mkdir(0o755)
    private_dir(ours)
    assert mode(ours) == 0o700
    if os.geteuid() == 0:  # someone else's folder is left alone
        theirs = tmp_path / "theirs"
        theirs.mkdir(0o755)
        os.chown(theirs, 65534, 65534)
        private_dir(theirs)
        assert mode(theirs) == 0o755
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    with pytest.raises(FileExistsError):
        private_dir(not_a_folder)


@pytest.mark.usefixtures("open_umask")
def test_private_open_and_tighten_make_files_0600(tmp_path: Path) -> None:
    new = tmp_path / "new"
    os.close(private_open(new))
    assert mode(new) == 0o600
    old = tmp_path / "old"
    old.write_text("x")
    old.chmod(0o644)
    os.close(private_open(old, os.O_RDONLY))
    assert mode(old) == 0o600
    other = tmp_path / "other"
    other.write_text("x")
    other.chmod(0o666)
    tighten(other)
    tighten(tmp_path / "missing")  # never fails
    assert mode(other) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_the_ledger_and_its_side_files_are_0600_in_a_0700_folder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Ledger(state / "ledger.sqlite3") as ledger:
        ledger.record(Path("/p/a.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
        files = sorted(state.iterdir())
        assert [p.name for p in files] == ["ledger.sqlite3", "ledger.sqlite3-shm", "ledger.sqlite3-wal"]
        assert [mode(p) for p in files] == [0o600] * 3
    assert mode(state) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_an_old_ledger_open_to_others_is_tightened(tmp_path: Path) -> None:
    state = tmp_path / "state"
    path = state / "ledger.sqlite3"
    Ledger(path).close()
    state.chmod(0o755)
    path.chmod(0o644)
    with Ledger(path) as ledger:
        ledger.record(Path("/p/a.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
        assert [mode(p) for p in sorted(state.iterdir())] == [0o600] * 3
    assert mode(state) == 0o700


@pytest.mark.usefixtures("open_umask")
def test_log_files_are_0600_also_after_rotation(tmp_path: Path) -> None:
    log_dir = tmp_path / "state" / "log"
    log_dir.parent.mkdir()
    log_dir.parent.chmod(0o755)
    old_backup = log_dir / "safeshare.log.1"
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)  # pytest's own, put back afterwards
    try:
        path = logsetup.configure(log_dir)
        assert path is not None
        logging.getLogger("safeshare.test").warning("a line naming IMG_1.jpg")
        assert mode(log_dir) == 0o700 and mode(path) == 0o600
        old_backup.write_text("from an older safeshare")
        old_backup.chmod(0o644)
        logsetup.configure(log_dir)  # the next start tightens what an older version left
        assert mode(old_backup) == 0o600
        handler = next(h for h in logging.getLogger().handlers if isinstance(h, RotatingFileHandler))
        handler.doRollover()
        logging.getLogger("safeshare.test").warning("after rotation")
        assert [mode(p) for p in sorted(log_dir.iterdir())] == [0o600] * 3  # .log, .log.1, .log.2
    finally:
        for added in root.handlers:
            if added not in handlers:
                added.close()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("open_umask")
def test_the_lock_and_daemon_json_are_0600(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(0o755)
    (state / instance.STATE_NAME).write_text("{}")
    (state / instance.STATE_NAME).chmod(0o644)
    lock = instance.InstanceLock(state)
    lock.acquire()
    try:
        instance.write_state(state, {"pid": os.getpid()})
        assert instance.running_pid(state) == os.getpid()
        assert instance.read_state(state)["pid"] == os.getpid()
        assert mode(state) == 0o700
        assert mode(state / instance.LOCK_NAME) == 0o600
        assert mode(state / instance.STATE_NAME) == 0o600
    finally:
        lock.release()
    assert instance.running_pid(state) is None


def test_the_daemon_under_an_open_umask_keeps_its_state_private(tmp_path: Path) -> None:
    """The real daemon, started with umask 000: every folder in its state folder is 0700 and
    every file 0600."""
    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    old = os.umask(0o000)
    try:
        run.start()
    finally:
        os.umask(old)
    try:
        (run.pictures / "IMG_1.jpg").write_bytes(synth.jpeg())
        wait_until(lambda: run.outcomes().get(str(run.pictures / "IMG_1.jpg")) == "published", timeout=30)
        wait_until(lambda: (run.state / instance.STATE_NAME).exists())
        names = {p.relative_to(run.state).as_posix() for p in run.state.rglob("*")}
        assert {
            "ledger.sqlite3",
            "ledger.sqlite3-wal",
            "log/safeshare.log",
            "daemon.json",
            "daemon.lock",
        } <= names
        modes = {p.relative_to(run.state).as_posix(): mode(p) for p in [run.state, *run.state.rglob("*")]}
        wrong = {name: oct(m) for name, m in modes.items() if m != (0o700 if name in (".", "log") else 0o600)}
        assert wrong == {}
    finally:
        run.stop()
