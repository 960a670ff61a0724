"""The real daemon against an attacker who can write next to its folders: a watched folder
that is a link, the output folder swapped for a link while running. Nothing from outside
the watched folders is published, nothing is written outside the output folder, and the
user is told (log, `safeshare status`)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from tests import synth
from tests.conftest import run_cli
from tests.daemon_harness import DaemonRun, wait_until


def _outcome(run: DaemonRun, path: Path) -> str | None:
    """The ledger's outcome for `path`, None until the daemon has made the ledger's tables
    (reading never creates the file: the daemon does)."""
    if not (run.state / "ledger.sqlite3").exists():
        return None
    try:
        return run.outcomes().get(str(path))
    except sqlite3.Error:
        return None


def _status(run: DaemonRun) -> str:
    return run_cli("status", env=run.env).stdout


def test_a_watched_folder_that_is_a_link_is_not_followed_and_the_user_is_told(tmp_path: Path) -> None:
    outside = tmp_path / "someone-elses-photos"
    outside.mkdir()
    run = DaemonRun(tmp_path)
    run.pictures.parent.mkdir(parents=True)
    run.pictures.symlink_to(outside)
    with run:
        (outside / "IMG_1.jpg").write_bytes(synth.jpeg())
        status = wait_until(lambda: next((s for s in [_status(run)] if "a link to another place" in s), None))
        time.sleep(1.5)  # settle and folder checks have run several times
        assert run.outputs() == []
    assert "is a link to another place" in run.log.read_text()
    assert "not followed" in status


def test_the_output_folder_swapped_for_a_link_gets_nothing_and_comes_back(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with run:
        (run.pictures / "one.jpg").write_bytes(synth.jpeg(size=(8, 8)))
        wait_until(lambda: (run.output / "one.jpg").exists())
        shutil.move(str(run.output), str(tmp_path / "moved-away"))
        run.output.symlink_to(elsewhere)
        (run.pictures / "two.jpg").write_bytes(synth.jpeg(size=(16, 8)))
        wait_until(lambda: run.outcomes().get(str(run.pictures / "two.jpg")) == "retry-output")
        assert list(elsewhere.iterdir()) == []
        assert "now a link to another place" in run.log.read_text()
        run.output.unlink()  # the link goes: the folder is made again and the retry publishes
        wait_until(lambda: (run.output / "two.jpg").exists(), timeout=30)
    assert list(elsewhere.iterdir()) == []
    assert not run.output.is_symlink()


def test_a_folder_the_system_cannot_watch_live_is_scanned_and_its_photos_cleaned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon in this process, its observer refused by the OS (ENOSPC: the inotify watch
    limit, injected at that edge): the folder is polled, the user told, the photo published."""
    from safeshare import daemon as daemon_mod
    from safeshare import folders as folders_mod
    from safeshare.config import load
    from tests.test_watch_integrity import LimitedObserver

    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "SAFESHARE_CONFIG"):
        monkeypatch.setenv(key, run.env[key])
    monkeypatch.setattr(daemon_mod, "make_observer", lambda timeout: LimitedObserver(timeout=timeout))
    monkeypatch.setattr(folders_mod, "POLL_SECONDS", 0.5)
    said: list[tuple[str, str]] = []
    daemon = daemon_mod.Daemon(
        load(), state_dir=run.state, notice=lambda title, body: said.append((title, body))
    )
    thread = threading.Thread(target=daemon.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: daemon.folders.polled())
        (run.pictures / "IMG_1.jpg").write_bytes(synth.jpeg())
        wait_until(lambda: (run.output / "IMG_1.jpg").exists(), timeout=30)
    finally:
        daemon.stop()
        thread.join(30)
    assert [body for _, body in said if "not watched live" in body or "limit" in body], said
    assert len(said) == 1  # said once, not at every scan


