"""Notifications: the exact messages a user sees, bursts summarized, failures said, every
backend within its limits and safe with any file name, and no server never stops cleaning."""

from __future__ import annotations

import base64
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from safeshare.config import NotifyConfig
from safeshare.errors import NotAnImage, Truncated
from safeshare.findings import Findings, Kind
from safeshare.messages import fit, for_burst, for_file
from safeshare.notify import Notifier
from safeshare.notify_backends import (
    Backend,
    DeliveryError,
    FreedesktopBackend,
    NotifySendBackend,
    OsascriptBackend,
    PlyerBackend,
    WindowsToastBackend,
    backends_for_this_os,
)
from safeshare.pipeline import Result, Status
from safeshare.places import Gazetteer, describe_position
from tests import synth
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import dunst_history, notification_server, private_session_bus, running_dunst

HOSTILE_NAME = 'Mum\'s "holiday"\nphoto — été ✓ <b>&amp;.jpg'


def cleaned(name: str, *kinds: Kind, camera: str = "Apple iPhone 13 Pro") -> Result:
    found = Findings()
    for kind in kinds:
        value = {Kind.GPS: "48.8584 N, 2.2945 E", Kind.DEVICE: camera}.get(kind, "x")
        found.add(
            kind, {Kind.GPS: "GPS position", Kind.DEVICE: "camera"}.get(kind, kind.value), value, "EXIF"
        )
    return Result(
        Path("/in") / name, Status.CLEANED, Path("/out/Safe to share") / name, "JPEG", "JPEG", findings=found
    )


def test_one_file_says_what_was_removed_most_sensitive_first() -> None:
    result = cleaned(
        "IMG_2041.jpg",
        Kind.SERIAL,
        Kind.GPS,
        Kind.DEVICE,
        Kind.CAPTURE_TIME,
        Kind.THUMBNAIL,
        Kind.VIDEO,
        Kind.HISTORY,
        Kind.CAMERA_SETTINGS,
    )
    message = for_file(result, "full", describe_position)
    assert message.title == "Photo cleaned: IMG_2041.jpg"
    assert message.body == (
        "Removed: location (near Paris, FR), capture time, device (Apple iPhone 13 Pro), serial numbers, "
        "hidden pictures, motion-photo video, editing history, and other metadata.\n"
        "Clean copy: /out/Safe to share/IMG_2041.jpg"
    )
    brief = for_file(result, "brief", describe_position)
    assert (
        "Paris" not in brief.body
        and "iPhone" not in brief.body
        and brief.body.startswith("Removed: location,")
    )


def test_nothing_found_and_failures() -> None:
    assert "carried no metadata" in for_file(cleaned("Screenshot 1.png"), "full").body
    assert for_file(cleaned("Screenshot 1.png")).title == "Screenshot cleaned: Screenshot 1.png"
    failed = Result(
        Path("/in/notes.jpg"), Status.REFUSED, reason="not an image: the content is text", problem=NotAnImage
    )
    message = for_file(failed)
    assert (message.title, message.body, message.error) == (  # a file, not an emergency: normal urgency
        "Couldn't clean notes.jpg",
        "Not an image: the content is text; nothing was published.",
        False,
    )


def test_burst_summary_counts_by_class() -> None:
    batch = [
        cleaned(f"{i}.jpg", Kind.DEVICE, *([Kind.GPS] if i < 41 else []), *([Kind.VIDEO] if i < 3 else []))
        for i in range(48)
    ]
    batch.append(Result(Path("/in/bad.jpg"), Status.REFUSED, reason="truncated", problem=Truncated))
    message = for_burst(batch, Path("/out/Safe to share"))
    assert message.title == "Cleaned 48 photos, 1 couldn't be cleaned"
    assert message.body.splitlines() == [
        "41 had a location, 48 named the device, 3 carried a motion video.",
        "Couldn't clean: bad.jpg (truncated; looks unfinished, tried again when it changes).",
        "Copies in Safe to share.",
    ]


@pytest.mark.parametrize(
    "backend",
    [
        FreedesktopBackend(),
        NotifySendBackend(),
        OsascriptBackend(),
        WindowsToastBackend(),
        PlyerBackend("win32"),
        PlyerBackend("linux"),
    ],
)
def test_texts_fit_each_backend(backend: Backend) -> None:
    result = cleaned(HOSTILE_NAME * 5, *Kind)
    message = for_file(result, "full", describe_position)
    title, body = fit(message.title, backend.title_max), fit(message.body, backend.body_max)
    assert len(title) <= backend.title_max and len(body) <= backend.body_max
    assert title.endswith("…") and "\n" not in title  # the name's newline is flattened
    if isinstance(backend, WindowsToastBackend | PlyerBackend) and backend.title_max == 64:
        assert (backend.title_max, backend.body_max) == (64, 256)


