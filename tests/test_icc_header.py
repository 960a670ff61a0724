"""The ICC profile header: the date, device and vendor fields are zeroed and reported, and the
colour fields stay (a colour-managed viewer shows the same colours). ExifTool is the reader
of the outputs; lcms (through Pillow's ImageCms) makes the profiles and reads them back."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pillow_heif
import pytest
from PIL import Image, ImageCms

from safeshare.findings import Kind
from safeshare.metadata.icc import sanitize_icc
from safeshare.metadata.icc_text import is_standard
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS, exiftool_read, manifest

ICC_ROWS = [r for r in manifest() if r["has_icc"] == "1"]
EXPORTED_AT = (2024, 5, 3, 14, 22, 10)
# Header bytes that say nothing about colour: CMM, date, platform, flags, device maker and
# model, device attributes, creator, profile ID and the reserved bytes.
ZEROED = ((4, 8), (24, 36), (40, 64), (80, 128))
COLOUR = ((8, 24), (36, 40), (64, 80))  # version, class, spaces; 'acsp'; intent, illuminant
ZERO_SIGNATURES = ("ProfileCMMType", "PrimaryPlatform", "DeviceManufacturer", "DeviceModel", "ProfileCreator")
COLOUR_FIELDS = (
    "ProfileVersion",
    "ProfileClass",
    "ColorSpaceData",
    "ProfileConnectionSpace",
    "RenderingIntent",
)
D50 = "0.9642 1 0.82491"  # the PCS illuminant every clean profile holds, as ExifTool prints it


def lcms_profile() -> bytes:
    """An sRGB profile as lcms writes it (the engine GIMP exports with): stamped with the
    time it was made."""
    profile: bytes = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return profile


def exported_profile() -> bytes:
    """An lcms profile as a calibrated export carries it: the export time, the display it
    was made for (maker and model), the 'embedded' flag and a vendor attribute bit."""
    profile = bytearray(lcms_profile())
    struct.pack_into(">6H", profile, 24, *EXPORTED_AT)
    profile[44:48] = b"\0\0\0\1"
    profile[48:56] = b"SAMSS24F"
    profile[56:64] = b"\0\0\0\0\0\0\0\1"
    return bytes(profile)


def test_header_keeps_only_its_colour_fields() -> None:
    original = exported_profile()
    result = sanitize_icc(original, "test")
    assert result.profile is not None
    header = result.profile[:128]
    for start, end in ZEROED:
        assert header[start:end] == bytes(end - start), f"header bytes {start}-{end} kept"
    for start, end in COLOUR:
        assert header[start:end] == original[start:end], f"colour bytes {start}-{end} changed"
    found = {(f.kind, f.what): f.value for f in result.findings}
    assert found[(Kind.TIMESTAMP, "colour profile creation date")] == "2024-05-03 14:22:10"
    assert found[(Kind.DEVICE, "colour profile device maker")] == "SAMS"
    assert found[(Kind.DEVICE, "colour profile device model")] == "S24F"
    vendor = found[(Kind.OTHER, "colour profile header fields")]
    for part in ("creator lcms", "preferred CMM lcms", "platform APPL", "flags 00000001"):
        assert part in vendor
    again = sanitize_icc(result.profile)
    assert again.profile == result.profile and again.findings == []


def test_the_time_lcms_stamped_is_reported_as_lcms_reads_it() -> None:
    profile = lcms_profile()
    made = ImageCms.ImageCmsProfile(io.BytesIO(profile)).profile.creation_date
    assert made is not None
    dates = [f.value for f in sanitize_icc(profile).findings if f.kind is Kind.TIMESTAMP]
    assert dates == [made.strftime("%Y-%m-%d %H:%M:%S")]


def _profiles() -> list[tuple[str, bytes]]:
    found = [("lcms export", exported_profile())]
    for row in ICC_ROWS:
        with Image.open(CORPUS / row["path"]) as image:
            profile = image.info.get("icc_profile")
        if profile:
            found.append((row["path"], profile))
    return found


@pytest.mark.parametrize("name,profile", _profiles(), ids=[n for n, _ in _profiles()])
def test_colour_managed_rendering_is_unchanged(name: str, profile: bytes) -> None:
    """lcms converts a picture to sRGB exactly alike through the profile and its clean copy,
    in every rendering intent."""
    clean = sanitize_icc(profile).profile
    assert clean is not None and clean != profile
    picture = synth.picture((64, 48))
    srgb = ImageCms.createProfile("sRGB")
    for intent in ImageCms.Intent:
        outputs = [
            ImageCms.profileToProfile(picture, io.BytesIO(p), srgb, renderingIntent=intent).tobytes()  # type: ignore[union-attr]
            for p in (profile, clean)
        ]
        assert outputs[0] == outputs[1], f"{name}: intent {intent.name} renders differently"


def _exported_file(fmt: str, folder: Path) -> Path:
    """A picture as an editor exports it: no metadata but the exported colour profile."""
    path = folder / f"export.{fmt}"
    picture, profile = synth.picture((48, 32)), exported_profile()
    if fmt == "heic":
        pillow_heif.from_pillow(picture).save(path, quality=90, icc_profile=profile)
    else:
        picture.save(
            path, {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "tif": "TIFF"}[fmt], icc_profile=profile
        )
    return path


def _header(record: dict[str, Any]) -> dict[str, Any]:
    return {k.split(":", 1)[1]: v for k, v in record.items() if k.startswith("ICC-header:")}


def assert_header_clean(header: dict[str, Any], where: str) -> None:
    assert header.get("ProfileFileSignature") == "acsp", f"{where}: no colour profile left"
    assert header.get("ProfileDateTime") == "0000:00:00 00:00:00", where
    for name in ZERO_SIGNATURES:
        assert header.get(name) == "", f"{where}: {name} = {header.get(name)!r}"
    assert header.get("CMMFlags", header.get("ProfileFlags")) == 0, where
    assert header.get("DeviceAttributes") == "0 0", where
    assert set(str(header.get("ProfileID", "0")).split()) == {"0"}, where


@pytest.mark.parametrize("fmt", ["jpg", "png", "webp", "tif", "heic"])
def test_exported_profile_is_reported_and_cleaned(tmp_path: Path, fmt: str) -> None:
    source = _exported_file(fmt, tmp_path)
    before = exiftool_read([source])[str(source.resolve())]
    assert _header(before)["DeviceManufacturer"] == "SAMS"  # the input is what we think it is
    if fmt != "heic":  # (HEIF inspection does not read the colour profile yet)
        shown = run_cli("inspect", str(source)).stdout
        assert "carries no metadata" not in shown
        assert "colour profile creation date 2024-05-03 14:22:10" in shown
        assert "colour profile device maker SAMS" in shown
    proc = run_cli("clean", str(source), "--output", str(tmp_path / "out"), "--json")
    [result] = json_lines(proc.stdout)
    assert result["status"] == "cleaned", result
    removed = {(f["kind"], f["what"], f["value"]) for f in result["removed"]}
    assert ("timestamp", "colour profile creation date", "2024-05-03 14:22:10") in removed
    assert ("device", "colour profile device model", "S24F") in removed
    output = Path(result["output"])
    assert_header_clean(_header(exiftool_read([output])[str(output.resolve())]), fmt)
    again = run_cli("inspect", str(output)).stdout
    assert "carries no metadata beyond the picture" in again, again


@pytest.fixture(scope="module")
def icc_corpus_clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every corpus file with a colour profile, through `safeshare clean --json`."""
    out = tmp_path_factory.mktemp("icc-out")
    proc = run_cli("clean", *(str(CORPUS / r["path"]) for r in ICC_ROWS), "--output", str(out), "--json")
    return {str(Path(r["input"]).resolve()): r for r in json_lines(proc.stdout)}


