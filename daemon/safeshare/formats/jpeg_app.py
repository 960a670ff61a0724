"""What JPEG APPn and COM segments carry. None of them is copied to an output."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from safeshare.errors import CorruptImage
from safeshare.findings import Findings, Kind
from safeshare.metadata import exif
from safeshare.metadata.embedded import human_size
from safeshare.metadata.tiff_ifd import TiffReader
from safeshare.metadata.values import decode_text

if TYPE_CHECKING:
    from safeshare.metadata.xmp import XmpReport

XMP_ID = b"http://ns.adobe.com/xap/1.0/\0"
XMP_EXT_ID = b"http://ns.adobe.com/xmp/extension/\0"


@dataclass
class AppResult:
    """What one APP segment is, and the orientation it states, if any."""

    is_exif: bool = False
    exif_orientation: int | None = None
    is_xmp: bool = False
    xmp_orientation: int | None = None


def read_jfif(body: bytes, found: Findings) -> bytes:
    """The APP0 JFIF segment rebuilt without its thumbnail (which becomes a finding)."""
    header = body[5:12].ljust(7, b"\0")  # version(2) units(1) Xdensity(2) Ydensity(2)
    if len(body) >= 14 and body[12] and body[13]:
        found.add(Kind.THUMBNAIL, "JFIF thumbnail", f"{body[12]}x{body[13]}", "JFIF")
    segment_body = b"JFIF\0" + header + b"\0\0"
    return b"\xff\xe0" + struct.pack(">H", len(segment_body) + 2) + segment_body


def classify_app(marker: int, body: bytes, found: Findings) -> AppResult:
    """Add findings for one APPn/COM segment; report any orientation it declares."""
    result = AppResult()
    name = f"APP{marker - 0xE0}" if 0xE0 <= marker <= 0xEF else f"0xFF{marker:02X}"
    if marker == 0xFE:
        text = decode_text(body).strip("\0 ")
        if text:
            found.add(Kind.TEXT, "comment", text, "JPEG comment")
    elif marker == 0xE1 and body.startswith(b"Exif\0"):
        report = exif.read_exif(body, "EXIF")
        found.extend(report.findings)
        result.is_exif, result.exif_orientation = True, report.orientation
    elif marker == 0xE1 and body.startswith(XMP_ID):
        xmp_report = _read_xmp(body[len(XMP_ID) :])
        found.extend(xmp_report.findings)
        result.is_xmp, result.xmp_orientation = True, xmp_report.orientation
    elif marker == 0xE1 and body.startswith(XMP_EXT_ID):
        _extended_xmp(body[len(XMP_EXT_ID) :], found)
    elif marker == 0xE2 and body.startswith(b"MPF\0"):
        images = _mpf_image_count(body[4:])
        found.add(Kind.SECONDARY_IMAGE, "multi-picture index (MPF)", f"{images} images", name)
    elif marker == 0xE2 and body.startswith(b"FPXR\0"):
        found.add(Kind.THUMBNAIL, "FlashPix preview", human_size(len(body)), name)
    elif marker == 0xE0 and body.startswith(b"JFXX\0"):
        found.add(Kind.THUMBNAIL, "JFIF extension thumbnail", human_size(len(body)), name)
    elif marker == 0xED and body.startswith((b"Photoshop 3.0\0", b"Adobe_Photoshop2.5")):
        found.extend(exif.read_photoshop(body, "Photoshop"))
    elif marker == 0xEB and (body.startswith(b"JP") or b"jumb" in body[:32]):
        found.add(Kind.PROVENANCE, "content credentials (C2PA/JUMBF)", human_size(len(body)), name)
    elif marker == 0xEC and body.startswith(b"Ducky"):
        found.add(Kind.SOFTWARE, "Photoshop 'Save for Web' data", "", name)
    else:  # any other APPn, including ones nobody has named yet
        found.add(Kind.OTHER, f"{name} segment", _identifier(body) or human_size(len(body)), name)
    return result


def _identifier(body: bytes) -> str:
    """The NUL-terminated ASCII name most APPn segments start with, if there is one."""
    ident = body[:40].split(b"\0", 1)[0]
    if 2 <= len(ident) < 40 and all(32 <= b < 127 for b in ident):
        return f"'{ident.decode('ascii').strip()}', {human_size(len(body))}"
    return ""


def _read_xmp(packet: bytes) -> XmpReport:
    from safeshare.metadata import xmp  # imported here: most JPEGs carry no XMP (issue 17)

    return xmp.read_xmp(packet, "XMP")


def _extended_xmp(chunk: bytes, found: Findings) -> None:
    """Extended XMP is where Google cameras put depth maps and the unprocessed image."""
    total = struct.unpack_from(">I", chunk, 32)[0] if len(chunk) >= 40 else len(chunk)
    if b"GDepth:Data" in chunk or b"GImage:Data" in chunk:
        found.add(Kind.SECONDARY_IMAGE, "images inside extended XMP", human_size(total), "XMP")
    else:
        found.add(Kind.OTHER, "extended XMP", human_size(total), "XMP")


def _mpf_image_count(mpf: bytes) -> int:
    """Number of images the MP index IFD lists (tag 0xB001), or 0 if unreadable."""
    try:
        reader = TiffReader(mpf)
        ifd = reader.read_ifd(reader.first_ifd)
        return reader.first_int(ifd.entries[0xB001]) if 0xB001 in ifd.entries else 0
    except CorruptImage:  # damage just means "count unknown"; the segment goes anyway
        return 0
