"""Notification buttons: offered where the server has them and only where they can work, each
doing what it says (the file manager over D-Bus, an opener, PNG data on a real clipboard
under Xvfb), answered by the daemon while it runs, closed when nobody can answer them."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from safeshare.desktop import DesktopError, FreedesktopDesktop, NoDesktop, desktop_for_this_os
from safeshare.notify_dbus import FreedesktopBackend
from safeshare.notify_windows import WindowsToastBackend, toast_xml
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import notification_server, xvfb_display

CORPUS = Path(__file__).parent / "corpus" / "jpeg"
ROTATED = CORPUS / "exif-orientation-examples__Landscape_6.jpg"  # Orientation 6: copied upright
WITH_BUTTONS = "actions,body,body-markup,icon-static"
ALL = {"default": "Show in folder", "show": "Show in folder", "open": "Open", "copy": "Copy image"}


def clean_copy(tmp_path: Path, source: Path = ROTATED, name: str = "holiday photo.jpg") -> Path:
    """A real clean copy, made by `safeshare clean`."""
    (tmp_path / "in").mkdir(exist_ok=True)
    photo = tmp_path / "in" / name
    shutil.copyfile(source, photo)
    env = {**os.environ, "HOME": str(tmp_path / "home"), "SAFESHARE_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("[vision]\nenabled = false\n")
    out = tmp_path / "Safe to share"
    subprocess.run(
        [sys.executable, "-m", "safeshare", "clean", "-o", str(out), str(photo)],
        env=env,
        check=True,
        capture_output=True,
    )
    return out / name


def opener(tmp_path: Path) -> tuple[Path, Path]:
    """A folder holding a recording `xdg-open` (the desktop's opener is what we hand the file
    to: the edge of what runs here), and the file it records its arguments in."""
    bin_dir, record = tmp_path / "bin", tmp_path / "opened.txt"
    bin_dir.mkdir()
    script = bin_dir / "xdg-open"
    script.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> "{record}"\n')
    script.chmod(0o755)
    return bin_dir, record


def clipboard_png(display: str) -> bytes:
    proc = subprocess.run(
        ["xclip", "-selection", "clipboard", "-t", "image/png", "-o"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        timeout=10,
    )
    return proc.stdout if proc.returncode == 0 else b""


def chunks(png: bytes) -> list[bytes]:
    found, at = [], 8
    while at < len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        found.append(png[at + 4 : at + 8])
        at += 12 + length
    return found


def test_each_button_does_what_it_says(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if shutil.which("xclip") is None:
        pytest.skip("xclip is needed for the clipboard (Debian: apt-get install xclip)")
    copy = clean_copy(tmp_path)
    bin_dir, opened = opener(tmp_path)
    with xvfb_display() as display, notification_server(tmp_path, WITH_BUTTONS, True) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        env = {**os.environ, "DISPLAY": display, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
        env.pop("WAYLAND_DISPLAY", None)
        backend = FreedesktopBackend(FreedesktopDesktop(env))
        for _ in range(4):
            backend.send("Photo cleaned: holiday photo.jpg", "Removed: location.", copies=(copy,))
        got = recorder.received()
        assert [n["actions"] for n in got] == [ALL] * 4
        assert got[0]["hints"]["image-path"] == copy.as_uri()  # the clean copy is its picture
        assert backend.waiting() == 4

        recorder.press(got[0]["id"], "show")
        assert wait_until(recorder.shown_items) == [[copy.as_uri()]]
        recorder.press(got[1]["id"], "open")
        assert wait_until(lambda: opened.exists() and opened.read_text()) == f"{copy}\n"
        recorder.press(got[2]["id"], "copy")
        png = wait_until(lambda: clipboard_png(display))
        assert wait_until(lambda: backend.waiting() == 1)  # three answered and closed by the server

        pasted = Image.open(io.BytesIO(png))
        with Image.open(copy) as image:
            stored = image.size
            upright = ImageOps.exif_transpose(image).convert("RGB")
        assert pasted.format == "PNG" and pasted.size == upright.size == stored[::-1]  # turned upright
        assert pasted.convert("RGB").tobytes() == upright.tobytes()  # the copy's pixels, exactly
        assert set(chunks(png)) <= {b"IHDR", b"iCCP", b"IDAT", b"IEND"}  # pixels, nothing else

        backend.close()  # the fourth can no longer be answered: closed, not left with dead buttons
        assert recorder.closed() == [got[3]["id"]]


def test_on_wayland_the_image_goes_to_wl_copy(tmp_path: Path) -> None:
    """No Wayland compositor runs here: `wl-copy` is the edge, so the test checks the exact
    command and the PNG data handed to it (the X11 path is tested with a real clipboard)."""
    copy = clean_copy(tmp_path)
    bin_dir, record = tmp_path / "bin", tmp_path / "wl-copy.txt"
    bin_dir.mkdir()
    (bin_dir / "wl-copy").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{record}"\ncat > "{record}.png"\n')
    (bin_dir / "wl-copy").chmod(0o755)
    (bin_dir / "xclip").symlink_to("/bin/false")  # there too, but this session is Wayland's
    desktop = FreedesktopDesktop(
        {"PATH": f"{bin_dir}:/usr/bin:/bin", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"}
    )
    assert desktop.clipboard() == ["wl-copy", "--type", "image/png"]
    desktop.perform("copy", (copy,))
    assert record.read_text() == "--type\nimage/png\n"
    with Image.open(copy) as image, Image.open(Path(f"{record}.png")) as pasted:
        assert pasted.format == "PNG"
        assert pasted.convert("RGB").tobytes() == ImageOps.exif_transpose(image).convert("RGB").tobytes()
    x11 = FreedesktopDesktop({"PATH": f"{bin_dir}:/usr/bin:/bin", "DISPLAY": ":0"})
    assert x11.clipboard() == ["xclip", "-selection", "clipboard", "-t", "image/png", "-i"]
    with pytest.raises(DesktopError, match="xclip did not take the image"):
        x11.perform("copy", (copy,))  # the tool failed: said, not swallowed


def test_buttons_only_where_the_server_has_them_and_they_can_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = clean_copy(tmp_path)
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    with notification_server(tmp_path, "body,body-markup") as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        backend = FreedesktopBackend()
        backend.send("Photo cleaned: x.jpg", "b", copies=(copy,))
        (got,) = wait_until(recorder.received)
        assert got["actions"] == {} and "image-path" not in got["hints"]  # no "actions", no "icon-static"
        assert backend.waiting() == 0  # nothing to answer: no connection kept
        # No opener, no clipboard tool for a display, no file manager on the bus: nothing.
        bare = FreedesktopDesktop({"PATH": str(empty)})
        assert bare.offered((copy,)) == []
        assert bare.clipboard() is None
    bin_dir, _ = opener(tmp_path)
    without_display = FreedesktopDesktop({"PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert without_display.offered((copy,)) == ["default", "show", "open"]  # no display: no copy
    assert without_display.offered((copy, copy.with_name("b.jpg"))) == ["default", "show"]  # a burst
    assert without_display.offered(()) == []
    assert isinstance(desktop_for_this_os("darwin"), NoDesktop)
    assert isinstance(desktop_for_this_os("win32"), NoDesktop)
    assert desktop_for_this_os("darwin").offered((copy,)) == []


def test_a_burst_shows_all_its_copies_and_a_gone_copy_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = clean_copy(tmp_path)
    second = clean_copy(tmp_path, CORPUS / "exif-samples__Canon_40D.jpg", "b.jpg")
    failures: list[tuple[str, str]] = []
    with notification_server(tmp_path, WITH_BUTTONS, True) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        backend = FreedesktopBackend(FreedesktopDesktop(env), lambda t, b: failures.append((t, b)))
        backend.send("Cleaned 2 photos", "b", copies=(first, second))
        backend.send("Photo cleaned: b.jpg", "b", copies=(second,))
        burst, single = wait_until(lambda: recorder.received()[1:] and recorder.received())
        assert burst["actions"] == {"default": "Show in folder", "show": "Show in folder"}
        assert "image-path" not in burst["hints"]  # one picture for one photo only
        recorder.press(burst["id"], "default")  # a click on the notification itself
        assert wait_until(recorder.shown_items) == [[first.as_uri(), second.as_uri()]]

        second.unlink()  # the user deleted the copy before pressing
        recorder.press(single["id"], "show")
        wait_until(lambda: failures)
        backend.close()
    assert failures == [
        ("Couldn't show in folder", f"The clean copy {second} was removed or replaced since.")
    ]
    assert len(recorder.shown_items()) == 1  # nothing was shown for it


def test_a_button_never_acts_on_another_photo_under_the_same_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy was deleted and another photo's copy took its name: "Open" and "Copy image"
    refuse, and say so, rather than hand over a picture the notification was not about."""
    copy = clean_copy(tmp_path)
    bin_dir, opened = opener(tmp_path)
    failures: list[tuple[str, str]] = []
    with notification_server(tmp_path, WITH_BUTTONS, True) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        env = {"PATH": f"{bin_dir}:{os.environ['PATH']}"}
        backend = FreedesktopBackend(FreedesktopDesktop(env), lambda t, b: failures.append((t, b)))
        backend.send("Photo cleaned: holiday photo.jpg", "b", copies=(copy,))
        (got,) = wait_until(recorder.received)
        copy.unlink()
        shutil.copyfile(CORPUS / "exif-samples__Canon_40D.jpg", copy)  # someone else's picture
        recorder.press(got["id"], "open")
        wait_until(lambda: failures)
        backend.close()
    assert failures == [("Couldn't open", f"The clean copy {copy} was removed or replaced since.")]
    assert not opened.exists()


