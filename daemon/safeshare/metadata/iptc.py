"""Read IPTC-IIM records (inside Photoshop resources, TIFF tag 33723, PNG raw profiles).

The Photoshop resource blocks that usually carry them are read in exif.py: they can hold
EXIF, and EXIF can hold them, so both readers live in one module (no import cycle)."""

from __future__ import annotations

import struct

from safeshare.findings import Finding, Findings, Kind
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
