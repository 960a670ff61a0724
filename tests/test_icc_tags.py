"""ICC profile tags: text tags written fresh, colour tags cut to their data, header colour
fields normalised, iccMAX profiles removed, a second JPEG profile reported. A hostile profile
carries a marker in every slot; none may survive, and each is reported."""

from __future__ import annotations

import io
import struct
from pathlib import Path

from PIL import Image, ImageCms

from safeshare.findings import Kind
from safeshare.metadata.icc import D50, V5_REMOVED, sanitize_icc
from tests import synth
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS, exiftool_read

MARK = b"PLANTED-MARKER"
V2, V4 = 0x02100000, 0x04300000


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \0\0\0\0" + _s15(x) + _s15(y) + _s15(z)


def _desc(text: str) -> bytes:
    raw = text.encode() + b"\0"
    return b"desc\0\0\0\0" + struct.pack(">I", len(raw)) + raw + bytes(78)


def _text(text: str) -> bytes:
    return b"text\0\0\0\0" + text.encode() + b"\0"


def _mluc(text: str) -> bytes:
    raw = text.encode("utf-16-be")
    return b"mluc\0\0\0\0" + struct.pack(">II4sII", 1, 12, b"enUS", len(raw), 28) + raw


def _profile(tags: list[tuple[bytes, bytes]], version: int = V2) -> bytes:
    """A display profile of these tags, each block where the table says."""
    header = bytearray(128)
    struct.pack_into(">I", header, 8, version)
    header[12:24], header[36:40], header[68:80] = b"mntrRGB XYZ ", b"acsp", D50
    table_end = 132 + 12 * len(tags)
    table, body = b"", b""
    for sig, block in tags:
        body += bytes(-len(body) % 4)
        table += struct.pack(">4sII", sig, table_end + len(body), len(block))
        body += block
    struct.pack_into(">I", header, 0, table_end + len(body))
    return bytes(header) + struct.pack(">I", len(tags)) + table + body


def _rgb_tags(pad: bytes = b"") -> list[tuple[bytes, bytes]]:
    curve = b"curv\0\0\0\0" + struct.pack(">IH", 1, int(2.2 * 256))
    chad = b"sf32\0\0\0\0" + b"".join(_s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    return [
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249) + pad),
        (b"rXYZ", _xyz(0.4361, 0.2225, 0.0139)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz(0.1431, 0.0606, 0.7141)),
        (b"rTRC", curve + pad),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"chad", chad + pad),
    ]


def _hostile(version: int = V2) -> bytes:
    text = _mluc if version >= V4 else _desc
    return _profile(
        [
            (b"desc", text(f"{MARK.decode()} Jane Doe's iPhone 2023-05-06")),
            (b"cprt", (_mluc if version >= V4 else _text)(f"{MARK.decode()} Copyright 2023 Jane Doe")),
            *_rgb_tags(pad=MARK + b"-PAD"),
            (b"ciis", _text(MARK.decode() + "-CIIS")),
            (b"meas", _text(MARK.decode() + "-MEAS")),
            (b"tech", b"sig \0\0\0\0dcam"),
        ],
        version,
    )


def _tag_table(profile: bytes) -> dict[bytes, bytes]:
    count = struct.unpack_from(">I", profile, 128)[0]
    entries = [struct.unpack_from(">4sII", profile, 132 + 12 * i) for i in range(count)]
    return {sig: profile[off : off + size] for sig, off, size in entries}


def test_text_tags_are_written_fresh_and_reported() -> None:
    for version, kind in ((V2, b"desc"), (V4, b"mluc")):
        result = sanitize_icc(_hostile(version), "test")
        assert result.profile is not None and MARK not in result.profile
        tags = _tag_table(result.profile)
        assert tags[b"desc"][:4] == kind and tags[b"cprt"][:4] == (b"mluc" if version >= V4 else b"text")
        lcms = ImageCms.ImageCmsProfile(io.BytesIO(result.profile))
        assert ImageCms.getProfileDescription(lcms).strip() == "Colour profile"
        assert ImageCms.getProfileCopyright(lcms).strip() == ""
        found = {(f.kind, f.what): f.value for f in result.findings}
        assert "Jane Doe's iPhone" in found[(Kind.OTHER, "colour profile description")]
        assert "Copyright 2023 Jane Doe" in found[(Kind.NAME, "colour profile copyright")]
        again = sanitize_icc(result.profile)
        assert again.profile == result.profile and again.findings == []


