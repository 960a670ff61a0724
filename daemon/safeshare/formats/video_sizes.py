"""How long the fixed and counted boxes a clean movie keeps are, exactly.

A box the writer copies (a header, a sample table, an edit list) is cut to the length its
own fields give: bytes after them are read by no player and could hold anything, so they
are never copied, and `inspect` reports them when they are not zeros. A box shorter than
its fields say is corrupt. A colour box keeps only what it describes ('nclx', 'nclc', or
an ICC profile reduced to its colour tags, as pictures keep theirs).
"""

from __future__ import annotations

import struct

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage
from safeshare.formats.isobmff import Box

# Payload bytes (after the 8-byte header) by box type and version.
FIXED = {
    "mvhd": (100, 112),
    "tkhd": (84, 96),
    "mdhd": (24, 36),
    "cslg": (24, 44),
    "vmhd": (12, 12),
    "smhd": (8, 8),
    "clef": (12, 12),  # track aperture ('tapt'): clean, production, encoded pixels
    "prof": (12, 12),
    "enof": (12, 12),
    # Boxes of a sample entry (not full boxes: the same size whatever their first byte).
    "pasp": (8, 8),
    "btrt": (12, 12),
    "clap": (32, 32),
    "fiel": (2, 2),
    "gama": (4, 4),
    "clli": (4, 4),
    "mdcv": (24, 24),
    "CoLL": (8, 8),
    "SmDm": (28, 28),
    "st3d": (5, 5),
    "frma": (4, 4),
    "enda": (2, 2),
    "dvcC": (24, 24),  # Dolby Vision configuration
    "dvvC": (24, 24),
    "dvwC": (24, 24),
}
# Entry-counted tables: (where the count is, bytes before the entries, bytes an entry).
COUNTED = {
    "stts": (4, 8, 8),
    "ctts": (4, 8, 8),
    "stss": (4, 8, 4),
    "stps": (4, 8, 4),
    "stsc": (4, 8, 12),
}


def exact_size(data: Buffer, b: Box) -> int | None:
    """The payload length `b`'s own fields give, or None when it is not one of these."""
    payload = b.end - b.body
    version = data[b.body] if payload else 0
    if b.type in FIXED:
        return FIXED[b.type][1 if version == 1 else 0]
    if b.type in CONFIGS:
        return CONFIGS[b.type](bytes(data[b.body : b.end]))
    if b.type in COUNTED:
        at, head, entry = COUNTED[b.type]
        return head + entry * _count(data, b, at)
    if b.type == "stsz":
        constant = _u32(data, b, 4)
        return 12 if constant else 12 + 4 * _count(data, b, 8)
    if b.type == "elst":
        return 8 + (20 if version == 1 else 12) * _count(data, b, 4)
    return None


def _avcc(raw: bytes) -> int:
    """AVCDecoderConfigurationRecord: parameter sets by their lengths, then the high
    profiles' chroma and bit depth fields and extension sets."""
    pos = 5
    for mask in (0x1F, 0xFF):  # sequence parameter sets, then picture parameter sets
        count, pos = raw[pos] & mask, pos + 1
        for _ in range(count):
            pos += 2 + int.from_bytes(raw[pos : pos + 2], "big")
    if raw[1] not in (66, 77, 88) and pos + 4 <= len(raw):  # all but baseline, main, extended
        count, pos = raw[pos + 3], pos + 4
        for _ in range(count):
            pos += 2 + int.from_bytes(raw[pos : pos + 2], "big")
    return pos


def _hvcc(raw: bytes) -> int:
    """HEVCDecoderConfigurationRecord: 22 bytes, then arrays of NAL units by their lengths."""
    arrays, pos = raw[22], 23
    for _ in range(arrays):
        count, pos = int.from_bytes(raw[pos + 1 : pos + 3], "big"), pos + 3
        for _ in range(count):
            pos += 2 + int.from_bytes(raw[pos : pos + 2], "big")
    return pos


def _esds(raw: bytes) -> int:
    """A full box holding one ES descriptor (tag 3) whose length says where it ends."""
    pos, length = 5, 0
    for _ in range(4):  # the length: up to four bytes of seven bits
        length, pos = (length << 7) | (raw[pos] & 0x7F), pos + 1
        if not raw[pos - 1] & 0x80:
            break
    return pos + length


def _chan(raw: bytes) -> int:
    """Channel layout: version/flags, tag, bitmap, then 20 bytes a channel description."""
    return 16 + 20 * int.from_bytes(raw[12:16], "big")


