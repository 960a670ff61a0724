"""Every real video of the corpus (tests/corpus/video): `safeshare clean` writes one copy with
the same extension, the same picture and sound streams (codec, size, duration, frame and packet
counts, identical decoded frames: ffprobe and ffmpeg framemd5) and nothing else (GoPro
telemetry, timecode and Apple timed-metadata tracks dropped), where ExifTool (-ee, timed
samples included) finds no location, time, device, serial, software or name, and no byte
holds the coordinates, serial numbers or model names ExifTool read from the original, which
stays unchanged. `safeshare inspect` names the location, device and serials of the GoPro and
iPhone files."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests import videotools as vt
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS, ROOT

VIDEO = CORPUS / "video"


def video_manifest() -> list[dict[str, str]]:
    path = VIDEO / "MANIFEST.tsv"
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


ROWS = video_manifest()
CLEANED = [r for r in ROWS if r["expect"] == "cleaned"]
# ExifTool's test movie keeps its sample tables but none of its media data (an empty 'mdat'):
# cleaned like any other, but there are no frames to compare.
HEADER_ONLY = {"video/exiftool_QuickTime.mov"}
assert all(r["expect"] == "cleaned" for r in ROWS)  # every real video of the corpus is cleaned
# What `inspect` must name (leak classes, finding kinds), for the GoPro and iPhone files.
INSPECT = {
    "video/gopro_max-heromode.mp4": ({"location", "device"}, {"gps", "serial"}),
    "video/gopro_karma.mp4": ({"location", "device"}, {"gps", "serial"}),
    "video/mov_with-gps.mov": ({"location", "device"}, {"gps"}),
}


def _id(row: dict[str, str]) -> str:
    return Path(row["path"]).name


@pytest.fixture(scope="module")
def cleaned() -> dict[str, vt.CleanRun]:
    """Each corpus video cleaned once, alone, into its own folder (filled as tests ask)."""
    return {}


def run_for(row: dict[str, str], cleaned: dict[str, vt.CleanRun], tmp: pytest.TempPathFactory) -> vt.CleanRun:
    if row["path"] not in cleaned:
        out = tmp.mktemp("video-out") / "out"
        cleaned[row["path"]] = vt.clean_video(CORPUS / row["path"], out)
    return cleaned[row["path"]]


@pytest.fixture(scope="module")
def input_readings() -> dict[str, dict[str, Any]]:
    return {}


def reading(row: dict[str, str], readings: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if row["path"] not in readings:
        readings[row["path"]] = vt.exiftool_ee(CORPUS / row["path"])
    return readings[row["path"]]


def test_video_corpus_is_in_the_repository() -> None:
    """Seven videos, each with its row, its digest, its source and licence (never skips)."""
    assert len(ROWS) == 7, f"{VIDEO}/MANIFEST.tsv: {len(ROWS)} rows"
    for row in ROWS:
        path = CORPUS / row["path"]
        assert path.is_file(), row["path"]
        assert path.stat().st_size == int(row["bytes"]) and vt.sha256(path) == row["sha256"], row["path"]
        assert row["source_repo"] and row["license_note"], row["path"]
        assert row["expect"] in ("cleaned", "refused"), row["path"]


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_the_oracles_see_the_leaks_in_the_original(
    row: dict[str, str], input_readings: dict[str, dict[str, Any]]
) -> None:
    """The independent readers work on the input: ExifTool finds what the manifest says, and
    ffprobe lists the streams it names (the other tests cannot pass for want of a reading)."""
    vt.require_tools("exiftool", "ffprobe")
    leaks = vt.leak_findings(reading(row, input_readings))
    assert vt.leak_classes(leaks) >= set(row["leak_classes"].split(",")), [str(x) for x in leaks[:20]]
    streams = vt.ffprobe_streams(CORPUS / row["path"])
    assert len([s for s in streams if vt.is_media(s)]) == len(row["media_streams"].split(","))
    assert len([s for s in streams if not vt.is_media(s)]) == len(
        [x for x in row["dropped_streams"].split(",") if x]
    )


@pytest.mark.parametrize("row", CLEANED, ids=_id)
def test_cleaned_into_one_copy(
    row: dict[str, str], cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Exit 0, one file with the same extension, the original unchanged."""
    vt.assert_cleaned(run_for(row, cleaned, tmp_path_factory))


