"""A private D-Bus session bus for tests, the recording notification server on it, and dunst."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent


# A session bus without service directories: nothing is auto-started on it (an installed
# dunst would otherwise be activated for org.freedesktop.Notifications).
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=/tmp</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/>
  </policy>
</busconfig>
"""


@contextmanager
def private_session_bus() -> Iterator[str]:
    """A new dbus-daemon for this test only; yields its address."""
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon is not installed (Debian: apt-get install dbus); it hosts the test bus")
    config = Path(tempfile.mkstemp(suffix=".conf")[1])
    config.write_text(BUS_CONFIG)
    proc = subprocess.Popen(
        ["dbus-daemon", f"--config-file={config}", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,  # it complains it cannot raise its fd limit as non-root
        text=True,
    )
    assert proc.stdout is not None
    address = proc.stdout.readline().strip()
    try:
        yield address
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        config.unlink()


class Recorder:
    """The recording notification server, running as a process on `address`."""

    def __init__(self, address: str, record: Path, capabilities: str = "body,body-markup") -> None:
        self.record = record
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "notification_server.py"), str(record), capabilities],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def received(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines()]

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def notification_server(
    tmp_path: Path, capabilities: str = "body,body-markup"
) -> Iterator[tuple[str, Recorder]]:
    """The recording server on a new bus; `capabilities` is what it answers GetCapabilities
    with (without "body-markup" it is a server that shows the body as plain text)."""
    with private_session_bus() as address:
        recorder = Recorder(address, tmp_path / "notifications.jsonl", capabilities)
        try:
            yield address, recorder
        finally:
            recorder.stop()


@contextmanager
def running_dunst() -> Iterator[dict[str, str]]:
    """dunst, a real notification server, on an Xvfb display of its own (Xvfb picks a free
    one) and a private session bus; yields the environment that reaches them."""
    if not all(shutil.which(t) for t in ("dunst", "dunstctl", "Xvfb")):
        pytest.skip("dunst, dunstctl and Xvfb are needed (Debian: apt-get install dunst xvfb)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL
    )
    os.close(write)
    try:
        with os.fdopen(read) as displayfd, private_session_bus() as address:
            display = f":{displayfd.readline().strip()}"
            env = {**os.environ, "DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": address}
            dunst = subprocess.Popen(["dunst"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                ready = ["dunstctl", "is-paused"]
                deadline = time.monotonic() + 20
                while subprocess.run(ready, env=env, capture_output=True).returncode != 0:
                    assert time.monotonic() < deadline, "dunst did not start"
                    time.sleep(0.05)
                yield env
            finally:
                dunst.terminate()
                dunst.wait(timeout=10)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def dunst_history(env: dict[str, str]) -> list[dict[str, Any]]:
    """What dunst showed, newest first: 'summary', 'body' as sent, 'message' as rendered."""
    out = subprocess.run(["dunstctl", "history"], env=env, capture_output=True, text=True).stdout
    data: list[list[dict[str, Any]]] = json.loads(out or "{}").get("data", [[]])
    return data[0]