def test_a_ledger_deleted_while_running_is_noticed_and_a_new_one_started(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    with run:
        (run.pictures / "one.jpg").write_bytes(synth.jpeg(size=(8, 8)))
        wait_until(lambda: (run.output / "one.jpg").exists())
        for name in ("ledger.sqlite3", "ledger.sqlite3-wal", "ledger.sqlite3-shm"):
            (run.state / name).unlink(missing_ok=True)
        wait_until(lambda: "was deleted or replaced while running" in run.log.read_text())
        # The new ledger notes what is there as on a first start; a file written before that
        # scan is noted too (it was there), so the next one comes after it.
        wait_until(lambda: _outcome(run, run.pictures / "one.jpg") == "baseline")
        (run.pictures / "two.jpg").write_bytes(synth.jpeg(size=(16, 8)))
        wait_until(lambda: _outcome(run, run.pictures / "two.jpg") == "published")
        status = _status(run)
    assert run.outcomes()[str(run.pictures / "one.jpg")] == "baseline"  # noted again, not re-copied
    assert sorted(p.name for p in run.outputs()) == ["one.jpg", "two.jpg"]
    assert "deleted or replaced" in status


def test_a_busy_ledger_delays_a_folders_catch_up_and_never_stops_housekeeping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the ledger's write lock past the wait: the folder's first scan
    waits (it is not lost, and the housekeeping thread does not die), then goes through."""
    from safeshare import daemon as daemon_mod
    from safeshare.config import load
    from safeshare.ledger import Ledger

    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    (run.pictures / "there.jpg").write_bytes(synth.jpeg())
    for key in ("HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "SAFESHARE_CONFIG"):
        monkeypatch.setenv(key, run.env[key])
    daemon = daemon_mod.Daemon(load(), state_dir=run.state)
    run.state.mkdir(parents=True)
    daemon.ledger = daemon.catchup.ledger = Ledger(run.state / "ledger.sqlite3", busy_wait=0.3)
    folder = daemon.folders.folders[0]
    other = sqlite3.connect(run.state / "ledger.sqlite3", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
    try:
        daemon.catchup.at_start(folder)
        assert daemon.catchup.behind == {folder.path: (folder, True)}  # waits, remembered
        daemon._housekeep(0.0, 0.0, 0.0)  # still held: housekeeping survives, keeps it waiting
        assert folder.path in daemon.catchup.behind
        other.execute("ROLLBACK")
        other.close()
        daemon._housekeep(0.0, 0.0, 0.0)
        assert daemon.catchup.behind == {}
        assert daemon.ledger.is_baselined(folder.path)
        record = daemon.ledger.get(run.pictures / "there.jpg")
        assert record is not None and record.outcome.value == "baseline"
    finally:
        daemon.observer.stop()  # its watch threads (started with it) end here, not in later tests
        daemon.ledger.close()


def test_at_start_only_a_crashs_temp_files_are_removed(tmp_path: Path) -> None:
    from safeshare.outdir import OutputFolder

    run = DaemonRun(tmp_path)
    run.pictures.mkdir(parents=True)
    run.output.mkdir()
    crashed = run.output / ".safeshare-0123456789ab.tmp"
    crashed.write_bytes(b"left by a kill -9")
    users = run.output / ".safeshare-notes.tmp"
    users.write_bytes(b"a file of the user's that looks alike")
    writing = OutputFolder(run.output).stage(Path(), [b"a clean run writing right now"], 0o600)
    with run:
        pass
    assert not crashed.exists()
    assert users.exists()
    assert (run.output / writing.temp_name).exists()  # locked by its writer: not a leftover
    assert writing.commit("from-clean.jpg", replace=False) == run.output / "from-clean.jpg"


def test_a_watched_folder_inside_the_output_folder_is_refused_at_start(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path, watches=[{"path": str(tmp_path / "safe" / "incoming")}])
    (tmp_path / "safe" / "incoming").mkdir(parents=True)
    proc = run_cli("run", env=run.env)
    assert proc.returncode == 2
    assert "is the output folder or inside it" in proc.stderr


def test_status_and_clean_lines_never_carry_raw_control_characters(tmp_path: Path) -> None:
    from safeshare.pipeline import Result, Status
    from safeshare.report import clean_line

    hostile = "cannot write IMG\x1b]0;PWNED\x07\x1b[2J.jpg\nRemoved: nothing"
    line = clean_line(Result(tmp_path / "IMG\x1b[31m.jpg", Status.FAILED, reason=hostile))
    assert "\x1b" not in line and "\x07" not in line and "\n" not in line