def test_osascript_gets_the_texts_as_arguments_never_in_the_script() -> None:
    command = OsascriptBackend().command('He said "hi"\\', HOSTILE_NAME)
    assert command[:2] == ["osascript", "-e"] and command[3:] == ['He said "hi"\\', HOSTILE_NAME]
    assert "argv" in command[2] and "hi" not in command[2]


def test_powershell_gets_the_texts_base64_encoded(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        seen.update(command=command, env=kwargs["env"])
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(subprocess, "run", fake_run)
    WindowsToastBackend().send("Photo cleaned: ' ; Remove-Item C:\\", HOSTILE_NAME)
    assert seen["command"][:2] == ["powershell.exe", "-NoProfile"] and "Remove-Item" not in " ".join(
        seen["command"]
    )
    assert base64.b64decode(seen["env"]["SAFESHARE_TITLE"]).decode() == "Photo cleaned: ' ; Remove-Item C:\\"
    assert base64.b64decode(seen["env"]["SAFESHARE_BODY"]).decode() == HOSTILE_NAME


def test_failing_helpers_are_reported_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "execution error: Not authorised (-1743)")

    monkeypatch.setattr(subprocess, "run", failing)
    with pytest.raises(DeliveryError, match="osascript failed \\(exit 1\\): execution error"):
        OsascriptBackend().send("t", "b")
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.undo()
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(DeliveryError, match="notify-send is not installed"):
        NotifySendBackend().send("t", "b")


