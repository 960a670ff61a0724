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
Of the colour fields, the version keeps its major and minor numbers (its two reserved bytes
are zeroed), the rendering intent keeps a value of 0 to 3 (anything else is 0, perceptual,
as the specification reads an unknown intent), and the PCS illuminant is written as the D50
constants the specification requires, whatever the profile said.

The colour tags are checked and cut to the length of their data (icc_tags), and the two text
tags a profile must have are written fresh (icc_text).

iccMAX profiles (version 5) are removed with a finding: their header carries spectral PCS
fields where v4 has reserved bytes, their tags are types no version-4 reader knows, and no
viewer safeshare writes for uses them. Keeping them would need a cleaner for a second format;
dropping one changes how a picture is colour managed (it is shown as sRGB) but never leaks.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.findings import Finding, Findings, Kind
from safeshare.metadata.icc_tags import hidden_bytes, trim_tag
from safeshare.metadata.icc_text import clean_text, read_texts

HEADER = 128
MAX_TAGS = 200
# Tags that describe colour (ICC.1:2022 and v2). 'desc' and 'cprt' are required by the spec.
COLOUR_TAGS = {
    b"desc", b"cprt", b"wtpt", b"bkpt", b"rXYZ", b"gXYZ", b"bXYZ", b"rTRC", b"gTRC", b"bTRC", b"kTRC",
    b"chad", b"chrm", b"lumi", b"gamt", b"A2B0", b"A2B1", b"A2B2", b"A2B3", b"B2A0", b"B2A1", b"B2A2",
    b"B2A3", b"D2B0", b"D2B1", b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3", b"pre0", b"pre1",
    b"pre2", b"cicp", b"clrt", b"clro", b"clot", b"rig0", b"ciis", b"meas", b"view", b"tech",
}  # fmt: skip
TEXT_TAGS = {b"desc", b"cprt"}
# Header fields copied as they are, (start, end): version (8-10), profile class, colour
# space and PCS (12-24); the 'acsp' signature (36-40). The size (0-4), rendering intent
# (64-68) and PCS illuminant (68-80) are written fresh; every other byte is zero.
HEADER_KEPT = ((8, 10), (12, 24), (36, 40))
D50 = struct.pack(">3I", 0x0000F6D6, 0x00010000, 0x0000D32D)
D50_TOLERANCE = 0x40  # a few units of rounding in the last digits is still D50 (not reported)
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
    ("version reserved bytes", slice(10, 12), False),
)
DEVICE_TAGS = {
    b"dmnd": "display or camera maker",
    b"dmdd": "display or camera model",
    b"mmod": "device model",
}
TEXT_FINDINGS = {
    b"desc": (Kind.OTHER, "colour profile description"),
    b"cprt": (Kind.NAME, "colour profile copyright"),
}
CLASSES = {b"scnr", b"mntr", b"prtr", b"link", b"spac", b"abst", b"nmcl"}
SPACES = {b"XYZ ", b"Lab ", b"Luv ", b"YCbr", b"Yxy ", b"RGB ", b"GRAY", b"HSV ", b"HLS ", b"CMYK", b"CMY "}
SPACES |= {bytes([n]) + b"CLR" for n in b"23456789ABCDEF"}  # n-colour spaces
V5_REMOVED = "colour profile of version 5 (iccMAX) removed: safeshare cannot clean it"


@dataclass
class IccResult:
    """A colour profile as an output may carry it, and what was taken out of it."""

    profile: bytes | None  # None: dropped (invalid, or iccMAX)
    findings: list[Finding] = field(default_factory=list)


def sanitize_icc(data: bytes, where: str = "ICC profile") -> IccResult:
    """The profile with only its colour tags, or None when it is not a valid profile."""
    found = Findings()
    tags = _tags(data)
    if tags is None:
        found.add(Kind.OTHER, "invalid colour profile (removed)", f"{len(data)} bytes", where)
        return IccResult(None, list(found))
    _header_findings(data, found, where)
    if data[8] >= 5:
        found.add(Kind.OTHER, V5_REMOVED, f"{len(data)} bytes", where)
        return IccResult(None, list(found))
    kept, dropped = _colour_tags(data, tags, found, where)
    for sig in dropped:
        if sig in DEVICE_TAGS:
            found.add(
                Kind.DEVICE, DEVICE_TAGS[sig] + " in the colour profile", _device(data, tags, sig), where
            )
        elif sig == b"calt":
            found.add(Kind.TIMESTAMP, "calibration date in the colour profile", "", where)
    others = [s for s in dropped if s not in DEVICE_TAGS and s != b"calt"]
    if others:
        found.add(Kind.OTHER, "other colour-profile tags", _names(others), where)
    return IccResult(_rebuild(data, kept), list(found))


