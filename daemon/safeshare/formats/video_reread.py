"""The second reading of a cleaned movie, written apart from the cleaner.

It walks the output's boxes itself: exactly one file type box (or none, for QuickTime), one
movie header, media data, fragments and nothing else at the top level; per track the
sample tables ('stsc', 'stsz'/'stz2', 'stco'/'co64'), from which it reads every sample's
bytes where the output's own tables place them. Their digest must equal the one the
cleaner worked out from the input (`Cleaned.reference`): a wrong offset, a lost chunk or
a table that points into the movie header shows as a mismatch, and the copy is not
published.
"""

from __future__ import annotations

import hashlib
import struct

from safeshare.binary import Buffer
from safeshare.errors import InputError

EDGE = 16  # bytes compared at each end of a chunk
TOP = frozenset({"ftyp", "moov", "mdat", "moof", "styp"})
ONLY_TRACKS = frozenset({"vide", "soun"})


def _walk(data: Buffer, start: int, end: int) -> list[tuple[str, int, int]]:
    """(type, payload start, end) of the boxes filling [start, end) exactly."""
    out = []
    pos = start
    while pos < end:
        if pos + 8 > end:
            raise ValueError("a box header runs past its parent")
        size, kind = struct.unpack_from(">I4s", data, pos)
        head = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            head = 16
        if size < head or pos + size > end:
            raise ValueError(f"box '{kind.decode('latin-1')}' does not fit")
        out.append((kind.decode("latin-1"), pos + head, pos + size))
        pos += size
    return out


def _find(found: list[tuple[str, int, int]], kind: str) -> tuple[str, int, int] | None:
    return next((b for b in found if b[0] == kind), None)


def _track(data: Buffer, trak: tuple[str, int, int], digest: hashlib._Hash) -> str:
    inner = _walk(data, trak[1], trak[2])
    tkhd, mdia = _find(inner, "tkhd"), _find(inner, "mdia")
    if tkhd is None or mdia is None:
        raise ValueError("a track without its header")
    track_id = struct.unpack_from(">I", data, tkhd[1] + (20 if data[tkhd[1]] == 1 else 12))[0]
    media = _walk(data, mdia[1], mdia[2])
    hdlr, minf = _find(media, "hdlr"), _find(media, "minf")
    if hdlr is None or minf is None:
        raise ValueError("a track without its handler")
    handler = bytes(data[hdlr[1] + 8 : hdlr[1] + 12]).decode("latin-1")
    stbl = _find(_walk(data, minf[1], minf[2]), "stbl")
    if stbl is None:
        raise ValueError("a track without its sample table")
    tables = {b[0]: b for b in _walk(data, stbl[1], stbl[2])}
    sizes = _sizes(data, tables)
    offsets = _offsets(data, tables)
    runs = _runs(data, tables, len(offsets))
    digest.update(struct.pack(">I4sI", track_id, handler.encode("latin-1"), len(sizes)))
    sample = 0
    for offset, count in zip(offsets, runs, strict=True):
        length = sum(sizes[sample : sample + count])
        if offset + length > len(data):
            raise ValueError("a chunk runs past the end of the file")
        digest.update(_edges(data, offset, length))
        sample += count
    if sample != len(sizes) and offsets:
        raise ValueError("the chunks do not hold every sample")
    return handler


def _sizes(data: Buffer, tables: dict[str, tuple[str, int, int]]) -> list[int]:
    if "stsz" in tables:
        _, body, _ = tables["stsz"]
        constant, count = struct.unpack_from(">II", data, body + 4)
        if constant:
            return [constant] * count
        return list(struct.unpack_from(f">{count}I", data, body + 12))
    _, body, end = tables["stz2"]
    width, count = data[body + 7], struct.unpack_from(">I", data, body + 8)[0]
    raw = bytes(data[body + 12 : end])
    if width == 16:
        return list(struct.unpack_from(f">{count}H", raw))
    if width == 8:
        return list(raw[:count])
    return [(raw[i // 2] >> (0 if i % 2 else 4)) & 15 for i in range(count)]


def _offsets(data: Buffer, tables: dict[str, tuple[str, int, int]]) -> list[int]:
    if "co64" in tables:
        body = tables["co64"][1]
        (count,) = struct.unpack_from(">I", data, body + 4)
        return list(struct.unpack_from(f">{count}Q", data, body + 8))
    body = tables["stco"][1]
    (count,) = struct.unpack_from(">I", data, body + 4)
    return list(struct.unpack_from(f">{count}I", data, body + 8))


def _runs(data: Buffer, tables: dict[str, tuple[str, int, int]], chunks: int) -> list[int]:
    body = tables["stsc"][1]
    (count,) = struct.unpack_from(">I", data, body + 4)
    entries = [struct.unpack_from(">III", data, body + 8 + 12 * i) for i in range(count)]
    runs: list[int] = []
    for i, (first, per_chunk, _) in enumerate(entries):
        until = entries[i + 1][0] if i + 1 < count else chunks + 1
        runs += [per_chunk] * max(0, min(until, chunks + 1) - first)
    if len(runs) != chunks:
        raise ValueError("the sample-to-chunk table does not match the chunks")
    return runs


def _edges(data: Buffer, offset: int, length: int) -> bytes:
    """A chunk by its length and its first and last EDGE bytes: the cleaner digests the
    input's chunks the same way (its middle is the kernel's copy of the same range)."""
    if length <= 2 * EDGE:
        return struct.pack(">Q", length) + bytes(data[offset : offset + length])
    tail = bytes(data[offset + length - EDGE : offset + length])
    return struct.pack(">Q", length) + bytes(data[offset : offset + EDGE]) + tail


def reread(data: Buffer, reference: bytes | None) -> str | None:
    """The problem with the output `data`, or None when it holds exactly the kept media."""
    if reference is None:
        return "no reference to check the video against"
    try:
        top = _walk(data, 0, len(data))
        kinds = [b[0] for b in top]
        if set(kinds) - TOP or kinds.count("moov") != 1 or kinds.count("ftyp") > 1:
            return f"the video's boxes are not the cleaned layout: {kinds[:8]}"
        moov = top[kinds.index("moov")]
        digest = hashlib.sha256()
        traks = [b for b in _walk(data, moov[1], moov[2]) if b[0] == "trak"]
        handlers = [_track(data, trak, digest) for trak in traks]
        if not handlers or set(handlers) - ONLY_TRACKS:
            return f"the video keeps tracks other than video and audio: {handlers}"
        first_moof = kinds.index("moof") if "moof" in kinds else len(top)
        for kind, body, end in top[first_moof:]:
            if kind == "mdat":
                digest.update(_edges(data, body, end - body))
    except (ValueError, struct.error, IndexError, KeyError, InputError) as exc:
        return f"the cleaned video does not re-read: {exc}"
    if digest.digest() != reference:
        return "the cleaned video's samples differ from the original's"
    return None