def test_signals_from_another_connection_are_not_obeyed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the server that took the notification answers for it: a program on the same bus
    emitting ActionInvoked for its id does nothing."""
    from jeepney import DBusAddress, new_signal
    from jeepney.io.blocking import open_dbus_connection

    copy = clean_copy(tmp_path)
    with notification_server(tmp_path, WITH_BUTTONS, True) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        backend = FreedesktopBackend()
        backend.send("Photo cleaned: x.jpg", "b", copies=(copy,))
        (got,) = wait_until(recorder.received)
        emitter = DBusAddress("/org/freedesktop/Notifications", interface="org.freedesktop.Notifications")
        with open_dbus_connection(address) as other:
            other.send(new_signal(emitter, "ActionInvoked", "us", (got["id"], "show")))
        recorder.press(got["id"], "show")  # then the real one, to know the first was heard
        assert wait_until(recorder.shown_items) == [[copy.as_uri()]]
        backend.close()
    assert len(recorder.shown_items()) == 1


def test_the_running_daemon_answers_its_buttons(tmp_path: Path) -> None:
    with notification_server(tmp_path, WITH_BUTTONS, True) as (address, recorder):
        run = DaemonRun(tmp_path / "d", extra="[notify]\nburst_seconds = 0.3\n")
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.pictures.mkdir(parents=True)
        with run:
            shutil.copyfile(ROTATED, run.pictures / "IMG_1.jpg")
            (got,) = wait_until(recorder.received, timeout=60)
            copy = run.output / "IMG_1.jpg"
            assert got["summary"] == "Photo cleaned: IMG_1.jpg"
            assert got["actions"]["show"] == "Show in folder" and got["hints"]["image-path"] == copy.as_uri()
            recorder.press(got["id"], "show")
            assert wait_until(recorder.shown_items) == [[copy.as_uri()]]
            shutil.copyfile(CORPUS / "exif-samples__Canon_40D.jpg", run.pictures / "IMG_2.jpg")
            second = wait_until(lambda: recorder.received()[1:], timeout=60)[0]
        # stopped: the notification nobody can answer any more was closed
        assert wait_until(lambda: recorder.closed()) == [second["id"]]


def test_windows_toast_buttons_open_the_folder_and_the_copy() -> None:
    copy = Path("/Users/me/Pictures/Safe to share/Mum & <Dad>.jpg")
    toast = ET.fromstring(toast_xml("Photo cleaned: Mum & <Dad>.jpg", "Removed: location.", (copy,)))
    texts = [t.text for t in toast.iter("text")]
    assert texts == ["Photo cleaned: Mum & <Dad>.jpg", "Removed: location."]  # escaped, read back
    buttons = {a.get("content"): a.get("arguments") for a in toast.iter("action")}
    folder = "file:///Users/me/Pictures/Safe%20to%20share/"
    assert buttons == {"Show in folder": folder, "Open": copy.as_uri()}
    assert all(a.get("activationType") == "protocol" for a in toast.iter("action"))
    assert toast.get("launch") == folder and toast.find(".//image").get("src") == copy.as_uri()  # type: ignore[union-attr]
    burst = ET.fromstring(toast_xml("Cleaned 2 photos", "b", (copy, copy.with_name("b.jpg"))))
    assert [a.get("content") for a in burst.iter("action")] == ["Show in folder"]
    plain = ET.fromstring(toast_xml("Couldn't clean x.jpg", "b"))
    assert plain.find(".//actions") is None
    env = WindowsToastBackend().environment("t", "b", (copy,))
    assert "SAFESHARE_TOAST" in env and "Safe to share" not in " ".join(WindowsToastBackend().command())