def test_standard_description_and_copyright_are_kept() -> None:
    profile = _profile([(b"desc", _desc("Adobe RGB (1998)")), (b"cprt", _text("Copyright Apple Inc., 2017"))])
    result = sanitize_icc(profile)
    assert result.findings == [] and result.profile is not None
    lcms = ImageCms.ImageCmsProfile(io.BytesIO(result.profile))
    assert ImageCms.getProfileDescription(lcms).strip() == "Adobe RGB (1998)"


def test_tags_are_cut_to_their_data_and_wrong_types_dropped() -> None:
    result = sanitize_icc(_hostile(), "test")
    assert result.profile is not None and MARK not in result.profile
    tags = _tag_table(result.profile)
    assert {len(tags[s]) for s in (b"wtpt", b"rXYZ")} == {20} and len(tags[b"chad"]) == 44
    assert len(tags[b"rTRC"]) == 14 and len(tags[b"tech"]) == 12
    assert b"ciis" not in tags and b"meas" not in tags
    found = {f.what: f.value for f in result.findings}
    assert found["bytes hidden after colour-profile tag data"] == "wtpt, rTRC, chad"
    assert found["colour-profile tags of a wrong type (removed)"] == "ciis, meas"


def test_cut_tags_render_alike() -> None:
    padded = _profile([(b"desc", _desc("sRGB")), *_rgb_tags(pad=MARK)])
    clean = sanitize_icc(padded).profile
    assert clean is not None and MARK not in clean
    picture, srgb = synth.picture((32, 24)), ImageCms.createProfile("sRGB")
    outputs = [
        ImageCms.profileToProfile(picture, io.BytesIO(p), srgb).tobytes()  # type: ignore[union-attr]
        for p in (padded, clean)
    ]
    assert outputs[0] == outputs[1]


def test_header_intent_illuminant_and_version_reserved_bytes() -> None:
    profile = bytearray(_profile([(b"desc", _desc("sRGB")), *_rgb_tags()]))
    profile[10:12], profile[64:68], profile[68:80] = b"JD", b"\0\0JD", b"SECRETMARKER"
    result = sanitize_icc(bytes(profile))
    assert result.profile is not None
    header = result.profile[:128]
    assert header[8:12] == b"\x02\x10\0\0" and header[64:68] == bytes(4) and header[68:80] == D50
    [fields] = [f.value for f in result.findings if f.what == "colour profile header fields"]
    for part in ("version reserved bytes 4a44", "rendering intent 00004a44", "PCS illuminant 5345"):
        assert part in fields
    profile[64:68] = b"\0\0\0\3"
    assert sanitize_icc(bytes(profile)).profile[64:68] == b"\0\0\0\3"  # type: ignore[index]


def test_iccmax_profile_is_removed() -> None:
    profile = bytearray(_profile([(b"desc", _desc("v5")), *_rgb_tags(), (b"c2sp", bytes(16))], 0x05000000))
    profile[100:110] = b"rs\0\x24" + struct.pack(">3H", 0x5E60, 0x5E90, 31)
    result = sanitize_icc(bytes(profile))
    assert result.profile is None
    assert [f.what for f in result.findings] == [V5_REMOVED]


def test_second_jpeg_profile_and_display_model_are_reported(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    synth.picture((32, 24)).save(buffer, "JPEG")
    image = buffer.getvalue()

    def app2(profile: bytes) -> bytes:
        body = b"ICC_PROFILE\0\1\1" + profile
        return b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body

    first = _profile([(b"desc", _desc("sRGB")), *_rgb_tags()])
    source = tmp_path / "two.jpg"
    source.write_bytes(image[:2] + app2(first) + app2(_hostile()) + image[2:])
    tiff = CORPUS / "tiff" / "exif-samples__Cr_mieux11.tiff"
    out = tmp_path / "out"
    proc = run_cli("clean", "--json", "--output", str(out), str(source), str(tiff))
    results = {Path(r["input"]).name: r for r in json_lines(proc.stdout)}
    removed = {(f["what"], f["value"]) for f in results["two.jpg"]["removed"]}
    assert ("second colour profile", f"{len(_hostile())} bytes") in removed
    assert MARK not in Path(results["two.jpg"]["output"]).read_bytes()
    removed = {(f["what"], f["value"]) for f in results[tiff.name]["removed"]}
    assert ("device model in the colour profile", "maker 0610, model 9c5f, date c01d59a1") in removed
    assert ("colour profile description", "Color LCD") in removed
    output = Path(results[tiff.name]["output"])
    record = exiftool_read([output])[str(output.resolve())]
    assert record["ICC_Profile:ProfileDescription"] == "Colour profile"
    with Image.open(output) as picture:
        assert MARK not in picture.info["icc_profile"]
