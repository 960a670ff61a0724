"""Tiny videos built with ffmpeg (tests/videotools.py) in every layout a cleaner must handle:
moov after or before mdat, fragmented (with and without default-base-is-moof), 64-bit chunk
offsets (co64), MOV, 3GP, a mov_text subtitle holding coordinates, a tmcd timecode track;
tagged by ExifTool (Keys, UserData, ItemList, XMP, mvhd/tkhd/mdhd dates) or, for fragmented
files ExifTool cannot write, by ffmpeg. `safeshare clean` must keep the picture and sound
exactly and nothing else."""

from __future__ import annotations

import pytest

from tests import videotools as vt
from tests.conftest import json_lines, run_cli
from tests.helpers import ROOT

NAMES = vt.SYNTHETIC_NAMES


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> vt.Built:
    """Every synthetic video, built once per session (about 0.5 MB, 3 s)."""
    vt.require_tools("ffmpeg", "ffprobe", "exiftool")
    return vt.build_all(tmp_path_factory.mktemp("synthetic-videos"))


@pytest.fixture(scope="module")
def cleaned() -> dict[str, vt.CleanRun]:
    return {}


def source(built: vt.Built, name: str) -> vt.Synthetic:
    reason = built.skipped.get(name) or built.skipped.get("*")
    if reason:
        pytest.skip(f"{name} not built: {reason}")
    return built.files[name]


def run_for(
    name: str, built: vt.Built, cleaned: dict[str, vt.CleanRun], tmp: pytest.TempPathFactory
) -> vt.CleanRun:
    if name not in cleaned:
        cleaned[name] = vt.clean_video(source(built, name).path, tmp.mktemp("video-out") / "out")
    return cleaned[name]


EXPECTED_LAYOUT = {
    "mp4_moov_last.mp4": ("mdat", "moov", "[stco]"),
    "mp4_faststart.mp4": ("moov", "mdat", "[stco]"),
    "mp4_fragmented.mp4": ("moov", "(moof mdat)x", "tfhd base explicit"),
    "mp4_fragmented_dbm.mp4": ("moov", "(moof mdat)x", "tfhd base moof"),
    "mov_plain.mov": ("mdat", "moov", "[stco]"),
    "3gp_h263.3gp": ("mdat", "moov", "[stco]"),
    "mp4_subtitle_gps.mp4": ("moov", "mdat", "[stco]"),
    "mov_timecode.mov": ("mdat", "moov", "[stco]"),
    "mp4_co64_faststart.mp4": ("moov", "mdat", "[co64]"),
    "mov_co64.mov": ("mdat", "moov", "[co64]"),
}


@pytest.mark.parametrize("name", NAMES)
def test_the_builder_makes_what_it_says(name: str, synthetic: vt.Built) -> None:
    """Layout as intended (box order, fragments, co64), readable by ffprobe and ffmpeg with
    1 s of picture and sound, the dropped tracks there, and the tags ExifTool wrote."""
    item = source(synthetic, name)
    first, second, note = EXPECTED_LAYOUT[name]
    kinds = item.layout.split(" [")[0]
    if second.startswith("(moof"):
        assert kinds.startswith(f"ftyp {first}") and second in kinds, item.layout
    else:
        assert kinds.index(first) < kinds.index(second), item.layout
    assert note in item.layout, item.layout
    streams = vt.ffprobe_streams(item.path)
    assert [s["codec_type"] for s in streams if vt.is_media(s)] == ["video", "audio"]
    assert [s["codec_type"] for s in streams if not vt.is_media(s)] == list(item.extra_streams)
    assert all(abs((vt.duration_of(s) or 0) - 1) < 0.1 for s in streams if vt.is_media(s))
    assert vt.framemd5(item.path, "v") and vt.framemd5(item.path, "a")
    classes = vt.leak_classes(vt.leak_findings(vt.exiftool_ee(item.path)))
    assert {"location", "device", "serial", "time", "software"} <= classes, classes


