"""The daemon on real folders with a real watchdog observer: every new picture is published
exactly once, never half-written, whatever way it arrives."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from PIL import Image

from tests import synth
from tests.conftest import run_cli
from tests.daemon_harness import DaemonRun, wait_until

BASE_JPEG = synth.jpeg()


def photo(n: int = 0) -> bytes:
    """A JPEG full of metadata; `n` makes the picture itself (and so its clean copy) unique:
    it changes the last entry of the first quantisation table."""
    data = bytearray(BASE_JPEG)
    pos = 2
    while data[pos + 1] != 0xDB:  # walk the segments: the thumbnail inside APP1 has its own DQT
        pos += 2 + int.from_bytes(data[pos + 2 : pos + 4], "big")
    table = pos + 5  # marker, length, precision/id byte
    data[table + 63] = 1 + n % 250
    data[table + 62] = 1 + n // 250 % 250
    return bytes(data)


def assert_clean_copy(path: Path) -> None:
    data = path.read_bytes()
    assert not any(s in data for s in synth.secret_bytes()), path
    with Image.open(path) as image:
        image.load()


@pytest.fixture()
def run(tmp_path: Path) -> DaemonRun:
    daemon = DaemonRun(tmp_path)
    daemon.pictures.mkdir(parents=True)
    return daemon


def test_a_copied_photo_is_published_once(run: DaemonRun) -> None:
    with run:
        (run.pictures / "IMG_1.jpg").write_bytes(photo())
        out = wait_until(lambda: run.output / "IMG_1.jpg" if (run.output / "IMG_1.jpg").exists() else None)
        assert_clean_copy(out)
        time.sleep(1)
    assert [p.name for p in run.outputs()] == ["IMG_1.jpg"]
    assert run.outcomes()[str(run.pictures / "IMG_1.jpg")] == "published"


def test_write_then_rename_and_editor_resave(run: DaemonRun) -> None:
    with run:
        temp = run.pictures / ".IMG_2.jpg.Xa81"  # how editors and rsync save
        temp.write_bytes(photo(1))
        temp.rename(run.pictures / "IMG_2.jpg")
        wait_until(lambda: (run.output / "IMG_2.jpg").exists())
        first = (run.output / "IMG_2.jpg").read_bytes()
        temp.write_bytes(photo(2))  # the editor saves a new version over it
        temp.rename(run.pictures / "IMG_2.jpg")
        wait_until(lambda: (run.output / "IMG_2.jpg").read_bytes() != first)
        time.sleep(1)
    assert [p.name for p in run.outputs()] == ["IMG_2.jpg"]  # updated in place, not duplicated


def test_slow_write_is_never_published_half_written(run: DaemonRun) -> None:
    data = photo(3)
    with run:
        target = run.pictures / "slow.jpg"
        with target.open("wb") as handle:
            for start in range(0, len(data), 512):
                handle.write(data[start : start + 512])
                handle.flush()
                time.sleep(0.05)  # several seconds in all, with pauses shorter than the settle
        out = wait_until(lambda: run.output / "slow.jpg" if (run.output / "slow.jpg").exists() else None)
        assert_clean_copy(out)
        time.sleep(1)
    assert run.outcomes()[str(target)] == "published"
    assert len(run.outputs()) == 1


def test_large_file_copied_slowly_without_close_events_is_retried_until_complete(run: DaemonRun) -> None:
    """Pauses longer than the settle period, the file held open: the daemon waits while a
    writer holds it open (Linux: /proc), or looks early, sees a truncated JPEG and retries;
    it never publishes half of it, nor gives up."""
    data = photo(4)
    with run:
        target = run.pictures / "network.jpg"
        fd = os.open(target, os.O_WRONLY | os.O_CREAT)
        os.write(fd, data[: len(data) // 2])
        time.sleep(1.2)  # four settle periods: it will be looked at
        os.write(fd, data[len(data) // 2 :])
        os.close(fd)
        out = wait_until(
            lambda: run.output / "network.jpg" if (run.output / "network.jpg").exists() else None
        )
        assert_clean_copy(out)
    log = run.log.read_text()
    assert "refused" not in log and len(run.outputs()) == 1


def test_move_in_and_partial_download_rename(run: DaemonRun, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "moved.jpg").write_bytes(photo(5))
    with run:
        (elsewhere / "moved.jpg").rename(run.pictures / "moved.jpg")
        partial = run.pictures / "download.jpg.crdownload"
        partial.write_bytes(photo(6)[:300])
        time.sleep(0.8)
        assert not (run.output / "download.jpg.crdownload").exists()
        with partial.open("ab") as handle:
            handle.write(photo(6)[300:])
        partial.rename(run.pictures / "download.jpg")
        (run.pictures / "firefox.png.part").write_bytes(synth.png())
        (run.pictures / "firefox.png.part").rename(run.pictures / "firefox.png")
        wait_until(lambda: len(run.outputs()) == 3)
        time.sleep(1)
    assert sorted(p.name for p in run.outputs()) == ["download.jpg", "firefox.png", "moved.jpg"]


def test_hidden_and_temp_files_are_ignored(run: DaemonRun) -> None:
    with run:
        for name in (".secret.jpg", "x.jpg.part", "y.jpg.tmp", "~$z.jpg", "notes.txt"):
            (run.pictures / name).write_bytes(photo(7) if name != "notes.txt" else b"hello")
        (run.pictures / "real.jpg").write_bytes(photo(8))
        wait_until(lambda: (run.output / "real.jpg").exists())
        time.sleep(1)
    assert [p.name for p in run.outputs()] == ["real.jpg"]
    assert run.outcomes()[str(run.pictures / "notes.txt")] == "skipped"  # recorded, not nagged about


def test_burst_of_500_files(run: DaemonRun) -> None:
    with run:
        for i in range(500):
            (run.pictures / f"burst_{i:03d}.jpg").write_bytes(photo(1000 + i))
        wait_until(lambda: len(run.outputs()) >= 500, timeout=240, step=0.5)
        time.sleep(1)
        assert run.temp_files() == []
    names = [p.name for p in run.outputs()]
    assert len(names) == 500 and names == sorted(f"burst_{i:03d}.jpg" for i in range(500))
    for path in run.outputs()[::97]:
        assert_clean_copy(path)


def test_restart_catches_up_and_first_start_is_a_baseline(run: DaemonRun) -> None:
    (run.pictures / "before_first_start.jpg").write_bytes(photo(9))
    with run:
        (run.pictures / "while_running.jpg").write_bytes(photo(10))
        wait_until(lambda: (run.output / "while_running.jpg").exists())
    (run.pictures / "while_stopped.jpg").write_bytes(photo(11))
    (run.pictures / "while_running.jpg").write_bytes(photo(12))  # changed while stopped
    before = (run.output / "while_running.jpg").read_bytes()
    with run:
        wait_until(lambda: (run.output / "while_stopped.jpg").exists())
        wait_until(lambda: (run.output / "while_running.jpg").read_bytes() != before)
        time.sleep(1)
    assert sorted(p.name for p in run.outputs()) == ["while_running.jpg", "while_stopped.jpg"]
    assert run.outcomes()[str(run.pictures / "before_first_start.jpg")] == "baseline"


def test_first_start_clean_mode_processes_existing_files(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path, extra="[clean]\nrename = false")
    run.config.write_text(run.config.read_text().replace("[daemon]", '[daemon]\nfirst_start = "clean"'))
    run.pictures.mkdir(parents=True)
    (run.pictures / "old.jpg").write_bytes(photo(13))
    with run:
        wait_until(lambda: (run.output / "old.jpg").exists())


def test_kill_9_mid_burst_then_restart_publishes_each_input_exactly_once(run: DaemonRun) -> None:
    run.start()
    for i in range(200):
        (run.pictures / f"k_{i:03d}.jpg").write_bytes(photo(2000 + i))
    wait_until(lambda: len(run.outputs()) >= 40, timeout=120)
    assert run.stop(signal.SIGKILL) == -signal.SIGKILL
    assert len(run.outputs()) < 200  # killed in the middle
    with run:
        wait_until(lambda: len([p for p in run.outputs() if not p.name.startswith(".")]) >= 200, timeout=240)
        time.sleep(1.5)
        assert run.temp_files() == []
    names = sorted(p.name for p in run.outputs())
    assert names == sorted(f"k_{i:03d}.jpg" for i in range(200))  # no 'k_001 (2).jpg'
    assert set(run.outcomes().values()) == {"published"}


def test_watched_folder_deleted_and_recreated(run: DaemonRun) -> None:
    with run:
        (run.pictures / "a.jpg").write_bytes(photo(14))
        wait_until(lambda: (run.output / "a.jpg").exists())
        shutil.rmtree(run.pictures)
        wait_until(lambda: "is gone" in run.log.read_text())
        run.pictures.mkdir()
        wait_until(lambda: run.log.read_text().count(f"watching {run.pictures}") >= 2)
        (run.pictures / "b.jpg").write_bytes(photo(15))
        wait_until(lambda: (run.output / "b.jpg").exists())


def test_missing_folder_at_start_is_picked_up_when_it_appears(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path)
    run.home.mkdir(parents=True)
    with run:
        run.pictures.mkdir()
        wait_until(lambda: f"watching {run.pictures}" in run.log.read_text())
        (run.pictures / "late.jpg").write_bytes(photo(16))
        wait_until(lambda: (run.output / "late.jpg").exists())


def test_output_folder_inside_a_recursive_watched_tree(tmp_path: Path) -> None:
    pictures = tmp_path / "home" / "Pictures"
    run = DaemonRun(
        tmp_path, watches=[{"path": str(pictures), "recursive": True}], output=pictures / "Safe to share"
    )
    (pictures / "trip" / "day1").mkdir(parents=True)
    with run:
        (pictures / "trip" / "day1" / "a.jpg").write_bytes(photo(17))
        wait_until(lambda: (run.output / "a.jpg").exists())
        new_folder = tmp_path / "card"
        new_folder.mkdir()
        (new_folder / "b.jpg").write_bytes(photo(18))
        new_folder.rename(pictures / "card")  # a whole folder moved in
        wait_until(lambda: (run.output / "b.jpg").exists())
        time.sleep(1.5)
    assert sorted(p.name for p in run.outputs()) == ["a.jpg", "b.jpg"]  # no copies of copies


def test_two_inputs_with_the_same_name_and_labels(tmp_path: Path) -> None:
    shots, camera = tmp_path / "home" / "shots", tmp_path / "home" / "camera"
    run = DaemonRun(tmp_path, watches=[{"path": str(shots)}, {"path": str(camera)}])
    shots.mkdir(parents=True)
    camera.mkdir()
    with run:
        (shots / "IMG_1.jpg").write_bytes(photo(19))
        wait_until(lambda: (run.output / "IMG_1.jpg").exists())
        (camera / "IMG_1.jpg").write_bytes(photo(20))
        wait_until(lambda: (run.output / "IMG_1 (2).jpg").exists())
        (camera / "copy.jpg").write_bytes(photo(20))  # same content again: not cleaned twice
        time.sleep(1.5)
    assert sorted(p.name for p in run.outputs()) == ["IMG_1 (2).jpg", "IMG_1.jpg"]
    assert run.outcomes()[str(camera / "copy.jpg")] == "duplicate"


def test_label_puts_copies_in_a_subfolder(tmp_path: Path) -> None:
    shots = tmp_path / "home" / "shots"
    run = DaemonRun(tmp_path, watches=[{"path": str(shots), "label": "Screenshots"}])
    shots.mkdir(parents=True)
    with run:
        (shots / "s.png").write_bytes(synth.png())
        wait_until(lambda: (run.output / "Screenshots" / "s.png").exists())


def test_sigterm_finishes_and_exits_cleanly_and_one_instance_only(run: DaemonRun) -> None:
    run.start()
    second = run_cli("run", env=run.env)
    assert second.returncode == 1 and "already running" in second.stderr
    (run.pictures / "last.jpg").write_bytes(photo(21))
    wait_until(lambda: (run.output / "last.jpg").exists())
    assert run.stop(signal.SIGTERM) == 0
    assert "stopping" in run.log.read_text()


def test_status_shows_what_runs_and_what_happened(run: DaemonRun) -> None:
    with run:
        (run.pictures / "ok.jpg").write_bytes(photo(22))
        (run.pictures / "bad.jpg").write_text("not a picture")
        wait_until(lambda: len(run.outcomes()) >= 2)
        status = run_cli("status", env=run.env).stdout
    assert "daemon: running (pid" in status
    assert str(run.pictures) in status
    assert "1 published" in status and "1 refused" in status
    assert "ok.jpg ->" in status and "bad.jpg: not an image" in status
    assert "daemon: not running" in run_cli("status", env=run.env).stdout


def test_logs_and_ledger_hold_categories_not_values(run: DaemonRun) -> None:
    with run:
        (run.pictures / "gps.jpg").write_bytes(photo(23))
        wait_until(lambda: (run.output / "gps.jpg").exists())
    stored = run.log.read_bytes() + (run.state / "ledger.sqlite3").read_bytes()
    assert b"gps" in stored  # the category is recorded...
    for secret in (*synth.secret_bytes(), b"48.858", b"2.294"):
        assert secret not in stored  # ...never the coordinates, serials or names