def _stored_reading(row: dict[str, str]) -> dict[str, Any]:
    """ExifTool's reading of the original, stored with the corpus."""
    records = json.loads((CORPUS / "exiftool" / f"{row['path']}.json").read_text())
    record: dict[str, Any] = records[0] if isinstance(records, list) else records
    return _header(record)


@pytest.mark.parametrize("row", ICC_ROWS, ids=[r["path"] for r in ICC_ROWS])
def test_corpus_profiles_lose_date_and_device(
    row: dict[str, str], icc_corpus_clean: dict[str, dict[str, Any]]
) -> None:
    result = icc_corpus_clean[str((CORPUS / row["path"]).resolve())]
    if result["status"] != "cleaned":
        assert row["decodes_with_pillow"] != "ok", result  # only the truncated file is refused
        return
    output = Path(result["output"])
    after = _header(exiftool_read([output])[str(output.resolve())])
    assert_header_clean(after, row["path"])
    before = _stored_reading(row)
    for name in COLOUR_FIELDS:
        assert after[name] == before[name], f"{name}: {before[name]!r} -> {after[name]!r}"
    assert after["ConnectionSpaceIlluminant"] == D50
    removed = {(f["what"], f["value"]) for f in result["removed"]}
    date = str(before.get("ProfileDateTime", "0000:00:00 00:00:00"))
    if date != "0000:00:00 00:00:00":
        day, _, time = date.partition(" ")
        assert ("colour profile creation date", f"{day.replace(':', '-')} {time}") in removed
    maker = str(before.get("DeviceManufacturer", "")).rstrip("\0 ")
    if maker and maker != "none":
        assert ("colour profile device maker", maker) in removed
    described = _tag(output, "ProfileDescription")
    original = _tag(CORPUS / row["path"], "ProfileDescription")
    if is_standard(b"desc", original):
        assert described == original
    else:
        assert described == "Colour profile"
        assert ("colour profile description", original) in removed


def _tag(path: Path, name: str) -> str:
    """A tag of the ICC_Profile group, as ExifTool reads it."""
    record = exiftool_read([path])[str(path.resolve())]
    return str(record.get(f"ICC_Profile:{name}", "")).strip()
