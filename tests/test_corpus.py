"""Every file of the corpus (tests/corpus): cleaned with nothing left that ExifTool can read, no
trailer, identical pixels (lossless) or PSNR >= 40 dB (re-encoded); undecodable files are
refused with a reason; originals untouched."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.helpers import (
    CORPUS,
    bytes_after_end,
    exiftool_read,
    frames,
    manifest,
    psnr,
    require_corpus,
    residual_tags,
    same_pixels,
)

ROWS = manifest()
DECODABLE = [r for r in ROWS if r["decodes_with_pillow"] == "ok"]
LOSSLESS = {"jpeg", "png", "webp", "gif", "tiff"}


@pytest.fixture(scope="module")
def exif_of_outputs(corpus_clean: dict[str, Any]) -> dict[str, dict[str, Any]]:
    outputs = [Path(r["output"]) for r in corpus_clean["results"].values() if r["output"]]
    return exiftool_read(outputs)


def _result(corpus_clean: dict[str, Any], row: dict[str, str]) -> dict[str, Any]:
    source = str(CORPUS / row["path"])
    assert source in corpus_clean["results"], corpus_clean["proc"].stderr[-2000:]
    result: dict[str, Any] = corpus_clean["results"][source]
    return result


def test_corpus_is_in_the_repository() -> None:
    """The corpus ships with the clone; without it this fails (it never skips)."""
    corpus = require_corpus()
    assert len(ROWS) == 161
    missing = [r["path"] for r in ROWS if not (corpus / r["path"]).is_file()]
    assert missing == [], f"MANIFEST.tsv rows without their file: {missing[:5]}"
    readings = [r["path"] for r in ROWS if not (corpus / "exiftool" / f"{r['path']}.json").is_file()]
    assert readings == [], f"rows without an ExifTool reading: {readings[:5]}"
    assert all(r["source_repo"] and r["license_note"] for r in ROWS), (
        "every file names its source and licence"
    )


def test_every_corpus_file_has_a_result(corpus_clean: dict[str, Any]) -> None:
    videos = sum(1 for p in corpus_clean["results"] if "/corpus/video/" in p)
    assert len(corpus_clean["results"]) - videos == len(ROWS) == 161
    assert videos == 7  # cleaned with the rest (tests/test_video_corpus.py checks each copy)
    assert corpus_clean["proc"].returncode == 1  # one corpus file is truncated and refused


def test_originals_are_never_modified(corpus_clean: dict[str, Any]) -> None:
    assert corpus_clean["before"] == corpus_clean["after"]


@pytest.mark.parametrize("row", ROWS, ids=[r["path"] for r in ROWS])
def test_corpus_file(
    row: dict[str, str], corpus_clean: dict[str, Any], exif_of_outputs: dict[str, Any]
) -> None:
    result = _result(corpus_clean, row)
    if row["decodes_with_pillow"] != "ok":
        assert result["status"] == "refused" and result["output"] is None
        assert "truncated" in result["reason"]
        return
    assert result["status"] == "cleaned", result.get("reason")
    output = Path(result["output"])
    assert output.is_file()
    assert output.parent.parent == corpus_clean["out"]  # layout mirrored: <out>/<format folder>/
    residual = residual_tags(exif_of_outputs[str(output.resolve())])
    assert residual == [], f"ExifTool still reads {residual}"
    data = output.read_bytes()
    assert bytes_after_end(data) == 0
    source = CORPUS / row["path"]
    if row["format"] in LOSSLESS:
        assert result["mode"] == "lossless"
        assert same_pixels(source, output, first_only=row["format"] == "jpeg")
    else:
        assert result["mode"] == "re-encoded" and output.suffix == ".jpg"
        original = frames(source, orientation=False)[0]  # HEIF decoders apply irot/imir themselves
        cleaned = frames(output)[0]
        if row["format"] == "heic":
            assert original.size == cleaned.size
            assert psnr(original, cleaned) >= 40


ORIENTED = [r for r in DECODABLE if r["format"] in ("jpeg", "webp", "png", "tiff") and r["orientation"]]


@pytest.mark.parametrize("row", ORIENTED, ids=lambda r: r["path"])
def test_orientation_is_kept(
    row: dict[str, str], corpus_clean: dict[str, Any], exif_of_outputs: dict[str, Any]
) -> None:
    """The orientation tag survives (as the only EXIF) so the picture displays as before."""
    result = _result(corpus_clean, row)
    record = exif_of_outputs[str(Path(result["output"]).resolve())]
    expected = int(row["orientation"]) if row["orientation"] not in ("", "0") else 1
    if expected == 1 and row["xmp_orientation"]:
        expected = int(row["xmp_orientation"])
    assert int(record.get("IFD0:Orientation", 1)) == expected


@pytest.mark.parametrize(
    "row", [r for r in DECODABLE if r["has_gps_position"] == "1"], ids=lambda r: r["path"]
)
def test_location_is_reported(row: dict[str, str], corpus_clean: dict[str, Any]) -> None:
    result = _result(corpus_clean, row)
    assert "location" in {f["class"] for f in result["removed"]}


@pytest.mark.parametrize("row", [r for r in DECODABLE if r["has_trailer"] == "1"], ids=lambda r: r["path"])
def test_trailers_and_motion_videos_are_reported(row: dict[str, str], corpus_clean: dict[str, Any]) -> None:
    result = _result(corpus_clean, row)
    kinds = {f["kind"] for f in result["removed"]}
    assert kinds & {"video", "trailer", "secondary-image"}, kinds
    if "mp4" in row["trailer_kind"] or "mpvd" in row["trailer_kind"]:
        assert "video" in kinds


@pytest.mark.parametrize("row", [r for r in DECODABLE if r["has_thumbnail"] == "1"], ids=lambda r: r["path"])
def test_thumbnails_are_reported(row: dict[str, str], corpus_clean: dict[str, Any]) -> None:
    result = _result(corpus_clean, row)
    assert "thumbnail" in {f["kind"] for f in result["removed"]}


def test_heif_rotation_and_mirroring_display_as_the_original(corpus_clean: dict[str, Any]) -> None:
    """The eight AVIF rot/mir variants hold one picture; every clean copy shows it upright,
    closer to the reference than any other rotation or mirror of it."""
    from PIL import Image

    reference = frames(Path(_result(corpus_clean, {"path": "avif/pillow__rot0mir0.avif"})["output"]))[0]
    transforms = [None, *Image.Transpose]
    for rot in range(4):
        for mir in range(2):
            out = Path(_result(corpus_clean, {"path": f"avif/pillow__rot{rot}mir{mir}.avif"})["output"])
            shown = frames(out)[0]
            candidates = {t: reference if t is None else reference.transpose(t) for t in transforms}
            scores = {t: psnr(c, shown) for t, c in candidates.items() if c.size == shown.size}
            assert max(scores, key=lambda t: scores[t]) is None, (rot, mir, scores)


def test_heic_rotation_matches_the_manifest(corpus_clean: dict[str, Any]) -> None:
    """irot=3 HEICs come out portrait, as their decoders display them."""
    for row in ROWS:
        if row["format"] == "heic" and "irot=3" in row["heif_irot_imir"]:
            out = Path(_result(corpus_clean, row)["output"])
            width, height = frames(out)[0].size
            assert f"{width}x{height}" == row["pillow_size"] and height > width
