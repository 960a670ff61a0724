"""Edits of the 'moov' box of real image sequences, for tests (tests/isobmff_edit.py does
the 'meta' side): a box added inside a track's sample entry or edit list, a track copied,
user data added. The edited 'moov' is written at the end of the file and the old one
renamed 'free' (same size), so no sample or item offset moves.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from tests.isobmff_edit import _children, _find, box

# Bytes before the first child box, per box type: full boxes, stsd's count, a sample entry.
PREFIX = {"meta": 4, "stsd": 8, "av01": 78, "hvc1": 78}
Edit = Callable[[bytes], bytes]


def edited(data: bytes, path: list[str], change: Edit) -> bytes:
    """`data` with the first box at `path` under 'moov' (e.g. ["trak", "edts"]) replaced by
    change(box bytes); the boxes holding it are resized."""
    moov = _find(_children(data, 0, len(data)), "moov")
    new_moov = _edit(data[moov.start : moov.end], path, change)
    return data[: moov.start + 4] + b"free" + data[moov.start + 8 :] + new_moov


def _edit(whole: bytes, path: list[str], change: Edit) -> bytes:
    if not path:
        return change(whole)
    name = whole[4:8].decode("latin-1")
    prefix = PREFIX.get(name, 0)
    head, out, done = whole[8 : 8 + prefix], bytearray(), False
    for child in _children(whole, 8 + prefix, len(whole)):
        part = whole[child.start : child.end]
        if not done and child.kind == path[0]:
            part, done = _edit(part, path[1:], change), True
        out += part
    assert done, f"no '{path[0]}' in '{name}'"
    return box(name, head + bytes(out))


def appended(child: bytes) -> Edit:
    """An Edit adding `child` as the last box inside the edited box."""
    return lambda whole: struct.pack(">I", len(whole) + len(child)) + whole[4:] + child


def sample_entry_path(codec: bytes = b"av01") -> list[str]:
    return ["trak", "mdia", "minf", "stbl", "stsd", codec.decode()]


def with_second_track(data: bytes, track_id: int = 2) -> bytes:
    """`data` with its first track copied (id `track_id`) after the last one."""
    moov = _find(_children(data, 0, len(data)), "moov")
    trak = _find(_children(data, moov.body, moov.end), "trak")
    copy = bytearray(data[trak.start : trak.end])
    tkhd = _find(_children(bytes(copy), 8, len(copy)), "tkhd")
    at = tkhd.body + (20 if copy[tkhd.body] == 1 else 12)
    copy[at : at + 4] = struct.pack(">I", track_id)
    return edited(data, [], appended(bytes(copy)))


def quicktime_string(kind: str, text: str) -> bytes:
    raw = text.encode()
    return box(kind, struct.pack(">HH", len(raw), 0x15C7) + raw)


def loci(name: str, latitude: float, longitude: float) -> bytes:
    fixed = struct.pack(">iii", round(longitude * 65536), round(latitude * 65536), 0)
    return box("loci", b"\0\0\0\0\x15\xc7" + name.encode() + b"\0\0" + fixed + b"Earth\0\0")
