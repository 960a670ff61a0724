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
NAME = "org.freedesktop.Notifications"


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

    def __init__(
        self, address: str, record: Path, capabilities: str = "body,body-markup", file_manager: str = ""
    ) -> None:
        self.record = record
        self.address = address
        self.file_manager = Path(file_manager) if file_manager else None
        env = {**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "notification_server.py"), str(record), capabilities, file_manager],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def _entries(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        return [json.loads(line) for line in self.record.read_text(encoding="utf-8").splitlines()]

    def received(self) -> list[dict[str, Any]]:
        """The notifications, in the order they came."""
        return [e for e in self._entries() if "summary" in e]

    def closed(self) -> list[int]:
        """The notifications safeshare closed (CloseNotification)."""
        return [e["closed"] for e in self._entries() if "closed" in e]

    def shown_items(self) -> list[list[str]]:
        """What the file manager was asked to show (ShowItems), when this server is one."""
        if self.file_manager is None or not self.file_manager.exists():
            return []
        lines = self.file_manager.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["ShowItems"] for line in lines]

    def _call(self, member: str, signature: str, body: tuple[Any, ...]) -> None:
        from jeepney import DBusAddress, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        address = DBusAddress("/org/freedesktop/Notifications", NAME, NAME)
        with open_dbus_connection(self.address) as connection:
            unwrap_msg(
                connection.send_and_get_reply(new_method_call(address, member, signature, body), timeout=10)
            )

    def press(self, number: int, key: str) -> None:
        """The user presses a button (then the notification closes, as on most servers)."""
        self._call("PressAction", "us", (number, key))

    def dismiss(self, number: int) -> None:
        self._call("Dismiss", "u", (number,))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


@contextmanager
def notification_server(
    tmp_path: Path, capabilities: str = "body,body-markup", file_manager: bool = False
) -> Iterator[tuple[str, Recorder]]:
    """The recording server on a new bus; `capabilities` is what it answers GetCapabilities
    with (without "body-markup" it is a server that shows the body as plain text; with
    "actions" it shows buttons). `file_manager`: it is org.freedesktop.FileManager1 too."""
    with private_session_bus() as address:
        shown = str(tmp_path / "file-manager.jsonl") if file_manager else ""
        recorder = Recorder(address, tmp_path / "notifications.jsonl", capabilities, shown)
        try:
            yield address, recorder
        finally:
            recorder.stop()


@contextmanager
def xvfb_display() -> Iterator[str]:
    """A virtual X display of its own (Xvfb picks a free one); yields its name (':N')."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is needed (Debian: apt-get install xvfb)")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-nolisten", "tcp"], pass_fds=[write], stderr=subprocess.DEVNULL
    )
    os.close(write)
    try:
        with os.fdopen(read) as displayfd:
            yield f":{displayfd.readline().strip()}"
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


@contextmanager
def running_dunst() -> Iterator[dict[str, str]]:
    """dunst, a real notification server, on an Xvfb display of its own (Xvfb picks a free
    one) and a private session bus; yields the environment that reaches them."""
    if not all(shutil.which(t) for t in ("dunst", "dunstctl", "Xvfb")):
        pytest.skip("dunst, dunstctl and Xvfb are needed (Debian: apt-get install dunst xvfb)")
    with xvfb_display() as display, private_session_bus() as address:
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


def dunst_history(env: dict[str, str]) -> list[dict[str, Any]]:
    """What dunst showed, newest first: 'summary', 'body' as sent, 'message' as rendered."""
    out = subprocess.run(["dunstctl", "history"], env=env, capture_output=True, text=True).stdout
    data: list[list[dict[str, Any]]] = json.loads(out or "{}").get("data", [[]])
    return data[0]
