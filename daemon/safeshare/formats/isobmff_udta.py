"""What a movie's user data ('udta', and 'meta' in 'moov' or a track) gives away.

Read for the report only (the output keeps none of it), leniently and bounded: QuickTime
strings ('\xa9xyz' location, '\xa9mak' make, '\xa9mod' model, '\xa9day' date...), ISO 'loci'
locations, Apple 'mdta' keys with their 'ilst' values, and XMP ('XMP_'). What is not
understood is still reported, by its box name.
"""

from __future__ import annotations

import struct

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage
from safeshare.findings import Finding, Findings, Kind
from safeshare.formats.isobmff import Box, boxes
from safeshare.formats.video_telemetry import gopro_box
from safeshare.metadata import xmp

UserData = Finding
WHERE = "HEIF moov user data"
MAX_DEPTH = 4
# QuickTime string boxes and Apple mdta key suffixes: what they are.
_NAMED = {
    "xyz": (Kind.GPS, "location"),
    "location.iso6709": (Kind.GPS, "location"),
    "mak": (Kind.DEVICE, "camera make"),
    "make": (Kind.DEVICE, "camera make"),
    "manufacturer": (Kind.DEVICE, "camera make"),
    "content.identifier": (Kind.SERIAL, "Live Photo pairing identifier"),
    "location.name": (Kind.PLACE, "place name"),
    "mod": (Kind.DEVICE, "camera model"),
    "model": (Kind.DEVICE, "camera model"),
    "day": (Kind.TIMESTAMP, "creation date"),
    "creationdate": (Kind.TIMESTAMP, "creation date"),
    "swr": (Kind.SOFTWARE, "software"),
    "too": (Kind.SOFTWARE, "software"),
    "software": (Kind.SOFTWARE, "software"),
}


def read_user_data(data: Buffer, box: Box, where: str = WHERE) -> list[UserData]:
    found = Findings()
    try:
        _read(data, box, found, 0, where)
    except CorruptImage:
        found.add(Kind.OTHER, "unreadable user data", box.type, where)
    if not found:
        found.add(Kind.OTHER, "user data", box.type, where)
    return list(found)


def _read(data: Buffer, box: Box, found: Findings, depth: int, where: str) -> None:
    if depth > MAX_DEPTH:
        return
    body = box.body + 4 if box.type == "meta" and _is_full_meta(data, box) else box.body
    children = boxes(data, body, box.end, top=True)  # lenient: QuickTime ends udta with zeros
    keys: list[str] = []
    for child in children:
        kind, payload = child.type, bytes(data[child.body : child.end])
        if kind == "meta":
            _read(data, child, found, depth + 1, where)
        elif kind == "keys":
            keys = _keys(payload)
        elif kind == "ilst":
            _ilst(data, child, keys, found, where)
        elif kind == "loci":
            found.add(Kind.GPS, "location", _loci(payload), where)
        elif kind == "XMP_":
            found.extend(xmp.read_xmp(payload, where.replace("user data", "XMP")).findings)
        elif kind.startswith("\xa9"):
            _named(kind[1:].lower(), _quicktime_string(payload), found, where)
        elif gopro_box(kind, payload, found, where):
            pass
        elif kind not in ("hdlr", "free", "skip"):
            name = kind.encode("ascii", "backslashreplace").decode()
            found.add(Kind.OTHER, "user data", f"'{name}'", where)


def _is_full_meta(data: Buffer, box: Box) -> bool:
    """ISO 'meta' is a full box; QuickTime's is not (its first child follows at once)."""
    return box.body + 8 <= box.end and bytes(data[box.body + 4 : box.body + 8]) != b"hdlr"


def _named(key: str, value: str, found: Findings, where: str) -> None:
    kind, what = next(((k, w) for suffix, (k, w) in _NAMED.items() if key.endswith(suffix)), (None, ""))
    if kind is None:
        found.add(Kind.TEXT, f"movie text '{key}'", value, where)
    else:
        found.add(kind, what, value, where)


def _quicktime_string(payload: bytes) -> str:
    """A QuickTime user data string (16-bit length, 16-bit language, text): all the box
    holds after the language, whatever the length says, since all of it is dropped."""
    return payload[4:].decode("utf-8", "replace").strip("\0")


def _cstring(payload: bytes, pos: int) -> tuple[str, int]:
    stop = payload.find(b"\0", pos)
    stop = len(payload) if stop < 0 else stop
    return payload[pos:stop].decode("utf-8", "replace"), stop + 1


def _loci(payload: bytes) -> str:
    """ISO 'loci' (3GPP TS 26.244): name, role, longitude, latitude, altitude (16.16)."""
    name, pos = _cstring(payload, 6)  # version, flags, language
    pos += 1  # role
    if pos + 12 > len(payload):
        return name
    longitude, latitude, _ = struct.unpack(">iii", payload[pos : pos + 12])
    where = f"{latitude / 65536:.5f}, {longitude / 65536:.5f}"
    return f"{name} ({where})" if name else where


def _keys(payload: bytes) -> list[str]:
    """Apple 'keys': full box, count, then (size, namespace, name) entries."""
    names: list[str] = []
    pos = 8
    while pos + 8 <= len(payload) and len(names) < 1024:
        (size,) = struct.unpack(">I", payload[pos : pos + 4])
        if size < 8 or pos + size > len(payload):
            break
        names.append(payload[pos + 8 : pos + size].decode("utf-8", "replace"))
        pos += size
    return names


def _ilst(data: Buffer, ilst: Box, keys: list[str], found: Findings, where: str) -> None:
    for item in boxes(data, ilst.body, ilst.end, top=True):
        index = int.from_bytes(item.type.encode("latin-1"), "big")
        name = keys[index - 1] if 0 < index <= len(keys) else item.type.lstrip("\xa9")
        value = ""
        for inner in boxes(data, item.body, item.end, top=True):
            if inner.type == "data" and inner.body + 8 <= inner.end:
                value = bytes(data[inner.body + 8 : inner.end]).decode("utf-8", "replace")
        _named(name.lower(), value, found, where)
