"""The sentence is exactly true: redactions said as such, nothing cut silently, no secret
from a code in the desktop's history, and plain words that are right."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import piexif
import pytest
from PIL import Image

from safeshare.disposition import Disposition
from safeshare.errors import OutputError, Truncated
from safeshare.findings import Kind
from safeshare.formats import CleanOptions
from safeshare.messages import for_burst, for_file
from safeshare.pipeline import Pipeline, Result, Settings, Status
from safeshare.report import clean_line
from safeshare.vision import installed
from safeshare.vision.report import Seen, Visible
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import Recorder, notification_server
from tests.helpers import CORPUS, require_exiftool

needs_vision = pytest.mark.skipif(not installed(), reason="the vision extra is not installed")


@contextmanager
def _watching(
    tmp_path: Path, extra: str = "", vision: bool = False, recursive: bool = False
) -> Iterator[tuple[DaemonRun, Recorder]]:
    """The daemon on a temp HOME, its notifications going to a recording server."""
    watches = [{"path": str(tmp_path / "d" / "home" / "Pictures"), "recursive": recursive}]
    with notification_server(tmp_path) as (address, recorder):
        notify = f"[notify]\nburst_seconds = 0.5\n{extra}"
        run = DaemonRun(tmp_path / "d", watches=watches, extra=notify, vision=vision)
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.pictures.mkdir(parents=True)
        with run:
            yield run, recorder


def _cleaned(tmp_path: Path, name: str, data: bytes) -> Result:
    source = tmp_path / name
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    from safeshare.batch import Job, clean_all

    (result,) = clean_all([Job(source, Path())], Pipeline(Settings(CleanOptions())), out, 1)
    return result


def _jpeg_with(exif: dict[str, dict[int, object]]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 90, 60)).save(buffer, "JPEG", exif=piexif.dump(exif))
    return buffer.getvalue()


# -- plain words ---------------------------------------------------------------------------------
def test_a_phones_software_tag_is_a_software_version_not_editing_history(tmp_path: Path) -> None:
    result = _cleaned(tmp_path, "IMG_1.jpg", _jpeg_with({"0th": {piexif.ImageIFD.Software: b"17.4.1"}}))
    body = for_file(result).body
    assert body.startswith("Removed: software version."), body
    assert "editing history" not in body


def test_a_gps_block_with_only_a_direction_is_not_a_location(tmp_path: Path) -> None:
    gps = {piexif.GPSIFD.GPSImgDirectionRef: b"T", piexif.GPSIFD.GPSImgDirection: (2705, 10)}
    result = _cleaned(tmp_path, "IMG_2.jpg", _jpeg_with({"GPS": gps}))
    assert result.ok and Kind.GPS not in result.findings.kinds()
    body = for_file(result).body
    assert "location" not in body and "Removed: other metadata." in body, body


@pytest.mark.parametrize(
    ("gps", "location"),
    [
        (
            {
                piexif.GPSIFD.GPSLatitude: ((0, 1), (0, 1), (0, 1)),
                piexif.GPSIFD.GPSLongitude: ((0, 1), (0, 1), (0, 1)),
                piexif.GPSIFD.GPSStatus: b"V",
            },
            False,
        ),
        (
            {
                piexif.GPSIFD.GPSDestLatitudeRef: b"N",
                piexif.GPSIFD.GPSDestLatitude: ((48, 1), (51, 1), (0, 1)),
                piexif.GPSIFD.GPSDestLongitudeRef: b"E",
                piexif.GPSIFD.GPSDestLongitude: ((2, 1), (21, 1), (0, 1)),
            },
            True,
        ),
        ({piexif.GPSIFD.GPSAreaInformation: b"ASCII\0\0\0Rue de Rivoli 12, Paris"}, True),
    ],
    ids=["no-fix", "destination", "area"],
)
def test_location_is_said_exactly_when_the_gps_block_tells_a_place(
    tmp_path: Path, gps: dict[int, object], location: bool
) -> None:
    result = _cleaned(tmp_path, "IMG_4.jpg", _jpeg_with({"GPS": gps}))
    assert result.ok and (Kind.GPS in result.findings.kinds()) is location
    removed = for_file(result).body.splitlines()[0]
    assert ("location" in removed) is location, removed


def test_a_heic_converted_to_jpeg_says_so(tmp_path: Path) -> None:
    source = next(p for p in (CORPUS / "heic").iterdir() if p.name == "pillow__hopper.heif")
    result = _cleaned(tmp_path, "IMG_3.heic", source.read_bytes())
    assert result.ok and result.output_format in ("JPEG", "PNG")
    body = for_file(result).body
    assert f"Converted from HEIC to {result.output_format}." in body, body
    burst = for_burst([result, result]).body
    assert f"2 were converted to {result.output_format}." in burst


def test_a_stock_colour_profile_vendor_is_not_said_as_a_camera(tmp_path: Path) -> None:
    source = CORPUS / "png" / "pillow__xmp_tags_orientation.png"  # a ColorMatch profile from Adobe
    result = _cleaned(tmp_path, "scan.png", source.read_bytes())
    body = for_file(result).body
    assert body.startswith("Removed: device (in the colour profile), timestamps"), body


def test_failures_say_what_happens_next_at_normal_urgency() -> None:
    disk = Result(
        Path("/in/a.jpg"),
        Status.FAILED,
        reason="no space left on device",
        problem=OutputError,
        disposition=Disposition.RETRY_OUTPUT,
    )
    message = for_file(disk)
    assert message.body == "Could not write the clean copy (no space left on device); it will be tried again."
    assert not message.error
    cut = Result(
        Path("/in/b.jpg"), Status.REFUSED, reason="truncated JPEG: the data ends early", problem=Truncated
    )
    assert for_file(cut).body == (
        "The file looks unfinished (truncated JPEG: the data ends early); "
        "it will be tried again when it changes."
    )


def test_a_changed_file_is_updated(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with _watching(tmp_path) as (run, recorder):
        (run.pictures / "IMG_5.jpg").write_bytes(photo(1))
        wait_until(recorder.received)
        time.sleep(1)
        (run.pictures / "IMG_5.jpg").write_bytes(photo(2))
        got = wait_until(lambda: recorder.received()[1:] and recorder.received())
    assert [n["summary"] for n in got] == ["Photo cleaned: IMG_5.jpg", "Photo updated: IMG_5.jpg"]
    assert f"New clean copy: {run.output / 'IMG_5.jpg'}" in got[1]["body"]


def test_a_new_photo_under_a_deleted_ones_name_never_replaces_its_copy(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with _watching(tmp_path) as (run, recorder):
        (run.pictures / "a.jpg").write_bytes(photo(1))
        wait_until(recorder.received)
        first = (run.output / "a.jpg").read_bytes()
        (run.pictures / "a.jpg").unlink()
        time.sleep(1)
        (run.pictures / "a.jpg").write_bytes(photo(2))  # another photo, the same name
        got = wait_until(lambda: recorder.received()[1:] and recorder.received())
    assert [n["summary"] for n in got] == ["Photo cleaned: a.jpg", "Photo cleaned: a.jpg"]
    assert f"Clean copy: {run.output / 'a (2).jpg'}" in got[1]["body"]
    assert (run.output / "a.jpg").read_bytes() == first  # the deleted photo's copy is kept


def test_a_folder_moved_away_gives_up_its_copies_names(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    with _watching(tmp_path, recursive=True) as (run, recorder):
        (run.pictures / "trip").mkdir()
        (run.pictures / "trip" / "a.jpg").write_bytes(photo(1))
        wait_until(recorder.received)
        first = (run.output / "a.jpg").read_bytes()
        (run.pictures / "trip").rename(tmp_path / "elsewhere")  # the whole folder moved away
        time.sleep(1)
        (run.pictures / "trip").mkdir()
        (run.pictures / "trip" / "a.jpg").write_bytes(photo(2))  # another photo, the same path
        got = wait_until(lambda: recorder.received()[1:] and recorder.received())
    assert [n["summary"] for n in got] == ["Photo cleaned: a.jpg", "Photo cleaned: a.jpg"], got
    assert (run.output / "a.jpg").read_bytes() == first


def test_an_exiftool_edit_is_one_update_and_its_files_are_not_photos(tmp_path: Path) -> None:
    import subprocess

    from tests.test_daemon import photo

    exiftool = require_exiftool()
    with _watching(tmp_path) as (run, recorder):
        (run.pictures / "b.jpg").write_bytes(photo(1))
        wait_until(recorder.received)
        time.sleep(0.5)
        subprocess.run(
            [exiftool, "-q", "-overwrite_original", "-Artist=Jane", str(run.pictures / "b.jpg")], check=True
        )
        time.sleep(3)
        got = recorder.received()
    assert [n["summary"] for n in got] == ["Photo cleaned: b.jpg", "Photo updated: b.jpg"], got
    assert sorted(p.name for p in run.outputs()) == ["b.jpg"]


# -- nothing cut silently, no secrets ------------------------------------------------------------
def test_texts_and_codes_beyond_three_are_counted() -> None:
    texts = [Seen("text", (0, 0, 1, 1), t) for t in ("A1", "B2", "C3", "D4", "E5")]
    codes = [Seen("QRCode", (0, 0, 1, 1), f"item {i}") for i in range(5)]
    said = Visible((10, 10), [], texts, codes).describe()
    assert said.startswith("readable text ('A1', 'B2', 'C3') + 2 more, ")
    assert said.endswith("a QR code (item 2) + 2 more codes")


@pytest.mark.parametrize(
    ("payload", "said", "hidden"),
    [
        ("WIFI:T:WPA;S:home;P:hunter2;;", "a QR code (Wi-Fi network 'home', with its password)", "hunter2"),
        (
            "https://bank.example/reset?token=8f14e45fceea167a5a36dedd4bea2543&lang=en",
            "a QR code (https://bank.example/reset?token=…&lang=en (its key left out))",
            "8f14e45f",
        ),
        (
            "otpauth://totp/GitHub:jane?secret=JBSWY3DPEHPK3PXP&issuer=GitHub",
            "a QR code (an authenticator setup for 'GitHub', with its secret key)",
            "JBSWY3DP",
        ),
        (
            "https://jane:pa55word@nas.example/",
            "a QR code (https://jane:…@nas.example/ (its key left out))",
            "pa55",
        ),
        ("sk_live_51HxQpZ2eZvKYlo2C8Hj3kLmN", "a QR code (a long code, not shown)", "51HxQ"),
        ("https://example.org/menu", "a QR code (https://example.org/menu)", "\0"),
        (" WIFI:S:home;T:WPA;P:hunter2;;", "a QR code (Wi-Fi network 'home', with its password)", "hunter2"),
        (
            "https://example.com/api?a=1;pw=hunter2",
            "a QR code (https://example.com/api?a=1&pw=… (its key left out))",
            "hunter2",
        ),
        (
            "https://example.com/reset/8f3a9c2d1b/",
            "a QR code (https://example.com/reset/…/ (its key left out))",
            "8f3a",
        ),
        (
            "API key: sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "a QR code (API key: … (its secret left out))",
            "4eC39",
        ),
        (
            "smsto:+15551234:your code is 482913",
            "a QR code (smsto:+15551234:your code is … (its secret left out))",
            "4829",
        ),
        ("4111 1111 1111 1111 12/29", "a QR code (… 12/29 (its secret left out))", "1111"),
        ("4006381333931", "a QR code (4006381333931)", "\0"),
    ],
)
def test_a_codes_secret_is_left_out_of_the_sentence(payload: str, said: str, hidden: str) -> None:
    words = Visible((10, 10), codes=[Seen("QRCode", (0, 0, 1, 1), payload)]).describe()
    assert words == said and hidden not in words


def test_a_redacted_copy_says_what_was_filled_in_and_never_lists_it_as_visible() -> None:
    faces = [Seen("face", (i, 0, i + 5, 5)) for i in range(4)]
    texts = [Seen("text", (0, 9, 5, 10), "Password hunter2"), Seen("text", (0, 20, 5, 30), "ID 4821")]
    found = Visible((100, 100), faces, texts)
    filled = Visible((100, 100), faces[1:], texts)
    result = Result(
        Path("/in/party.jpg"),
        Status.CLEANED,
        Path("/out/party.jpg"),
        "JPEG",
        "JPEG",
        reencoded=True,
        visible=found.without(filled),
        filled=filled,
        notes=[filled.filled_in()],
    )
    body = for_file(result).body
    assert "3 faces and 2 texts filled in." in body and "Still visible: a face." in body, body
    assert "hunter2" not in body and "readable text" not in body
    line = clean_line(result)
    assert line.count("re-encoded") == 1 and "3 faces and 2 texts filled in" in line, line


# -- with the vision extra, through the daemon and a real notification server --------------------
@needs_vision
def test_the_daemon_leaves_a_wifi_password_out_of_the_notification(tmp_path: Path) -> None:
    from tests.vision_set import samples

    picture = next(s for s in samples() if s.name.startswith("three codes")).image
    picture.save(tmp_path / "codes.jpg", quality=92)
    with _watching(tmp_path, vision=True) as (run, recorder):
        shutil.copy(tmp_path / "codes.jpg", run.pictures / "codes.jpg")
        (note,) = wait_until(recorder.received, timeout=180)
    assert note["summary"] == "Photo cleaned: codes.jpg"
    assert "a QR code (Wi-Fi network 'home', with its password)" in note["body"], note["body"]
    assert "secret" not in note["body"]


@needs_vision
def test_the_daemon_says_a_redacted_copy_was_filled_in(tmp_path: Path) -> None:
    from tests.test_vision import _badge_photo

    _badge_photo(tmp_path / "party.jpg")
    redact = '[vision]\nredact = ["faces-except-largest", "text", "codes"]\n'
    with _watching(tmp_path, redact, vision=True) as (run, recorder):
        shutil.copy(tmp_path / "party.jpg", run.pictures / "party.jpg")
        (note,) = wait_until(recorder.received, timeout=180)
    body = note["body"]
    assert "filled in." in body and "Still visible: a face." in body, body  # no front camera: not "yours"
    assert "readable text" not in body and "QR code" not in body and "hunter2" not in body


def test_an_animation_is_said_to_be_one_never_appended_data(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (64, 48), (40 * i, 90, 200 - 40 * i)) for i in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "AVIF", save_all=True, append_images=frames[1:], duration=100, quality=90)
    result = _cleaned(tmp_path, "wave.avif", buffer.getvalue())
    assert result.ok, result.reason
    body = for_file(result).body
    assert "Animation of 4 frames" in body and "appended" not in body and "data after" not in body, body
    assert Kind.TRAILER not in result.findings.kinds() and Kind.VIDEO not in result.findings.kinds()
