"""Notifications say what a name or a camera model holds, never what it pretends: no markup
(a link 'Tap to undo'), no added lines, and a name that is not UTF-8 still gets its
notification. Real servers on a private D-Bus session: the recording server, dunst, and
plyer going through dbus-python as it does in a venv with the system's site packages."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import piexif
import pytest

from safeshare.findings import Findings, Kind
from safeshare.messages import for_file
from safeshare.notify_backends import Backend, FreedesktopBackend, NotifySendBackend
from safeshare.pipeline import Result, Status
from tests import synth
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import dunst_history, notification_server, running_dunst

LINK = '<a href="http://ev.il">Tap to undo</a>'  # an EXIF Model, 38 characters: shown whole
ESCAPED_LINK = '&lt;a href="http://ev.il"&gt;Tap to undo&lt;/a&gt;'
SPOOF = "spoof.jpg\nRemoved: nothing. This photo is safe"
NOT_UTF8 = os.fsdecode(b"\xff\xfe.jpg")
SYSTEM_SITE = Path("/usr/lib/python3/dist-packages")
# plyer's call, as safeshare makes it: the texts come in argv (a newline is fine there).
PLYER_SEND = """
import sys
from safeshare.notify_backends import PlyerBackend
backend = PlyerBackend("linux")
assert backend.unusable_reason() is None, backend.unusable_reason()
backend.send(sys.argv[1], sys.argv[2])
"""


@pytest.fixture(scope="module")
def dbus_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A path holding only dbus-python from the system (Debian: python3-dbus), so that the
    tests' Python sees it as a venv with system site packages would, and nothing else."""
    tag = f"cpython-{sys.version_info.major}{sys.version_info.minor}"
    bindings = sorted(SYSTEM_SITE.glob(f"_dbus_bindings.{tag}-*.so"))
    if not (SYSTEM_SITE / "dbus" / "__init__.py").exists() or not bindings:
        pytest.skip(f"dbus-python for {tag} is needed (Debian: apt-get install python3-dbus)")
    where = tmp_path_factory.mktemp("dbus-python")
    (where / "dbus").symlink_to(SYSTEM_SITE / "dbus")
    (where / bindings[0].name).symlink_to(bindings[0])
    return str(where)


def with_dbus_python(env: dict[str, str], where: str) -> dict[str, str]:
    return {**env, "PYTHONPATH": os.pathsep.join(p for p in (where, env.get("PYTHONPATH")) if p)}


def plyer_send(address: str, where: str, title: str, body: str) -> None:
    env = with_dbus_python({**os.environ, "DBUS_SESSION_BUS_ADDRESS": address}, where)
    proc = subprocess.run(
        [sys.executable, "-c", PLYER_SEND, title, body], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr[-2000:]


def with_camera(model: str) -> Result:
    found = Findings()
    found.add(Kind.DEVICE, "camera", model, "EXIF")
    return Result(
        Path("/in/IMG_1.jpg"), Status.CLEANED, Path("/out/IMG_1.jpg"), "JPEG", "JPEG", findings=found
    )


def camera_photo(model: str) -> bytes:
    data = io.BytesIO()
    synth.picture().save(data, "JPEG", exif=piexif.dump({"0th": {piexif.ImageIFD.Model: model.encode()}}))
    return data.getvalue()


def test_plyer_through_dbus_python_escapes_the_body(tmp_path: Path, dbus_python: str) -> None:
    message = for_file(with_camera(LINK))
    with notification_server(tmp_path) as (address, recorder):
        plyer_send(address, dbus_python, message.title, message.body)
        (got,) = wait_until(recorder.received)
    assert got["timeout"] == 10_000  # plyer's own call (10 s): not the jeepney fallback (-1)
    assert got["body"].startswith(f"Removed: device ({ESCAPED_LINK}).\n") and "<a" not in got["body"]


@pytest.mark.parametrize(("capabilities", "markup"), [("body,body-markup", True), ("body", False)])
def test_every_linux_backend_escapes_where_the_server_reads_markup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dbus_python: str, capabilities: str, markup: bool
) -> None:
    """A server that reads markup gets it escaped; one that shows plain text (no
    'body-markup', as the spec says) gets the text as it is, or it would show '&amp;'."""
    if shutil.which("notify-send") is None:
        pytest.skip("notify-send is needed (Debian: apt-get install libnotify-bin)")
    body = f"Removed: device ({LINK}), Tom & Jerry"
    with notification_server(tmp_path, capabilities) as (address, recorder):
        monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
        FreedesktopBackend().send("Photo cleaned: <b>&.jpg", body)
        NotifySendBackend().send("Photo cleaned: <b>&.jpg", body)
        plyer_send(address, dbus_python, "Photo cleaned: <b>&.jpg", body)
        got = wait_until(lambda: recorder.received()[2:] and recorder.received())
    expected = body.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;") if markup else body
    assert [n["body"] for n in got] == [expected] * 3
    assert [n["summary"] for n in got] == ["Photo cleaned: <b>&.jpg"] * 3  # plain text by the spec


