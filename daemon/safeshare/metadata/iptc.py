"""Read Photoshop image resources (APP13 / TIFF tag 34377) and IPTC-IIM records."""

from __future__ import annotations

import struct

from safeshare.findings import Finding, Findings, Kind
from safeshare.metadata import xmp
from safeshare.metadata.embedded import describe_image_blob, human_size
from safeshare.metadata.values import decode_text

# IPTC application record (2:nn) datasets -> (kind, what)
IPTC_DATASETS: dict[int, tuple[Kind, str]] = {
    90: (Kind.PLACE, "city"),
    92: (Kind.PLACE, "sub-location"),
    95: (Kind.PLACE, "province/state"),
    100: (Kind.PLACE, "country code"),
    101: (Kind.PLACE, "country"),
    26: (Kind.PLACE, "location code"),
    27: (Kind.PLACE, "location name"),
    55: (Kind.CAPTURE_TIME, "date created"),
    60: (Kind.CAPTURE_TIME, "time created"),
    62: (Kind.TIMESTAMP, "digital creation date"),
    63: (Kind.TIMESTAMP, "digital creation time"),
    80: (Kind.NAME, "by-line"),
    85: (Kind.NAME, "by-line title"),
    110: (Kind.NAME, "credit"),
    116: (Kind.NAME, "copyright"),
    118: (Kind.NAME, "contact"),
    122: (Kind.NAME, "writer"),
    115: (Kind.NAME, "source"),
    5: (Kind.TEXT, "object name"),
    25: (Kind.TEXT, "keywords"),
    105: (Kind.TEXT, "headline"),
    120: (Kind.TEXT, "caption"),
    65: (Kind.SOFTWARE, "originating program"),
}
_QUIET_DATASETS = {0}  # record version

# Photoshop image resource IDs with a meaning of their own.
RESOURCE_IPTC, RESOURCE_EXIF, RESOURCE_XMP = 0x0404, 0x0422, 0x0424
RESOURCE_THUMBNAILS = {0x0409, 0x040C}


def read_iptc(data: bytes, where: str = "IPTC") -> list[Finding]:
    """Findings of an IPTC-IIM stream: a sequence of 0x1C record:dataset:size:value."""
    found = Findings()
    other = 0
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, dataset, size = data[pos + 1], data[pos + 2], struct.unpack_from(">H", data, pos + 3)[0]
        pos += 5
        if size & 0x8000:  # extended dataset: the size is in the next n bytes
            n = size & 0x7FFF
            size = int.from_bytes(data[pos : pos + n], "big")
            pos += n
        value = decode_text(data[pos : pos + size]).strip()
        pos += size
        if record == 2 and dataset in IPTC_DATASETS and value:
            kind, what = IPTC_DATASETS[dataset]
            found.add(kind, what, value, where)
        elif not (record == 2 and dataset in _QUIET_DATASETS):
            other += 1
    if other:
        found.add(Kind.OTHER, "other IPTC fields", str(other), where)
    return list(found)


def read_photoshop(data: bytes, where: str = "Photoshop") -> list[Finding]:
    """Findings of a Photoshop resource block ('8BIM' id name size data...)."""
    from safeshare.metadata import exif  # exif imports this module

    found = Findings()
    pos = data.find(b"8BIM")
    ignored = 0
    while pos >= 0 and pos + 12 <= len(data) and data[pos : pos + 4] in (b"8BIM", b"MeSa"):
        rid = struct.unpack_from(">H", data, pos + 4)[0]
        name_len = data[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal string padded to even length
        if pos + 4 > len(data):
            break
        size = struct.unpack_from(">I", data, pos)[0]
        body = data[pos + 4 : pos + 4 + size]
        pos += 4 + size + (size & 1)
        if rid == RESOURCE_IPTC:
            found.extend(read_iptc(body, f"{where} IPTC"))
        elif rid == RESOURCE_EXIF:
            found.extend(exif.read_exif(body, f"{where} EXIF").findings)
        elif rid == RESOURCE_XMP:
            found.extend(xmp.read_xmp(body, f"{where} XMP").findings)
        elif rid in RESOURCE_THUMBNAILS:
            blob = describe_image_blob(body[28:]) if len(body) > 28 else human_size(len(body))
            found.add(Kind.THUMBNAIL, "Photoshop thumbnail", blob, where)
        else:
            ignored += 1
    if ignored:
        found.add(Kind.HISTORY, "Photoshop resources", f"{ignored}", where)
    return list(found)