@pytest.mark.parametrize("row", CLEANED, ids=_id)
def test_same_picture_and_sound_streams_and_nothing_else(
    row: dict[str, str], cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    vt.require_tools("ffprobe")
    run = run_for(row, cleaned, tmp_path_factory)
    output = vt.assert_cleaned(run)
    assert vt.media_problems(run.source, output) == []


@pytest.mark.parametrize("row", CLEANED, ids=_id)
def test_same_decoded_frames(
    row: dict[str, str], cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    vt.require_tools("ffmpeg", "ffprobe")
    run = run_for(row, cleaned, tmp_path_factory)
    output = vt.assert_cleaned(run)
    if row["path"] in HEADER_ONLY:
        # Its tracks are described but hold no data: the copy holds none either, and
        # describes the same streams.
        played = [s for s in vt.ffprobe_streams(run.source) if vt.is_media(s)]
        kept = [s for s in vt.ffprobe_streams(output) if vt.is_media(s)]
        assert len(played) == 2 and all(s.get("nb_read_packets", "0") == "0" for s in played)
        assert [(s["codec_name"], s.get("nb_frames")) for s in kept] == [
            (s["codec_name"], s.get("nb_frames")) for s in played
        ]
        return
    assert vt.framemd5(run.source, "v") or vt.framemd5(run.source, "a")
    assert vt.frame_problems(run.source, output) == []


@pytest.mark.parametrize("row", CLEANED, ids=_id)
def test_exiftool_finds_no_leak_in_the_copy(
    row: dict[str, str],
    cleaned: dict[str, vt.CleanRun],
    tmp_path_factory: pytest.TempPathFactory,
    input_readings: dict[str, dict[str, Any]],
) -> None:
    vt.require_tools("exiftool")
    assert vt.leak_findings(reading(row, input_readings)), (
        "the original carries nothing: the test proves nothing"
    )
    output = vt.assert_cleaned(run_for(row, cleaned, tmp_path_factory))
    left = vt.leak_findings(vt.exiftool_ee(output))
    assert [str(x) for x in left] == []


@pytest.mark.parametrize("row", CLEANED, ids=_id)
def test_no_byte_of_the_copy_holds_the_values(
    row: dict[str, str],
    cleaned: dict[str, vt.CleanRun],
    tmp_path_factory: pytest.TempPathFactory,
    input_readings: dict[str, dict[str, Any]],
) -> None:
    """Coordinates (ISO 6709 text, GPMF int32 pairs), serial numbers and ids (text, hex,
    int32 words) and model names that ExifTool read in the original are nowhere in the copy:
    not in a tag, nor in dead bytes of a dropped track left in 'mdat'."""
    vt.require_tools("exiftool")
    record = reading(row, input_readings)
    data = (CORPUS / row["path"]).read_bytes()
    needles = vt.found_in(data, vt.location_needles(record) | vt.identity_needles(record))
    if row["has_gps"] == "1":
        assert vt.found_in(data, vt.location_needles(record)), "no stored form of the coordinates found"
    if row["has_serial"] == "1":
        assert vt.found_in(data, vt.identity_needles(record)), "no stored form of the serials found"
    output = vt.assert_cleaned(run_for(row, cleaned, tmp_path_factory))
    assert vt.found_in(output.read_bytes(), needles) == []


@pytest.mark.parametrize("row", [r for r in CLEANED if r["has_gps"] == "1"], ids=_id)
def test_location_is_reported(
    row: dict[str, str], cleaned: dict[str, vt.CleanRun], tmp_path_factory: pytest.TempPathFactory
) -> None:
    run = run_for(row, cleaned, tmp_path_factory)
    vt.assert_cleaned(run)
    assert "location" in {f["class"] for f in run.result["removed"]}


@pytest.mark.parametrize("path", sorted(INSPECT), ids=lambda p: Path(p).name)
def test_inspect_names_location_device_and_serials(path: str) -> None:
    classes, kinds = INSPECT[path]
    proc = run_cli("inspect", str(CORPUS / path), "--json", cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    (report,) = json_lines(proc.stdout)
    carries = report["carries"]
    assert classes <= {c["class"] for c in carries}, carries
    assert kinds <= {c["kind"] for c in carries}, carries