def test_the_daemon_with_dbus_python_says_a_link_in_the_camera_model_as_text(
    tmp_path: Path, dbus_python: str
) -> None:
    """The issue as reported, with dbus-python importable: the daemon's own D-Bus backend
    comes first now (its buttons need it), and escapes; plyer's path is tested above."""
    with notification_server(tmp_path) as (address, recorder):
        run = DaemonRun(tmp_path / "d", extra="[notify]\nburst_seconds = 0.5\n")
        run.env = with_dbus_python({**run.env, "DBUS_SESSION_BUS_ADDRESS": address}, dbus_python)
        run.pictures.mkdir(parents=True)
        with run:
            (run.pictures / "camera.jpg").write_bytes(camera_photo(LINK))
            (got,) = wait_until(recorder.received, timeout=60)
    assert got["summary"] == "Photo cleaned: camera.jpg" and got["timeout"] == -1  # not plyer's 10 s
    assert f"device ({ESCAPED_LINK})" in got["body"] and "<a" not in got["body"]


def test_names_show_escaped_in_one_line_and_any_name_is_notified(tmp_path: Path) -> None:
    """Through the daemon and its Linux backends: a newline in a name cannot start a line,
    and a name that is not UTF-8 (which D-Bus cannot carry as it is) is still said."""
    from tests.test_daemon import photo

    with notification_server(tmp_path) as (address, recorder):
        run = DaemonRun(tmp_path / "d", extra="[notify]\nburst_seconds = 0.5\n")
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.pictures.mkdir(parents=True)
        with run:
            for n, name in enumerate([SPOOF, NOT_UTF8, "\u202egpj.exe"], 1):
                (run.pictures / name).write_bytes(photo(40 + n))
                wait_until(lambda n=n: len(recorder.received()) == n, timeout=60)  # one each
            time.sleep(1)
            got = recorder.received()
    assert [n["summary"] for n in got] == [
        "Photo cleaned: spoof.jpg\\nRemoved: nothing. This photo is safe",
        "Photo cleaned: \\xff\\xfe.jpg",
        "Photo cleaned: \\u202egpj.exe",  # not 'exe.jpg' read backwards
    ]
    assert f"Clean copy: {run.output}/\\xff\\xfe.jpg" in got[1]["body"]


def test_a_name_in_the_body_cannot_add_lines_either() -> None:
    """The body names the clean copy (and, for a duplicate, its folder): escaped there too."""
    found = Findings()
    found.add(Kind.GPS, "GPS position", "48.8584 N, 2.2945 E", "EXIF")
    copy = Path("/out") / SPOOF
    fresh = Result(Path("/in") / SPOOF, Status.CLEANED, copy, "JPEG", "JPEG", findings=found)
    twin = Result(Path("/in/x.jpg"), Status.CLEANED, already=Path("/out") / SPOOF / "x.jpg")
    for message in (for_file(fresh), for_file(twin)):
        assert not any(line.startswith("Removed: nothing") for line in message.body.splitlines())
        assert "spoof.jpg\\nRemoved: nothing" in message.body, message.body


def test_every_backend_gets_safe_texts_within_its_limits() -> None:
    class Kept(Backend):
        name = "kept"
        title_max, body_max = 40, 60

        def __init__(self) -> None:
            self.said: list[tuple[str, str]] = []

        def show(self, title: str, body: str, error: bool) -> None:
            self.said.append((title, body))

    kept = Kept()
    kept.send(f"Photo cleaned: {SPOOF}\x1b[2J", f"Removed: location.\nClean copy: /out/{NOT_UTF8}\x07")
    ((title, body),) = kept.said
    assert title == "Photo cleaned: spoof.jpg\\nRemoved: noth…"  # one line, cut to 40
    assert body == "Removed: location.\nClean copy: /out/\\xff\\xfe.jpg\\x07"  # its own lines kept
    body.encode("utf-8")  # sendable over D-Bus


def test_dunst_shows_the_link_as_text_and_the_name_as_plain_text(dbus_python: str) -> None:
    """What dunst renders ('message', Pango markup): the summary it escapes itself (plain text
    by the spec), the body it reads as markup, so the link must arrive escaped."""
    result = with_camera(LINK)
    message = for_file(
        Result(Path("/in/<b>x&amp;.jpg"), result.status, result.output, findings=result.findings)
    )
    with running_dunst() as env:
        plyer_send(env["DBUS_SESSION_BUS_ADDRESS"], dbus_python, message.title, message.body)
        subprocess.run(["dunstctl", "close-all"], env=env, check=False)
        (shown,) = wait_until(lambda: dunst_history(env))
    rendered = shown["message"]["data"]
    assert rendered.startswith("<b>Photo cleaned: &lt;b&gt;x&amp;amp;.jpg</b>\n"), rendered
    assert f"device ({ESCAPED_LINK})" in rendered and "(Tap to undo)" not in rendered, rendered
