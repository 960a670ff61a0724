"""Videos in a watched folder, end to end: the daemon with a real watchdog observer, a
private D-Bus session and a recording notification server. A phone video is cleaned and
announced as a video; one that cannot be cleaned, or a video format that is not cleaned,
is said, never skipped in silence."""

from __future__ import annotations

import shutil
import struct
import time
from pathlib import Path

from tests import synth
from tests import videotools as vt
from tests.daemon_harness import wait_until
from tests.dbus_session import notification_server
from tests.helpers import ROOT
from tests.test_notify import _daemon

CORPUS = ROOT / "tests" / "corpus" / "video"


def test_a_video_dropped_in_a_watched_folder_is_cleaned_and_said_as_a_video(tmp_path: Path) -> None:
    with notification_server(tmp_path) as (address, recorder), _daemon(tmp_path, address) as run:
        shutil.copyfile(CORPUS / "gopro_karma.mp4", run.pictures / "GX010042.MP4")
        got = wait_until(recorder.received, timeout=60)
        time.sleep(2)
        assert recorder.received() == got  # exactly one
        copy = run.output / "GX010042.MP4"
        assert copy.exists()
        assert run.outcomes()[str(run.pictures / "GX010042.MP4")] == "published"
    (note,) = got
    assert note["summary"] == "Video cleaned: GX010042.MP4"
    assert note["body"].startswith("Removed: location track (GPS every 0.25 s), capture time")
    assert "device (GoPro Karma v1.0)" in note["body"] and "serial numbers" in note["body"]
    assert "What the video shows (faces, text) is not checked." in note["body"]
    if not vt.missing_tools("ffmpeg", "ffprobe"):
        assert vt.frame_problems(CORPUS / "gopro_karma.mp4", copy) == []


def test_a_video_that_cannot_be_cleaned_is_said(tmp_path: Path) -> None:
    with notification_server(tmp_path) as (address, recorder), _daemon(tmp_path, address) as run:
        # A movie whose only track has no header: corrupt, not unfinished (refused at once).
        broken = synth.fake_mp4()[:24] + struct.pack(">I4sI4s", 16, b"moov", 8, b"trak")
        (run.pictures / "VID_2040.mp4").write_bytes(broken)
        first = wait_until(recorder.received, timeout=30)
        (run.pictures / "clip.webm").write_bytes(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01" + b"\0" * 64)
        both = wait_until(lambda: recorder.received()[1:] and recorder.received(), timeout=30)
        assert run.outputs() == []
    summaries = sorted(n["summary"] for n in both)
    assert summaries == ["Couldn't clean VID_2040.mp4", "Couldn't clean clip.webm"]
    assert "Matroska or WebM video" in next(n["body"] for n in both if "webm" in n["summary"])
    assert first[0]["summary"] == "Couldn't clean VID_2040.mp4"