def test_plyer_is_skipped_where_it_would_fail_silently(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dbus", None)  # dbus-python not installed
    with pytest.raises(DeliveryError, match="without dbus-python"):
        PlyerBackend("linux").send("t", "b")
    assert [type(b).__name__ for b in backends_for_this_os("darwin")] == ["PlyerBackend", "OsascriptBackend"]
    assert [type(b).__name__ for b in backends_for_this_os("win32")] == [
        "WindowsToastBackend",
        "PlyerBackend",
    ]
    # Linux: the D-Bus service first (it confirms delivery and its buttons reach safeshare)
    assert [type(b).__name__ for b in backends_for_this_os("linux")][:2] == [
        "FreedesktopBackend",
        "PlyerBackend",
    ]


def test_freedesktop_backend_escapes_markup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with notification_server(tmp_path) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        FreedesktopBackend().send("Photo cleaned: é <b>", HOSTILE_NAME, error=True)
        (got,) = wait_until(recorder.received)
    assert {k: got[k] for k in ("app", "summary", "urgency", "timeout", "body", "actions")} == {
        "app": "safeshare",
        "summary": "Photo cleaned: é <b>",
        "urgency": 2,
        "timeout": -1,
        "body": HOSTILE_NAME.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
        "actions": {},  # no copies: no buttons
    }
    assert got["icon"].endswith("safeshare.svg") and Path(got["icon"]).is_file()  # its own icon


def test_notifier_coalesces_and_logs_a_dead_end_once(caplog: pytest.LogCaptureFixture) -> None:
    class Dead(Backend):
        name = "dead"

        def show(self, title: str, body: str, error: bool) -> None:
            raise DeliveryError("no service")

    notifier = Notifier(NotifyConfig(burst_seconds=0.2), Path("/out"), backends=[Dead(), Dead()])
    with caplog.at_level(logging.INFO, logger="safeshare.notify"):
        for round_ in range(3):
            notifier.file_done(cleaned(f"{round_}.jpg", Kind.GPS))
            time.sleep(0.4)
        notifier.close()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "cleaning goes on" in warnings[0].getMessage()


def test_gazetteer_wraps_the_180th_meridian_and_knows_remote_areas() -> None:
    towns = Gazetteer([("Eastside", "FJ", -16.5, 179.95, 20000), ("Far", "XX", 10.0, 10.0, 50000)])
    found = towns.nearest(-16.5, -179.95)  # 10.7 km away, across the date line
    assert found is not None and found[0].name == "Eastside" and found[1] < 11
    assert towns.nearest(-16.5, -179.0) is None  # 100 km out: remote
    assert describe_position("0.0000 N, 160.0000 W") == "a remote area"
    assert describe_position("45.7640 N, 4.8357 E") == "near Lyon, FR"


# -- end to end: the daemon, a private D-Bus session, a recording notification server ----------
def _daemon(tmp_path: Path, address: str, extra: str = "") -> DaemonRun:
    run = DaemonRun(tmp_path / "d", extra=f"[notify]\nburst_seconds = 1.0\n{extra}")
    run.env["DBUS_SESSION_BUS_ADDRESS"] = address
    run.pictures.mkdir(parents=True)
    return run


def test_end_to_end_one_photo_one_notification(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with notification_server(tmp_path) as (address, recorder), _daemon(tmp_path, address) as run:
        (run.pictures / "IMG_2041.jpg").write_bytes(photo(1))
        got = wait_until(recorder.received)
        time.sleep(2)
        assert recorder.received() == got  # exactly one
    (note,) = got
    assert note["summary"] == "Photo cleaned: IMG_2041.jpg"
    assert note["body"].startswith(
        "Removed: location (near Paris, FR), capture time, device (SecretMaker SecretCam 9000)"
    )
    assert "serial numbers" in note["body"] and f"Clean copy: {run.output / 'IMG_2041.jpg'}" in note["body"]


def test_end_to_end_burst_of_50_is_one_summary_and_failures_are_said(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with notification_server(tmp_path) as (address, recorder), _daemon(tmp_path, address) as run:
        for i in range(50):
            (run.pictures / f"import_{i:02d}.jpg").write_bytes(photo(100 + i))
        got = wait_until(recorder.received, timeout=60)
        time.sleep(2.5)
        assert recorder.received() == got
        (run.pictures / "notes.jpg").write_text("shopping list")
        failure = wait_until(lambda: recorder.received()[1:])
    assert [n["summary"] for n in got] == ["Cleaned 50 photos"]
    assert got[0]["body"].startswith("50 had a location, 50 had the capture time, 50 named the device")
    assert failure[0]["summary"] == "Couldn't clean notes.jpg" and failure[0]["urgency"] == 1
    assert failure[0]["body"] == "Not an image: the content is text; nothing was published."


def test_errors_only_setting(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with (
        notification_server(tmp_path) as (address, recorder),
        _daemon(tmp_path, address, 'when = "errors"') as run,
    ):
        (run.pictures / "fine.jpg").write_bytes(photo(3))
        wait_until(lambda: (run.output / "fine.jpg").exists())
        (run.pictures / "broken.png").write_bytes(synth.png()[:40])
        got = wait_until(recorder.received, timeout=60)
    assert [n["summary"] for n in got] == ["Couldn't clean broken.png"]


def test_no_notification_server_logs_once_and_keeps_cleaning(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with private_session_bus() as address, _daemon(tmp_path, address) as run:  # a bus, but no server on it
        for i in range(3):
            (run.pictures / f"n{i}.jpg").write_bytes(photo(10 + i))
            wait_until(lambda i=i: (run.output / f"n{i}.jpg").exists())
            time.sleep(1.5)  # separate bursts: three attempts to notify
        time.sleep(1)
    log = run.log.read_text()
    assert log.count("notifications cannot be shown") == 1
    assert len(run.outputs()) == 3


def test_real_notification_server_dunst(monkeypatch: pytest.MonkeyPatch) -> None:
    """dunst, a real notification daemon, on Xvfb and a private bus: `dunstctl history`
    shows what safeshare sent."""
    with running_dunst() as env:
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", env["DBUS_SESSION_BUS_ADDRESS"])
        notifier = Notifier(
            NotifyConfig(burst_seconds=0.1), Path("/out"), [FreedesktopBackend()], describe_position
        )
        notifier.file_done(cleaned("IMG_9.jpg", Kind.GPS, Kind.DEVICE))
        notifier.close()
        subprocess.run(["dunstctl", "close-all"], env=env, check=False)
        history = wait_until(lambda: dunst_history(env))
    assert history[0]["summary"]["data"] == "Photo cleaned: IMG_9.jpg"
    assert history[0]["body"]["data"].startswith(
        "Removed: location (near Paris, FR), device (Apple iPhone 13 Pro)"
    )


def test_a_backend_that_breaks_does_not_end_notifications(caplog: pytest.LogCaptureFixture) -> None:
    """A bug in one backend (here a UnicodeEncodeError) is logged, the next backend shows it,
    and the notifier goes on (before, it ended the notification thread for good)."""
    shown: list[str] = []

    class Broken(Backend):
        name = "broken"

        def show(self, title: str, body: str, error: bool) -> None:
            raise UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed")

    class Working(Backend):
        name = "working"

        def show(self, title: str, body: str, error: bool) -> None:
            shown.append(title)

    notifier = Notifier(NotifyConfig(), Path("/out"), [Broken(), Working()], start=False)
    assert notifier.deliver(for_file(cleaned("a.jpg")))
    assert notifier.deliver(for_file(cleaned("b.jpg")))
    assert shown == ["Photo cleaned: a.jpg", "Photo cleaned: b.jpg"]
    assert sum("broken: UnicodeEncodeError" in r.getMessage() for r in caplog.records) == 1