def test_co64_rewrite_keeps_every_frame(synthetic: vt.Built) -> None:
    """The co64 variants hold exactly the frames of the files they were made from."""
    for co64, plain in (("mp4_co64_faststart.mp4", "mp4_faststart.mp4"), ("mov_co64.mov", "mov_plain.mov")):
        a, b = source(synthetic, co64).path, source(synthetic, plain).path
        assert vt.frame_problems(b, a) == [] and vt.media_problems(b, a) == []


@pytest.mark.parametrize("name", NAMES)
def test_cleaned_into_one_copy(
    name: str, synthetic: vt.Built, cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    vt.assert_cleaned(run_for(name, synthetic, cleaned, tmp_path_factory))


@pytest.mark.parametrize("name", NAMES)
def test_same_picture_and_sound_streams_and_nothing_else(
    name: str, synthetic: vt.Built, cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = run_for(name, synthetic, cleaned, tmp_path_factory)
    output = vt.assert_cleaned(run)
    assert vt.media_problems(run.source, output) == []


@pytest.mark.parametrize("name", NAMES)
def test_same_decoded_frames(
    name: str, synthetic: vt.Built, cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = run_for(name, synthetic, cleaned, tmp_path_factory)
    output = vt.assert_cleaned(run)
    assert vt.frame_problems(run.source, output) == []


@pytest.mark.parametrize("name", NAMES)
def test_exiftool_finds_no_leak_in_the_copy(
    name: str, synthetic: vt.Built, cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = run_for(name, synthetic, cleaned, tmp_path_factory)
    assert vt.leak_findings(vt.exiftool_ee(run.source))
    output = vt.assert_cleaned(run)
    assert [str(x) for x in vt.leak_findings(vt.exiftool_ee(output))] == []


@pytest.mark.parametrize("name", NAMES)
def test_no_byte_of_the_copy_holds_the_values(
    name: str, synthetic: vt.Built, cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The coordinates (tags and subtitle text), serial numbers, model and owner's name
    written into the input appear nowhere in the copy."""
    item = source(synthetic, name)
    data = item.path.read_bytes()
    present = vt.found_in(data, item.secrets)
    assert {b"48.8584", b"+48.8584", vt.SERIAL.encode()} <= set(present), present
    record = vt.exiftool_ee(item.path)
    present += vt.found_in(data, vt.location_needles(record) | vt.identity_needles(record))
    output = vt.assert_cleaned(run_for(name, synthetic, cleaned, tmp_path_factory))
    assert vt.found_in(output.read_bytes(), present) == []


@pytest.mark.parametrize("name", ["mp4_moov_last.mp4", "mp4_fragmented.mp4", "mov_plain.mov"])
def test_cleaning_twice_gives_the_same_bytes(
    name: str,
    synthetic: vt.Built,
    cleaned: dict[str, vt.CleanRun],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """As for images (README): a clean copy cleaned again comes out byte for byte the same."""
    output = vt.assert_cleaned(run_for(name, synthetic, cleaned, tmp_path_factory))
    again = vt.clean_video(output, tmp_path_factory.mktemp("video-again") / "out")
    assert vt.assert_cleaned(again).read_bytes() == output.read_bytes()


# ExifTool's UserData:SerialNumber is a serial; ffmpeg's file has only an mdta key of our own
# ("com.apple.quicktime.camera.serialnumber"), which is removed but need not be named as one.
INSPECT = {"mp4_moov_last.mp4": {"gps", "serial", "device"}, "mp4_fragmented.mp4": {"gps", "device"}}


@pytest.mark.parametrize("name", sorted(INSPECT))
def test_inspect_names_location_device_serial_and_time(name: str, synthetic: vt.Built) -> None:
    proc = run_cli("inspect", str(source(synthetic, name).path), "--json", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    (report,) = json_lines(proc.stdout)
    carries = report["carries"]
    assert {"location", "device", "time"} <= {c["class"] for c in carries}, carries
    assert INSPECT[name] <= {c["kind"] for c in carries}, carries
