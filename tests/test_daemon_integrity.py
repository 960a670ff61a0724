"""The real daemon against an attacker who can write next to its folders: a watched folder
that is a link, the output folder swapped for a link while running. Nothing from outside
the watched folders is published, nothing is written outside the output folder, and the
user is told (log, `safeshare status`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests import synth
from tests.conftest import run_cli
from tests.daemon_harness import DaemonRun, wait_until


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
