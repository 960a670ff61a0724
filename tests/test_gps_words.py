"""GPS said as what it tells, in EXIF and XMP alike: every coordinate written is a finding
(a position, or 'incomplete or invalid'), a 0, 0 no-fix or a height alone is no location,
and a written area reads as the text it is, in its character code."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import piexif
import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.findings import Findings, Kind
from safeshare.inspector import inspect_file
from safeshare.messages import for_file
from safeshare.metadata.exif_gps import area_text
from safeshare.metadata.xmp_gps import coordinate
from safeshare.pipeline import Pipeline, Result, Settings
from tests.helpers import exiftool_read

G = piexif.GPSIFD
Z3 = ((0, 1), (0, 1), (0, 1))
NO_FIX = {G.GPSLatitudeRef: b"N", G.GPSLatitude: Z3, G.GPSLongitudeRef: b"E", G.GPSLongitude: Z3}
MAX_BYTES = 64 << 20


def _jpeg(gps: dict[int, object], xmp_props: dict[str, str] | None = None) -> bytes:
    out = io.BytesIO()
    exif = piexif.dump({"0th": {}, "Exif": {}, "GPS": gps})
    Image.new("RGB", (32, 24), (9, 9, 9)).save(out, "JPEG", exif=exif)
    data = out.getvalue()
    if xmp_props is None:
        return data
    body = "".join(f' {k}="{v}"' for k, v in xmp_props.items())
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:exif="http://ns.adobe.com/exif/1.0/"{body}/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()
    payload = b"http://ns.adobe.com/xap/1.0/\0" + packet
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + data[2:]


def _cleaned(tmp_path: Path, data: bytes) -> Result:
    source = tmp_path / "IMG_1.jpg"
    source.write_bytes(data)
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    result = clean_one(Pipeline(Settings()), source, out)
    assert result.ok, result.reason
    return result


def _removed(result: Result) -> str:
    return for_file(result).body.splitlines()[0]


def _said(findings: Findings) -> list[tuple[Kind, str, str]]:
    return [(f.kind, f.what, f.value) for f in findings.items]


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        (
            {"exif:GPSLatitude": "48.8584N", "exif:GPSLongitude": "2.2945E"},
            (Kind.GPS, "GPS position", "48.8584 N, 2.2945 E"),
        ),
        (
            {"exif:GPSLatitude": "-33.8568", "exif:GPSLongitude": "151.2153"},
            (Kind.GPS, "GPS position", "33.8568 S, 151.2153 E"),
        ),
        (
            {"exif:GPSLatitude": "48,51,30N", "exif:GPSLongitude": "2,17,40W"},
            (Kind.GPS, "GPS position", "48.8583 N, 2.2944 W"),
        ),
        ({"exif:GPSLatitude": "48,51.5N"}, (Kind.GPS, "GPS coordinates", "incomplete or invalid")),
        ({"exif:GPSLongitude": "2,17.67E"}, (Kind.GPS, "GPS coordinates", "incomplete or invalid")),
        (
            {"exif:GPSLatitude": "north-ish", "exif:GPSLongitude": "2.2945E"},
            (Kind.GPS, "GPS coordinates", "incomplete or invalid"),
        ),
        (
            {"exif:GPSDestLatitude": "48,51.5N"},
            (Kind.GPS, "GPS destination position", "incomplete or invalid"),
        ),
        (
            {"exif:GPSAreaInformation": "Rue de Rivoli 12"},
            (Kind.GPS, "GPS area information", "Rue de Rivoli 12"),
        ),
        (
            {"exif:GPSLatitude": "0,0.0N", "exif:GPSLongitude": "0,0.0E"},
            (Kind.OTHER, "GPS position 0, 0 (no fix)", ""),
        ),
    ],
    ids=[
        "decimal-ref",
        "signed-decimal",
        "dms",
        "lat-only",
        "lon-only",
        "garbage",
        "dest-half",
        "area",
        "no-fix",
    ],
)
def test_every_xmp_gps_coordinate_is_a_finding_and_none_is_kept(
    tmp_path: Path, props: dict[str, str], expected: tuple[Kind, str, str]
) -> None:
    data = _jpeg({}, props)
    (tmp_path / "in.jpg").write_bytes(data)
    inspected = inspect_file(tmp_path / "in.jpg", MAX_BYTES)
    assert expected in _said(inspected.findings), _said(inspected.findings)
    result = _cleaned(tmp_path, data)
    assert expected in _said(result.findings)
    removed = _removed(result)
    assert ("location" in removed) is (expected[0] is Kind.GPS), removed
    assert "no metadata" not in for_file(result).body
    assert result.output is not None
    record = exiftool_read([result.output])[str(result.output.resolve())]
    assert not [k for k in record if "GPS" in k.upper() or k.startswith("XMP")], record


def test_an_xmp_gps_time_beside_a_no_fix_is_no_location(tmp_path: Path) -> None:
    props = {
        "exif:GPSLatitude": "0,0.0N",
        "exif:GPSLongitude": "0,0.0E",
        "exif:GPSTimeStamp": "2024-05-01T10:00Z",
    }
    removed = _removed(_cleaned(tmp_path, _jpeg({}, props)))
    assert "location" not in removed, removed


def test_an_altitude_is_a_location_only_with_a_place(tmp_path: Path) -> None:
    no_fix = {**NO_FIX, G.GPSAltitudeRef: 0, G.GPSAltitude: (0, 1), G.GPSStatus: b"V"}
    result = _cleaned(tmp_path, _jpeg(no_fix))
    assert (Kind.CAMERA_SETTINGS, "altitude", "0 m") in _said(result.findings)
    assert "location" not in _removed(result), _removed(result)
    alone = _cleaned(tmp_path, _jpeg({G.GPSAltitudeRef: 0, G.GPSAltitude: (3812, 1)}))
    assert Kind.GPS not in alone.findings.kinds() and "location" not in _removed(alone)
    placed = {
        G.GPSLatitudeRef: b"N",
        G.GPSLatitude: ((48, 1), (51, 1), (30, 1)),
        G.GPSLongitudeRef: b"E",
        G.GPSLongitude: ((2, 1), (17, 1), (40, 1)),
        G.GPSAltitudeRef: 0,
        G.GPSAltitude: (35, 1),
    }
    assert (Kind.GPS, "altitude", "35 m") in _said(_cleaned(tmp_path, _jpeg(placed)).findings)


@pytest.mark.parametrize(
    "raw",
    [
        b"UNICODE\0" + "Rue de Rivoli 12, Paris".encode("utf-16-be"),
        b"UNICODE\0" + "Rue de Rivoli 12, Paris".encode("utf-16-le"),
    ],
    ids=["tiff-order", "other-order"],
)
def test_a_unicode_area_reads_as_text(tmp_path: Path, raw: bytes) -> None:
    result = _cleaned(tmp_path, _jpeg({G.GPSAreaInformation: raw}))
    assert (Kind.GPS, "GPS area information", "Rue de Rivoli 12, Paris") in _said(result.findings)


def test_area_text_follows_the_tiff_byte_order_and_the_character_code() -> None:
    text = "東京都渋谷区"
    assert area_text(b"UNICODE\0" + text.encode("utf-16-le"), "<") == text
    assert area_text(b"UNICODE\0" + text.encode("utf-16-be"), ">") == text
    assert area_text(b"UNICODE\0" + "Paris".encode("utf-16-le") + b"\0", "<") == "Paris"
    assert area_text(b"JIS\0\0\0\0\0" + text.encode("iso2022_jp"), ">") == text
    assert area_text(b"ASCII\0\0\0Paris\0", ">") == "Paris"


def test_a_jis_area_reads_as_iso_2022_jp(tmp_path: Path) -> None:
    raw = b"JIS\0\0\0\0\0" + "東京都渋谷区".encode("iso2022_jp")
    result = _cleaned(tmp_path, _jpeg({G.GPSAreaInformation: raw}))
    assert (Kind.GPS, "GPS area information", "東京都渋谷区") in _said(result.findings)


def test_xmp_coordinates_read_in_every_form_and_refuse_the_wrong_axis() -> None:
    assert coordinate("48,51.5N", "NS", 90) == pytest.approx(48.858333)
    assert coordinate("2,17,40W", "EW", 180) == pytest.approx(-2.294444)
    assert coordinate(" 48.8584S ", "NS", 90) == pytest.approx(-48.8584)
    assert coordinate("-2.5", "EW", 180) == pytest.approx(-2.5)
    assert coordinate("48.8584E", "NS", 90) is None
    assert coordinate("95.0N", "NS", 90) is None
    assert coordinate("", "NS", 90) is None
