"""The periodic rescan catches files whose events the OS dropped (queue overflow, network
drives). Events are dropped on purpose here; only the rescan can find the file."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from safeshare import config as config_mod
from safeshare.daemon import Daemon
from safeshare.watcher import EventFilter
from tests import synth
from tests.daemon_harness import wait_until


def test_rescan_finds_files_without_events(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    watched, output = tmp_path / "in", tmp_path / "out"
    watched.mkdir()
    config_file = tmp_path / "c.toml"
    config_file.write_text(
        f'output = "{output}"\n[daemon]\nrescan_minutes = 0.01\nsettle_seconds = 0.1\n'
        f'folder_check_seconds = 0.1\n[[watch]]\npath = "{watched}"\n'
    )
    monkeypatch.setattr(EventFilter, "on_any_event", lambda self, event: None)  # the OS drops every event
    daemon = Daemon(config_mod.load(config_file), state_dir=tmp_path / "state")
    thread = threading.Thread(target=daemon.run)
    thread.start()
    try:
        wait_until(lambda: daemon.ledger is not None and daemon.ledger.is_baselined(watched.resolve()))
        (watched / "unseen.jpg").write_bytes(synth.jpeg())
        wait_until(lambda: (output / "unseen.jpg").exists(), timeout=20)
    finally:
        daemon.stop()
        thread.join(timeout=30)
    assert not thread.is_alive()
