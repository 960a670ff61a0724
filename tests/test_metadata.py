"""The metadata readers on damaged and unusual input, format detection, and names."""

from __future__ import annotations

import struct

import piexif
import pytest

from safeshare.errors import NotAnImage, UnsupportedFormat
from safeshare.findings import Kind
from safeshare.formats import detect
from safeshare.metadata import exif, xmp
from safeshare.naming import neutral_name, revealing_parts
from tests import synth


def test_exif_reports_each_leak_class() -> None:
    report = exif.read_exif(synth.full_exif(orientation=6))
    kinds = {f.kind for f in report.findings}
    assert {
        Kind.GPS,
        Kind.CAPTURE_TIME,
        Kind.DEVICE,
        Kind.SERIAL,
        Kind.MAKER_NOTES,
        Kind.NAME,
        Kind.SOFTWARE,
        Kind.THUMBNAIL,
    } <= kinds
    assert report.orientation == 6
    values = {f.what: f.value for f in report.findings}
    assert values["GPS position"] == "48.8583 N, 2.2944 E"
    assert values["camera owner"] == synth.OWNER
    assert values["author"] == synth.OWNER  # Windows XPAuthor, UTF-16


def test_exif_directory_loop_and_bad_offsets_do_not_crash() -> None:
    # IFD0 with one entry pointing its Exif IFD back at IFD0, and a next-IFD pointer to itself.
    ifd = (
        struct.pack("<H", 2)
        + struct.pack("<HHII", 0x8769, 4, 1, 8)
        + struct.pack("<HHII", 0x010F, 2, 40, 9999)
    )
    blob = b"II*\0" + struct.pack("<I", 8) + ifd + struct.pack("<I", 8)
    report = exif.read_exif(blob)
    assert any(f.what.startswith("unreadable") for f in report.findings)


def test_garbage_exif_is_reported_not_raised() -> None:
    report = exif.read_exif(b"Exif\0\0" + bytes(range(256)) * 4)
    assert [f.what for f in report.findings] == ["unreadable EXIF block"]


def test_gps_with_southern_western_refs() -> None:
    data = piexif.dump(
        {"GPS": {1: "S", 2: ((33, 1), (52, 1), (0, 1)), 3: "W", 4: ((151, 1), (12, 1), (0, 1))}}
    )
    found = exif.read_exif(data).findings
    assert any(f.value == "33.8667 S, 151.2000 W" for f in found)


def test_xmp_orientation_gps_and_regions() -> None:
    packet = synth.xmp_packet(orientation=8).replace(
        b"</rdf:Description>",
        b'<mwg-rs:Regions xmlns:mwg-rs="http://www.metadataworkinggroup.com/schemas/regions/">'
        b"<rdf:Description><mwg-rs:RegionList><rdf:Bag><rdf:li><rdf:Description>"
        b"<mwg-rs:Name>Alice Neighbour</mwg-rs:Name></rdf:Description></rdf:li></rdf:Bag>"
        b"</mwg-rs:RegionList></rdf:Description></mwg-rs:Regions></rdf:Description>",
    )
    report = xmp.read_xmp(packet)
    assert report.orientation == 8
    faces = [f for f in report.findings if f.kind is Kind.FACES]
    assert faces and "Alice Neighbour" in faces[0].value
    assert any(f.value == "48.8583 N, 2.2944 E" for f in report.findings)


def test_broken_xmp_is_reported() -> None:
    assert [f.what for f in xmp.read_xmp(b"<x:xmpmeta><unclosed").findings] == ["unreadable XMP packet"]


@pytest.mark.parametrize(
    "head,error,message",
    [
        (b"", NotAnImage, "empty file"),
        (b"Dear diary, today", NotAnImage, "the content is text"),
        (b"<!DOCTYPE html><html>", NotAnImage, "HTML page"),
        (b"8BPS\0\1", UnsupportedFormat, "Photoshop PSD"),
        (b"\0\0\0\x0cjP  \r\n\x87\n", UnsupportedFormat, "JPEG 2000"),
        (b"%PDF-1.7", UnsupportedFormat, "PDF"),
        (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", UnsupportedFormat, "Matroska or WebM video"),
        (b"\0\0\0\x20ftypcrx \0\0\0\0", UnsupportedFormat, "ISO media file"),
    ],
)
def test_detect_names_what_it_cannot_clean(head: bytes, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        detect(head)


@pytest.mark.parametrize(
    "head,name",
    [
        (b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0", "BMP"),
        (b"\0\0\0\x0cJXL \r\n\x87\n", "JPEG XL"),
        (b"\xff\x0a\xfa\x1f", "JPEG XL"),
        (b"\0\0\0\x20ftypqt  \0\0\0\0", "QuickTime"),
        (b"\0\0\0\x08wide\0\0\0\0mdat", "QuickTime"),
        (b"\0\0\0\x18ftypisom\0\0\0\0isommp41", "MP4"),
        (b"\0\0\0\x18ftyp3gp4\0\0\0\0isom3gp4", "MP4"),
        (b"\0\0\0\x18ftypheic\0\0\0\0mif1heic", "HEIF"),
    ],
)
def test_detect_names_the_formats_it_cleans(head: bytes, name: str) -> None:
    assert detect(head.ljust(64, b"\0")).name == name


def test_detect_is_by_content_not_name() -> None:
    assert detect(synth.png()[:64]).name == "PNG"
    assert detect(synth.jpeg()[:64]).name == "JPEG"
    assert detect(synth.heic()[:64]).name == "HEIF"
    assert detect(synth.avif()[:64]).name == "AVIF"


@pytest.mark.parametrize(
    "name,reasons",
    [
        ("PXL_20250301_140211.jpg", ["a date", "a time", "a Google Pixel camera name"]),
        ("Screenshot 2025-03-01 at 14.02.11.png", ["a date", "a time", "a screenshot name"]),
        ("IMG-20250301-WA0007.jpg", ["a date", "a WhatsApp name"]),
        (
            "Screenshot_20250301-140211_Chrome.jpg",
            ["a date", "a time", "a screenshot name", "the app on screen"],
        ),
        ("DSC01234.JPG", ["a camera's file numbering"]),
        ("holiday.jpg", []),
    ],
)
def test_revealing_names(name: str, reasons: list[str]) -> None:
    assert revealing_parts(name) == reasons


def test_neutral_name_depends_only_on_content() -> None:
    assert neutral_name([b"abc", b"def"], ".JPG") == neutral_name([b"abcdef"], ".jpg")
    assert neutral_name([b"abc"], ".jpg") != neutral_name([b"abd"], ".jpg")
