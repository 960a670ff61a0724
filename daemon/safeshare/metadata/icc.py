"""ICC colour profiles, rebuilt from the tags that define colour (an allowlist, like the rest).

A profile is a container of tagged blocks. Camera and phone profiles hold colour data
only, but display profiles name the monitor (dmnd, dmdd, Apple's mmod), carry calibration
dates and private blocks, and a profile slot can carry any bytes at all. So the profile is
checked, its colour tags are copied into a fresh tag table, and everything else is a finding.
A profile that is not a valid ICC profile is dropped: no viewer would use it anyway.

The 128-byte header is rebuilt the same way: only the fields a colour management module
reads to transform colours are copied (HEADER_KEPT); the rest is written as zeros, the
specification's value for "not given". That removes the creation date (tools that make
a profile on export, lcms and so GIMP among them, stamp the export time there), the
device maker and model, the creator, the preferred CMM and primary platform (vendor
signatures: which software or system made the profile; no CMM chooses colours by them),
the flags and device attributes (vendor bits), the profile ID and the reserved bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.findings import Finding, Findings, Kind

HEADER = 128
MAX_TAGS = 200
# Tags that describe colour (ICC.1:2022 and v2). 'desc' and 'cprt' are required by the spec.
COLOUR_TAGS = {
    b"desc", b"cprt", b"wtpt", b"bkpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC", b"kTRC",
    b"chad", b"chrm", b"lumi", b"gamt", b"A2B0", b"A2B1", b"A2B2", b"A2B3", b"B2A0", b"B2A1", b"B2A2",
    b"B2A3", b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3", b"pre0", b"pre1",
    b"pre2", b"cicp", b"clrt", b"clro", b"clot", b"ncl2", b"rig0", b"ciis", b"meas", b"view", b"tech",
}  # fmt: skip
# Header fields copied as they are, (start, end): version, profile class, colour space and
# PCS (8-24); the 'acsp' signature (36-40); rendering intent and PCS illuminant (64-80).
# The size (0-4) is written fresh; every other header byte is zero in a rebuilt profile.
HEADER_KEPT = ((8, 24), (36, 40), (64, 80))
DATE = slice(24, 36)
HEADER_DEVICE = (
    ("colour profile device maker", slice(48, 52)),
    ("colour profile device model", slice(52, 56)),
)
# Vendor signatures and bits, reported together as one finding: (name, bytes, is a signature).
HEADER_OTHER = (
    ("creator", slice(80, 84), True),
    ("preferred CMM", slice(4, 8), True),
    ("platform", slice(40, 44), True),
    ("flags", slice(44, 48), False),
    ("device attributes", slice(56, 64), False),
    ("reserved bytes", slice(100, 128), False),
)
DEVICE_TAGS = {
    b"dmnd": "display or camera maker",
    b"dmdd": "display or camera model",
    b"mmod": "device model",
}


@dataclass
class IccResult:
    profile: bytes | None  # None: dropped (invalid)
    findings: list[Finding] = field(default_factory=list)


def sanitize_icc(data: bytes, where: str = "ICC profile") -> IccResult:
    """The profile with only its colour tags, or None when it is not a valid profile."""
    found = Findings()
    tags = _tags(data)
    if tags is None:
        found.add(Kind.OTHER, "invalid colour profile (removed)", f"{len(data)} bytes", where)
        return IccResult(None, list(found))
    _header_findings(data, found, where)
    kept = [(sig, off, size) for sig, off, size in tags if sig in COLOUR_TAGS]
    dropped = [sig for sig, _, _ in tags if sig not in COLOUR_TAGS]
    for sig in dropped:
        if sig in DEVICE_TAGS:
            found.add(Kind.DEVICE, DEVICE_TAGS[sig] + " in the colour profile", _text(data, tags, sig), where)
        elif sig == b"calt":
            found.add(Kind.TIMESTAMP, "calibration date in the colour profile", "", where)
    others = [s for s in dropped if s not in DEVICE_TAGS and s != b"calt"]
    if others:
        names = ", ".join(
            s.decode("latin-1").encode("ascii", "backslashreplace").decode() for s in others[:6]
        )
        found.add(Kind.OTHER, "other colour-profile tags", names, where)
    return IccResult(_rebuild(data, kept), list(found))


def _header_findings(data: bytes, found: Findings, where: str) -> None:
    """What the header says beyond colour: its date, the device, vendor signatures."""
    if any(data[DATE]):
        found.add(Kind.TIMESTAMP, "colour profile creation date", _date(data[DATE]), where)
    for what, field_at in HEADER_DEVICE:
        if any(data[field_at]) and data[field_at] != b"none":  # Adobe's 'no device'
            found.add(Kind.DEVICE, what, _signature(data[field_at]), where)
    others = [
        f"{name} {_signature(data[at]) if signature else data[at].hex()}"
        for name, at, signature in HEADER_OTHER
        if any(data[at])
    ]
    if others:
        found.add(Kind.OTHER, "colour profile header fields", ", ".join(others), where)


def _date(raw: bytes) -> str:
    year, month, day, hour, minute, second = struct.unpack(">6H", raw)
    return f"{year:04d}-{month:02d}-{day:02d} {hour:02d}:{minute:02d}:{second:02d}"


def _signature(raw: bytes) -> str:
    """A four-character code as text ('APPL', 'HP'), or its hex when it is not printable."""
    text = raw.rstrip(b"\0 ")
    if text and all(0x20 <= b < 0x7F for b in text):
        return text.decode("ascii")
    return raw.hex()


def _tags(data: bytes) -> list[tuple[bytes, int, int]] | None:
    """(signature, offset, size) of each tag, or None when the structure is not valid."""
    if len(data) < HEADER + 4 or data[36:40] != b"acsp":
        return None
    declared = struct.unpack_from(">I", data, 0)[0]
    count = struct.unpack_from(">I", data, HEADER)[0]
    if declared > len(data) or declared < HEADER + 4 + 12 * count or count > MAX_TAGS:
        return None
    tags = []
    for i in range(count):
        sig, off, size = struct.unpack_from(">4sII", data, HEADER + 4 + 12 * i)
        if off < HEADER + 4 + 12 * count or off + size > declared or size < 8:
            return None
        tags.append((sig, off, size))
    return tags


def _rebuild(data: bytes, kept: list[tuple[bytes, int, int]]) -> bytes:
    """A fresh header (the colour fields of the old one, the new size), a new tag table,
    each data block once."""
    table_end = HEADER + 4 + 12 * len(kept)
    body = bytearray()
    placed: dict[tuple[int, int], int] = {}  # blocks shared by several tags stay shared
    entries = []
    for sig, off, size in kept:
        if (off, size) not in placed:
            placed[(off, size)] = table_end + len(body)
            body += data[off : off + size]
            body += b"\0" * (-len(body) % 4)
        entries.append(struct.pack(">4sII", sig, placed[(off, size)], size))
    header = bytearray(HEADER)  # zero: no date, device, vendor, flags or profile ID
    for start, end in HEADER_KEPT:
        header[start:end] = data[start:end]
    struct.pack_into(">I", header, 0, table_end + len(body))
    return bytes(header) + struct.pack(">I", len(kept)) + b"".join(entries) + bytes(body)


def _text(data: bytes, tags: list[tuple[bytes, int, int]], sig: bytes) -> str:
    """The ASCII (desc/text) or first Unicode (mluc) string of a text tag, for `inspect`."""
    off, size = next((o, s) for t, o, s in tags if t == sig)
    block = data[off : off + size]
    if block[:4] == b"desc" and len(block) >= 12:
        length = struct.unpack_from(">I", block, 8)[0]
        return block[12 : 12 + length].split(b"\0")[0].decode("latin-1")
    if block[:4] == b"mluc" and len(block) >= 28:
        length, start = struct.unpack_from(">II", block, 20)
        return block[start : start + length].decode("utf-16-be", "replace")
    if block[:4] == b"text":
        return block[8:].split(b"\0")[0].decode("latin-1")
    return ""
