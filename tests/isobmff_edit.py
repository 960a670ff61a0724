"""A small ISOBMFF box writer for tests: transformative properties (clap, irot, imir) and
colour boxes spliced into real HEIF/AVIF files, the way encoders write them.

`add_properties` appends boxes to 'ipco', associates them with the primary item in 'ipma'
(in the order given, after the item's existing associations), and shifts the 'iloc'
offsets that point past the grown 'meta' box. The picture data is never touched.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass


def box(kind: str, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind.encode("latin-1") + body


def full_box(kind: str, body: bytes, version: int = 0, flags: int = 0) -> bytes:
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + body)


def clap(
    width: tuple[int, int],
    height: tuple[int, int],
    horizontal_offset: tuple[int, int] = (0, 1),
    vertical_offset: tuple[int, int] = (0, 1),
) -> bytes:
    """A clean aperture: sizes and centre-relative offsets as (numerator, denominator)."""
    return box(
        "clap",
        struct.pack(">IIIIiIiI", *width, *height, *horizontal_offset, *vertical_offset),
    )


def irot(quarter_turns_ccw: int) -> bytes:
    return box("irot", bytes([quarter_turns_ccw & 3]))


def imir(axis: int) -> bytes:
    """axis 0: the top and bottom parts are exchanged; 1: the left and right parts."""
    return box("imir", bytes([axis & 1]))


def nclx(primaries: int, transfer: int, matrix: int, full_range: bool = True) -> bytes:
    return box("colr", b"nclx" + struct.pack(">HHHB", primaries, transfer, matrix, 0x80 if full_range else 0))


@dataclass
class _Box:
    kind: str
    start: int
    body: int
    end: int


def _children(data: bytes, start: int, end: int) -> list[_Box]:
    out, pos = [], start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        out.append(_Box(kind.decode("latin-1"), pos, pos + header, pos + size))
        pos += size
    return out


def _find(boxes: list[_Box], kind: str) -> _Box:
    return next(b for b in boxes if b.kind == kind)


def _rebuilt(data: bytes, outer: _Box, replaced: dict[int, bytes], prefix: int = 0) -> bytes:
    """`outer` with some children (by start offset) replaced; `prefix`: full-box header bytes."""
    body = bytearray(data[outer.body : outer.body + prefix])
    for child in _children(data, outer.body + prefix, outer.end):
        body += replaced.get(child.start, data[child.start : child.end])
    return box(outer.kind, bytes(body))


def primary_item(data: bytes) -> int:
    meta = _find(_children(data, 0, len(data)), "meta")
    pitm = _find(_children(data, meta.body + 4, meta.end), "pitm")
    size = 2 if data[pitm.body] == 0 else 4
    return int.from_bytes(data[pitm.body + 4 : pitm.body + 4 + size], "big")


def add_properties(data: bytes, properties: list[bytes], item: int | None = None) -> bytes:
    """`data` with `properties` appended to ipco and associated (essential) with `item`
    (the primary item by default), after the associations it already has."""
    item = primary_item(data) if item is None else item
    top = _children(data, 0, len(data))
    meta = _find(top, "meta")
    in_meta = _children(data, meta.body + 4, meta.end)
    iprp = _find(in_meta, "iprp")
    in_iprp = _children(data, iprp.body, iprp.end)
    ipco, ipma = _find(in_iprp, "ipco"), _find(in_iprp, "ipma")
    count = len(_children(data, ipco.body, ipco.end))
    new_ipco = box("ipco", data[ipco.body : ipco.end] + b"".join(properties))
    indices = list(range(count + 1, count + 1 + len(properties)))
    new_ipma = _ipma_with(data, ipma, item, indices)
    new_iprp = _rebuilt(data, iprp, {ipco.start: new_ipco, ipma.start: new_ipma})
    grown = len(new_iprp) - (iprp.end - iprp.start)
    iloc = _find(in_meta, "iloc")
    new_iloc = _shifted_iloc(data, iloc, meta.end, grown)
    new_meta = _rebuilt(data, meta, {iprp.start: new_iprp, iloc.start: new_iloc}, prefix=4)
    return data[: meta.start] + new_meta + data[meta.end :]


def _ipma_with(data: bytes, ipma: _Box, item: int, indices: list[int]) -> bytes:
    version, flags = data[ipma.body], int.from_bytes(data[ipma.body + 1 : ipma.body + 4], "big")
    id_size = 2 if version < 1 else 4
    wide = bool(flags & 1) or max(indices) > 127
    pos, entries = ipma.body + 8, []
    for _ in range(int.from_bytes(data[ipma.body + 4 : ipma.body + 8], "big")):
        item_id, n = int.from_bytes(data[pos : pos + id_size], "big"), data[pos + id_size]
        pos += id_size + 1
        assoc = []
        for _ in range(n):
            if flags & 1:
                raw = int.from_bytes(data[pos : pos + 2], "big")
                assoc.append((bool(raw >> 15), raw & 0x7FFF))
                pos += 2
            else:
                assoc.append((bool(data[pos] >> 7), data[pos] & 0x7F))
                pos += 1
        entries.append((item_id, assoc))
    if item not in [e[0] for e in entries]:
        entries.append((item, []))
    body = bytearray(struct.pack(">I", len(entries)))
    for item_id, assoc in entries:
        if item_id == item:
            assoc = assoc + [(True, i) for i in indices]
        body += item_id.to_bytes(id_size, "big") + bytes([len(assoc)])
        for essential, index in assoc:
            body += struct.pack(">H", essential << 15 | index) if wide else bytes([essential << 7 | index])
    return full_box("ipma", bytes(body), version, (flags & ~1) | int(wide))


def _shifted_iloc(data: bytes, iloc: _Box, after: int, delta: int) -> bytes:
    """iloc with every file offset (construction method 0) at or past `after` moved by `delta`."""
    out = bytearray(data[iloc.start : iloc.end])
    base = iloc.body - iloc.start
    version = out[base]
    pos = base + 4
    sizes = int.from_bytes(out[pos : pos + 2], "big")
    off_size, len_size, base_size = sizes >> 12, (sizes >> 8) & 15, (sizes >> 4) & 15
    index_size = sizes & 15 if version in (1, 2) else 0
    pos += 2
    count_size = 4 if version == 2 else 2
    count = int.from_bytes(out[pos : pos + count_size], "big")
    pos += count_size
    for _ in range(count):
        pos += 4 if version == 2 else 2
        method = 0
        if version in (1, 2):
            method = int.from_bytes(out[pos : pos + 2], "big") & 15
            pos += 2
        pos += 2
        base_at, base_offset = pos, int.from_bytes(out[pos : pos + base_size], "big")
        pos += base_size
        extents = int.from_bytes(out[pos : pos + 2], "big")
        pos += 2
        shift_base = method == 0 and base_size and base_offset >= after
        if shift_base:
            out[base_at : base_at + base_size] = (base_offset + delta).to_bytes(base_size, "big")
        for _ in range(extents):
            pos += index_size
            offset = int.from_bytes(out[pos : pos + off_size], "big")
            if method == 0 and not shift_base and off_size and base_offset + offset >= after:
                out[pos : pos + off_size] = (offset + delta).to_bytes(off_size, "big")
            pos += off_size + len_size
    return bytes(out)


def replace_property(data: bytes, kind: str, new: bytes, item: int | None = None) -> bytes:
    """`data` with the first `kind` property associated with `item` replaced by `new`
    (same length, so no offset moves): e.g. another nclx colour description."""
    item = primary_item(data) if item is None else item
    meta = _find(_children(data, 0, len(data)), "meta")
    iprp = _find(_children(data, meta.body + 4, meta.end), "iprp")
    ipco = _find(_children(data, iprp.body, iprp.end), "ipco")
    for prop in _children(data, ipco.body, ipco.end):
        if prop.kind == kind and prop.end - prop.start == len(new):
            return data[: prop.start] + new + data[prop.end :]
    raise ValueError(f"no {kind} property of {len(new)} bytes")


def ftyp(major: bytes, compatible: list[bytes]) -> bytes:
    return box("ftyp", major + b"\0\0\0\0" + b"".join(compatible))


def _shift_chunk_offsets(data: bytes, moov: _Box, delta: int) -> bytes:
    """The 'moov' box with every stco/co64 chunk offset moved by `delta`."""
    out = bytearray(data[moov.start : moov.end])
    stack = [moov]
    while stack:
        parent = stack.pop()
        for child in _children(data, parent.body, parent.end):
            if child.kind in ("trak", "mdia", "minf", "stbl"):
                stack.append(child)
            elif child.kind in ("stco", "co64"):
                size = 4 if child.kind == "stco" else 8
                count = int.from_bytes(data[child.body + 4 : child.body + 8], "big")
                for i in range(count):
                    at = child.body + 8 + i * size - moov.start
                    value = int.from_bytes(out[at : at + size], "big") + delta
                    out[at : at + size] = value.to_bytes(size, "big")
    return bytes(out)


def set_handler(data: bytes, old: bytes, new: bytes) -> bytes:
    """Every track handler `old` ('vide') renamed `new` ('pict'), in place."""
    out = bytearray(data)
    moov = _find(_children(data, 0, len(data)), "moov")
    stack = [moov]
    while stack:
        parent = stack.pop()
        for child in _children(data, parent.body, parent.end):
            if child.kind in ("trak", "mdia"):
                stack.append(child)
            elif child.kind == "hdlr" and data[child.body + 8 : child.body + 12] == old:
                out[child.body + 8 : child.body + 12] = new
    return bytes(out)


def with_sequence(still: bytes, movie: bytes, brands: list[bytes]) -> bytes:
    """A HEIF holding `still`'s items and `movie`'s tracks (an MP4, e.g. from ffmpeg), as
    HEIF image sequences with a still image are laid out: ftyp, meta, mdat, moov, mdat."""
    top = _children(still, 0, len(still))
    head = ftyp(brands[0], brands)
    old_ftyp = _find(top, "ftyp")
    grown = len(head) - (old_ftyp.end - old_ftyp.start)
    meta = _find(top, "meta")
    in_meta = _children(still, meta.body + 4, meta.end)
    iloc = _find(in_meta, "iloc")
    new_meta = _rebuilt(still, meta, {iloc.start: _shifted_iloc(still, iloc, old_ftyp.end, grown)}, prefix=4)
    rest = b"".join(still[b.start : b.end] for b in top if b.kind not in ("ftyp", "meta"))
    first = head + new_meta + rest
    tracks = _children(movie, 0, len(movie))
    moov, mdat = _find(tracks, "moov"), _find(tracks, "mdat")
    moov_bytes = _shift_chunk_offsets(movie, moov, len(first) + (moov.end - moov.start) - mdat.start)
    return first + moov_bytes + movie[mdat.start : mdat.end]


def set_edit_list_flags(data: bytes, flags: int) -> bytes:
    """Every 'elst' box's flags set to `flags` (bit 0: the edits repeat), in place."""
    out = bytearray(data)
    stack = [_find(_children(data, 0, len(data)), "moov")]
    while stack:
        parent = stack.pop()
        for child in _children(data, parent.body, parent.end):
            if child.kind in ("trak", "edts"):
                stack.append(child)
            elif child.kind == "elst":
                out[child.body + 1 : child.body + 4] = flags.to_bytes(3, "big")
    return bytes(out)


def insert_before_meta(data: bytes, blob: bytes) -> bytes:
    """`data` with `blob` (whole boxes) just before 'meta', the item offsets moved."""
    top = _children(data, 0, len(data))
    meta = _find(top, "meta")
    iloc = _find(_children(data, meta.body + 4, meta.end), "iloc")
    moved = _rebuilt(data, meta, {iloc.start: _shifted_iloc(data, iloc, meta.start, len(blob))}, prefix=4)
    return data[: meta.start] + blob + moved + data[meta.end :]
