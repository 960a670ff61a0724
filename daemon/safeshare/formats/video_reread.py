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
PCM = frozenset({b"raw ", b"twos", b"sowt", b"lpcm", b"in24", b"in32", b"fl32", b"fl64", b"ulaw", b"alaw"})
TOP = frozenset({"ftyp", "moov", "mdat", "moof", "styp", "free"})  # free: zeros among fragments
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
    sizes = _sizes(data, tables, _pcm_bytes(data, tables) if handler == "soun" else 0)
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


def _pcm_bytes(data: Buffer, tables: dict[str, tuple[str, int, int]]) -> int:
    """For uncompressed QuickTime sound whose constant 'stsz' size counts PCM frames: the
    bytes one frame takes in the file, from the (first) sound description; 0 otherwise."""
    _, body, _ = tables["stsd"]
    entry = body + 8  # full box header, entry count
    codec = bytes(data[entry + 4 : entry + 8])
    if codec not in PCM:
        return 0
    version, channels, bits = (
        struct.unpack_from(">H", data, entry + 16)[0],
        *struct.unpack_from(">HH", data, entry + 24),
    )
    if version == 1:
        per_packet, _, per_frame = struct.unpack_from(">III", data, entry + 36)
        return int(per_frame) if per_packet == 1 else 0
    if version == 0 and codec in (b"ulaw", b"alaw"):
        return int(channels)
    return int(channels * bits // 8) if version == 0 and bits % 8 == 0 else 0


def _sizes(data: Buffer, tables: dict[str, tuple[str, int, int]], pcm: int = 0) -> list[int]:
    if "stsz" in tables:
        _, body, _ = tables["stsz"]
        constant, count = struct.unpack_from(">II", data, body + 4)
        if constant == 1 and pcm:
            return [pcm] * count
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


def _trex(data: Buffer, moov: tuple[str, int, int]) -> dict[int, int]:
    mvex = _find(_walk(data, moov[1], moov[2]), "mvex")
    sizes = {}
    for kind, body, _ in _walk(data, mvex[1], mvex[2]) if mvex else []:
        if kind == "trex":
            track, _, _, size = struct.unpack_from(">IIII", data, body + 4)
            sizes[track] = size
    return sizes


def _fragment_runs(data: Buffer, moof: int, end: int, sizes: dict[int, int]) -> list[tuple[int, int]]:
    """(start, length) of each run of samples a 'moof' describes (ISO 14496-12 8.8.7, 8.8.8)."""
    found: list[tuple[int, int]] = []
    chained = moof  # where the next track fragment's data starts when nothing else says
    for kind, body, stop in _walk(data, moof + 8, end):
        if kind != "traf":
            continue
        pieces = _walk(data, body, stop)
        header = _find(pieces, "tfhd")
        if header is None:
            raise ValueError("a track fragment without its header")
        flags = int.from_bytes(bytes(data[header[1] + 1 : header[1] + 4]), "big")
        track = struct.unpack_from(">I", data, header[1] + 4)[0]
        at, size = header[1] + 8, sizes.get(track, 0)
        base = moof if flags & 0x020000 or not found else chained
        if flags & 0x01:
            base, at = struct.unpack_from(">Q", data, at)[0], at + 8
        at += 4 * bool(flags & 0x02) + 4 * bool(flags & 0x08)
        if flags & 0x10:
            size = struct.unpack_from(">I", data, at)[0]
        cursor = base
        for run in (p for p in pieces if p[0] == "trun"):
            run_flags = int.from_bytes(bytes(data[run[1] + 1 : run[1] + 4]), "big")
            count = struct.unpack_from(">I", data, run[1] + 4)[0]
            at = run[1] + 8
            if run_flags & 0x001:
                cursor, at = base + struct.unpack_from(">i", data, at)[0], at + 4
            at += 4 * bool(run_flags & 0x004)
            per = [bit for bit in (0x100, 0x200, 0x400, 0x800) if run_flags & bit]
            if 0x200 in per:
                table = struct.unpack_from(f">{count * len(per)}I", data, at)
                length = sum(table[per.index(0x200) :: len(per)])
            else:
                length = count * size
            found.append((cursor, length))
            cursor += length
        chained = cursor
    return found


def reread(data: Buffer, reference: bytes | None) -> str | None:
    """The problem with the output `data`, or None when it holds exactly the kept media."""
    if reference is None:
        return "no reference to check the video against"
    try:
        top = _walk(data, 0, len(data))
        kinds = [b[0] for b in top]
        if set(kinds) - TOP or kinds.count("moov") != 1 or kinds.count("ftyp") > 1:
            return f"the video's boxes are not the cleaned layout: {kinds[:8]}"
        if any(bytes(data[body:end]).strip(b"\0") for kind, body, end in top if kind == "free"):
            return "the cleaned video holds data in a 'free' box"
        moov = top[kinds.index("moov")]
        digest = hashlib.sha256()
        traks = [b for b in _walk(data, moov[1], moov[2]) if b[0] == "trak"]
        handlers = [_track(data, trak, digest) for trak in traks]
        if not handlers or set(handlers) - ONLY_TRACKS:
            return f"the video keeps tracks other than video and audio: {handlers}"
        defaults = _trex(data, moov)
        for kind, body, end in top:
            if kind == "moof":
                for start, length in _fragment_runs(data, body - 8, end, defaults):
                    if start < 0 or start + length > len(data):
                        raise ValueError("a fragment's samples run past the end of the file")
                    digest.update(_edges(data, start, length))
    except (ValueError, struct.error, IndexError, KeyError, InputError) as exc:
        return f"the cleaned video does not re-read: {exc}"
    if digest.digest() != reference:
        return "the cleaned video's samples differ from the original's"
    return None