def _colour_tags(
    data: bytes, tags: list[tuple[bytes, int, int]], found: Findings, where: str
) -> tuple[list[tuple[bytes, bytes]], list[bytes]]:
    """The colour tags as (signature, clean data block), and the signatures dropped."""
    kept: list[tuple[bytes, bytes]] = []
    dropped: list[bytes] = []
    padded: list[bytes] = []  # cut, and what was cut was not zeros
    wrong: list[bytes] = []  # colour tags whose type is not one they can have
    for sig, off, size in tags:
        block = data[off : off + size]
        if sig in TEXT_TAGS:
            fresh, old = clean_text(sig, block, data[8])
            if old is not None:
                kind, what = TEXT_FINDINGS[sig]
                found.add(kind, what, old, where)
            kept.append((sig, fresh))
            continue
        trimmed = trim_tag(sig, block) if sig in COLOUR_TAGS else None
        if trimmed is None:
            (wrong if sig in COLOUR_TAGS else dropped).append(sig)
            continue
        if hidden_bytes(block, trimmed):
            padded.append(sig)
        kept.append((sig, trimmed))
    if wrong:
        found.add(Kind.OTHER, "colour-profile tags of a wrong type (removed)", _names(wrong), where)
    if padded:
        found.add(Kind.OTHER, "bytes hidden after colour-profile tag data", _names(padded), where)
    return kept, dropped


def _names(sigs: list[bytes]) -> str:
    return ", ".join(s.decode("latin-1").encode("ascii", "backslashreplace").decode() for s in sigs[:6])


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
        if any(data[at]) and not (name == "reserved bytes" and data[8] >= 5)  # (v5: spectral PCS)
    ]
    if _intent(data) != struct.unpack_from(">I", data, 64)[0]:
        others.append(f"rendering intent {data[64:68].hex()}")
    given, d50 = struct.unpack_from(">3i", data, 68), struct.unpack(">3i", D50)
    if any(abs(a - b) > D50_TOLERANCE for a, b in zip(given, d50, strict=True)):
        others.append(f"PCS illuminant {data[68:80].hex()}")
    if others:
        found.add(Kind.OTHER, "colour profile header fields", ", ".join(others), where)


def _intent(data: bytes) -> int:
    intent: int = struct.unpack_from(">I", data, 64)[0]
    return intent if intent <= 3 else 0


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
    if len(data) < HEADER + 4 or data[36:40] != b"acsp" or data[8] < 2:
        return None
    if data[12:16] not in CLASSES or data[16:20] not in SPACES:
        return None
    if data[20:24] not in (SPACES if data[12:16] == b"link" else {b"XYZ ", b"Lab "}) and data[8] < 5:
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


def _rebuild(data: bytes, kept: list[tuple[bytes, bytes]]) -> bytes:
    """A fresh header (the colour fields of the old one, the new size), a new tag table,
    each distinct data block once."""
    table_end = HEADER + 4 + 12 * len(kept)
    body = bytearray()
    placed: dict[bytes, int] = {}  # identical blocks are stored once, shared by their tags
    entries = []
    for sig, block in kept:
        if block not in placed:
            placed[block] = table_end + len(body)
            body += block
            body += b"\0" * (-len(body) % 4)
        entries.append(struct.pack(">4sII", sig, placed[block], len(block)))
    header = bytearray(HEADER)  # zero: no date, device, vendor, flags or profile ID
    for start, end in HEADER_KEPT:
        header[start:end] = data[start:end]
    struct.pack_into(">I", header, 64, _intent(data))
    header[68:80] = D50
    struct.pack_into(">I", header, 0, table_end + len(body))
    return bytes(header) + struct.pack(">I", len(kept)) + b"".join(entries) + bytes(body)


def _device(data: bytes, tags: list[tuple[bytes, int, int]], sig: bytes) -> str:
    """What a device tag says, for `inspect`: its text, or Apple's 'mmod' numbers in hex."""
    off, size = next((o, s) for t, o, s in tags if t == sig)
    block = data[off : off + size]
    if block[:4] == b"mmod" and len(block) >= 24:
        maker, model, serial, made = struct.unpack_from(">4I", block, 8)
        parts = [f"maker {maker:04x}", f"model {model:04x}"]
        parts += [f"serial {serial:08x}"] if serial else []
        parts += [f"date {made:08x}"] if made else []
        return ", ".join(parts)
    return next((t for t in read_texts(block) if t), f"{block[:4].hex()} ({size} bytes)")
