"""A small reader of the ISO base media file format boxes that HEIF and AVIF use.

It finds the items (primary image, Exif, XMP, thumbnails, auxiliary images), their
properties (in the order 'ipma' associates them) and locations, and the top-level boxes
(motion-photo videos live in 'mpvd'; image sequences in 'moov', read by isobmff_tracks.py).
It only reads; HEIF outputs are never written in this container.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, Truncated

MAX_BOXES = 100_000
MAX_EXTENTS = 4096  # per item; real files use one or a few


@dataclass
class Box:
    type: str
    start: int  # first byte of the box header
    body: int  # first byte after the header
    end: int


@dataclass
class Item:
    id: int
    type: str
    content_type: str = ""
    extents: list[tuple[int, int]] = field(default_factory=list)  # (offset, length)
    in_idat: bool = False
    props: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass
class Structure:
    brand: str
    boxes: list[Box]
    items: dict[int, Item] = field(default_factory=dict)
    refs: list[tuple[str, int, list[int]]] = field(default_factory=list)
    primary: int | None = None
    idat: Box | None = None
    trailing: int = 0  # bytes after the last complete top-level box


def boxes(data: Buffer, start: int, end: int, top: bool = False) -> list[Box]:
    """The boxes from `start` to `end`. Inside a box (`top` False) they must fill it exactly,
    as libavif and libheif require: a box overrunning its parent, or bytes left over, is a
    corrupt file, never a shorter list (a dropped 'clap' would publish what it hides). At
    the top level the bytes after the last complete box are the file's trailer. More than
    MAX_BOXES boxes anywhere is refused rather than read in part."""
    found: list[Box] = []
    pos = start
    while pos + 8 <= end:
        if len(found) >= MAX_BOXES:
            raise CorruptImage(f"more than {MAX_BOXES:,} boxes in one ISO media container")
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                break
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append(Box(kind.decode("latin-1"), pos, pos + header, pos + size))
        pos += size
    if pos != end and not top:
        raise CorruptImage("corrupt ISO media box (a box does not fit in the one holding it)")
    return found


def parse(data: Buffer) -> Structure:
    top = boxes(data, 0, len(data), top=True)
    if not top or top[0].type != "ftyp":
        raise CorruptImage("not an ISO media file (no ftyp box)")
    ftyp = top[0]
    structure = Structure(bytes(data[ftyp.body : ftyp.body + 4]).decode("latin-1"), top)
    structure.trailing = len(data) - top[-1].end
    meta = next((b for b in top if b.type == "meta"), None)
    if meta is None:
        if any(b.type == "moov" for b in top):
            return structure  # an image sequence without a still image: tracks only
        raise Truncated("truncated or corrupt HEIF: no meta box")
    _read_meta(data, meta, structure)
    return structure


def _read_meta(data: Buffer, meta: Box, s: Structure) -> None:
    children = {b.type: b for b in boxes(data, meta.body + 4, meta.end)}  # meta is a full box
    if "pitm" in children:
        pitm = children["pitm"]
        s.primary = _uint(data, pitm.body + 4, 2 if data[pitm.body] == 0 else 4)
    if "iinf" in children:
        _read_iinf(data, children["iinf"], s)
    if "iloc" in children:
        _read_iloc(data, children["iloc"], s)
    if "iref" in children:
        _read_iref(data, children["iref"], s)
    if "iprp" in children:
        _read_iprp(data, children["iprp"], s)
    s.idat = children.get("idat")


def _uint(data: Buffer, pos: int, size: int) -> int:
    if size == 0:
        return 0
    if pos + size > len(data):
        raise Truncated("truncated HEIF metadata")
    return int.from_bytes(data[pos : pos + size], "big")


def _cstring(data: Buffer, pos: int, end: int) -> tuple[str, int]:
    stop = data.find(b"\0", pos, end)
    stop = end if stop < 0 else stop
    return bytes(data[pos:stop]).decode("utf-8", "replace"), stop + 1


def _read_iinf(data: Buffer, iinf: Box, s: Structure) -> None:
    first = iinf.body + 4 + (2 if data[iinf.body] == 0 else 4)
    for infe in boxes(data, first, iinf.end):
        if infe.type != "infe" or data[infe.body] < 2:
            continue
        id_size = 2 if data[infe.body] == 2 else 4
        pos = infe.body + 4
        item_id = _uint(data, pos, id_size)
        pos += id_size + 2
        kind = bytes(data[pos : pos + 4]).decode("latin-1")
        _, pos = _cstring(data, pos + 4, infe.end)
        content_type = _cstring(data, pos, infe.end)[0] if kind == "mime" else ""
        s.items[item_id] = Item(item_id, kind, content_type)


def _read_iloc(data: Buffer, iloc: Box, s: Structure) -> None:
    version = data[iloc.body]
    pos = iloc.body + 4
    sizes = _uint(data, pos, 2)
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos += 2
    count_size = 4 if version == 2 else 2
    count = _uint(data, pos, count_size)
    pos += count_size
    if count * 6 > iloc.end - pos:
        raise CorruptImage("corrupt HEIF item location table")
    for _ in range(count):
        item_id = _uint(data, pos, 4 if version == 2 else 2)
        pos += 4 if version == 2 else 2
        method = 0
        if version in (1, 2):
            method = _uint(data, pos, 2) & 15
            pos += 2
        pos += 2  # data reference index
        base = _uint(data, pos, base_size)
        pos += base_size
        extent_count = _uint(data, pos, 2)
        pos += 2
        if extent_count > MAX_EXTENTS or pos + extent_count * (index_size + off_size + len_size) > iloc.end:
            raise CorruptImage("corrupt HEIF item location table")
        extents = []
        for _ in range(extent_count):
            pos += index_size
            offset, length = _uint(data, pos, off_size), _uint(data, pos + off_size, len_size)
            extents.append((base + offset, length))
            pos += off_size + len_size
        item = s.items.setdefault(item_id, Item(item_id, "?"))
        item.extents, item.in_idat = extents, method == 1


def _read_iref(data: Buffer, iref: Box, s: Structure) -> None:
    id_size = 2 if data[iref.body] == 0 else 4
    for ref in boxes(data, iref.body + 4, iref.end):
        source = _uint(data, ref.body, id_size)
        first = ref.body + id_size + 2
        count = min(_uint(data, ref.body + id_size, 2), max(0, (ref.end - first) // id_size))
        targets = [_uint(data, first + i * id_size, id_size) for i in range(count)]
        s.refs.append((ref.type, source, targets))


def _read_iprp(data: Buffer, iprp: Box, s: Structure) -> None:
    children = boxes(data, iprp.body, iprp.end)
    ipco = next((b for b in children if b.type == "ipco"), None)
    if ipco is None:
        return
    props = [(b.type, bytes(data[b.body : b.end])) for b in boxes(data, ipco.body, ipco.end)]
    for ipma in (b for b in children if b.type == "ipma"):
        version, wide = data[ipma.body], _uint(data, ipma.body + 1, 3) & 1
        id_size, index_size = (2 if version < 1 else 4), (2 if wide else 1)
        pos = ipma.body + 4
        entry_count = _uint(data, pos, 4)
        pos += 4
        if entry_count * (id_size + 1) > ipma.end - pos:
            raise CorruptImage("corrupt HEIF property association table")
        for _ in range(entry_count):
            item_id, count = _uint(data, pos, id_size), _uint(data, pos + id_size, 1)
            pos += id_size + 1
            for _ in range(count):
                index = _uint(data, pos, index_size) & (0x7FFF if wide else 0x7F)
                pos += index_size
                if 0 < index <= len(props) and item_id in s.items:
                    s.items[item_id].props.append(props[index - 1])


def item_data(data: Buffer, structure: Structure, item: Item, limit: int = 64 << 20) -> bytes:
    """The bytes of an item (Exif, XMP), bounded so a hostile length cannot exhaust memory."""
    base = structure.idat.body if item.in_idat and structure.idat else 0
    out = bytearray()
    for offset, length in item.extents:
        start = base + offset
        length = length or len(data) - start
        if start + length > len(data) or len(out) + length > limit:
            raise CorruptImage("HEIF item data runs past the end of the file")
        out += data[start : start + length]
    return bytes(out)