def _sgpd(raw: bytes) -> int:
    """Sample group descriptions: their entries by the default length or their own."""
    version, pos = raw[0], 8 + (4 if raw[0] >= 1 else 0) + (4 if raw[0] >= 2 else 0)
    entry = GROUP_ENTRY.get(raw[4:8], 0)
    if not entry or (version >= 1 and int.from_bytes(raw[8:12], "big") != entry):
        raise CorruptImage("a sample group description safeshare does not keep")  # dropped
    return pos + 4 + entry * int.from_bytes(raw[pos : pos + 4], "big")


# Sample groups kept (seeking and decoding hints), by their one entry length.
GROUP_ENTRY = {b"roll": 2, b"prol": 2, b"rap ": 1, b"sync": 1, b"tele": 1}


def _vpcc(raw: bytes) -> int:
    """VP codec configuration (version 1): six bytes of fields, then initialization data."""
    if raw[0] != 1:
        return len(raw)  # an older layout: copied whole
    return 12 + int.from_bytes(raw[10:12], "big")


def _av1c(raw: bytes) -> int:
    """AV1 configuration: four bytes, then configuration OBUs, each with its own size."""
    pos = 4
    while pos < len(raw):
        header = raw[pos]
        if not header & 0x02:  # an OBU without a size field runs to the end: all of it kept
            return len(raw)
        pos += 2 if header & 0x04 else 1
        size = shift = 0
        while True:  # leb128
            byte, pos = raw[pos], pos + 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80 or shift > 56:
                break
        pos += size
    return pos


def _sbgp(raw: bytes) -> int:
    """Sample-to-group: grouping type (and parameter), then (count, group) pairs."""
    pos = 8 + (4 if raw[0] == 1 else 0)
    return pos + 4 + 8 * int.from_bytes(raw[pos : pos + 4], "big")


def _stz2(raw: bytes) -> int:
    """Compact sample sizes: 4, 8 or 16 bits a sample."""
    return 12 + (int.from_bytes(raw[8:12], "big") * raw[7] + 7) // 8


def _subs(raw: bytes) -> int:
    """Sub-sample information: per sample, its sub-samples' sizes and flags."""
    width, count, pos = 4 if raw[0] == 1 else 2, int.from_bytes(raw[4:8], "big"), 8
    for _ in range(count):
        pos += 6 + (width + 6) * int.from_bytes(raw[pos + 4 : pos + 6], "big")
    return pos


CONFIGS = {
    "avcC": _avcc,
    "hvcC": _hvcc,
    "esds": _esds,
    "chan": _chan,
    "sgpd": _sgpd,
    "vpcC": _vpcc,
    "av1C": _av1c,
    "sbgp": _sbgp,
    "stz2": _stz2,
    "subs": _subs,
}


def _u32(data: Buffer, b: Box, at: int) -> int:
    if b.body + at + 4 > b.end:
        raise CorruptImage(f"corrupt video: a '{b.type}' box too short for its fields")
    return int(struct.unpack_from(">I", data, b.body + at)[0])


def _count(data: Buffer, b: Box, at: int) -> int:
    return _u32(data, b, at)


def trimmed(data: Buffer, b: Box) -> bytes:
    """`b` cut to its exact length (as is when its length is not fixed by its fields)."""
    try:
        size = exact_size(data, b)
    except IndexError as exc:
        raise CorruptImage(f"corrupt video: a '{b.type}' box too short for its fields") from exc
    if size is None:
        return bytes(data[b.start : b.end])
    if b.body + size > b.end:
        raise CorruptImage(f"corrupt video: a '{b.type}' box shorter than its fields say")
    return struct.pack(">I4s", 8 + size, b.type.encode("latin-1")) + bytes(data[b.body : b.body + size])


def slack(data: Buffer, b: Box) -> int:
    """Non-zero bytes after a box's fields: how many (0 when there are none)."""
    try:
        size = exact_size(data, b)
    except (IndexError, CorruptImage):
        return 0  # the writer refuses it or drops it
    if size is None or b.body + size >= b.end:
        return 0
    return len(bytes(data[b.body + size : b.end]).strip(b"\0"))


def colour(data: Buffer, b: Box) -> bytes | None:
    """A 'colr' box keeping what it describes, or None when it describes nothing kept."""
    kind = bytes(data[b.body : b.body + 4])
    if kind == b"nclx" and b.end - b.body >= 11:
        return struct.pack(">I4s", 19, b"colr") + bytes(data[b.body : b.body + 11])
    if kind == b"nclc" and b.end - b.body >= 10:
        return struct.pack(">I4s", 18, b"colr") + bytes(data[b.body : b.body + 10])
    if kind in (b"prof", b"rICC"):
        from safeshare.metadata.icc import sanitize_icc

        profile = sanitize_icc(bytes(data[b.body + 4 : b.end]), "video colour profile").profile
        if profile is not None:
            return struct.pack(">I4s", 12 + len(profile), b"colr") + kind + profile
    return None
