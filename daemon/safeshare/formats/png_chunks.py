"""Which kept PNG chunks are copied, and how much of each: a kept chunk carries only what
its type holds.

A chunk copied byte for byte carries whatever was put in it: a gAMA of 40 bytes, a second
iCCP (ExifTool reads it as ICC_Profile2), bytes after the end of the zlib stream inside an
IDAT, or an extra IDAT after the image is complete. So each kept chunk must have the length
its type needs (else it is dropped with a finding, or the file refused when the picture
cannot be shown without it), a chunk that may appear once is kept once (the first, as
libpng reads it), and the image data is cut where its zlib stream ends. The stream is found
by inflating it in slices whose output is dropped: memory stays bounded, the cost is
zlib's C inflate over the image data (about a millisecond per megapixel).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, view
from safeshare.errors import CorruptImage
from safeshare.findings import Findings, Kind
from safeshare.metadata.embedded import human_size

# Chunks that may appear once. For the first set a second one is dropped; for the second
# (the picture depends on which one a reader takes) the file is refused.
ONCE_DROPPED = frozenset({b"cHRM", b"gAMA", b"iCCP", b"sRGB", b"sBIT", b"cICP", b"mDCV", b"cLLI", b"pHYs"})
ONCE_NEEDED = frozenset({b"IHDR", b"PLTE", b"tRNS", b"acTL"})
NEEDED = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"acTL", b"fcTL", b"fdAT"})
FIXED_LENGTH = {
    b"IHDR": 13,
    b"gAMA": 4,
    b"pHYs": 9,
    b"cICP": 4,
    b"cLLI": 8,
    b"sRGB": 1,
    b"cHRM": 32,
    b"mDCV": 24,
    b"acTL": 8,
    b"fcTL": 26,
}
SBIT_LENGTH = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # one byte per channel of the colour type
TRNS_LENGTH = {0: 2, 2: 6}  # one 16-bit grey or RGB value; palette: one byte per entry
PALETTE = 3
WITH_ALPHA = (4, 6)
SLICE = 16 << 10  # compressed bytes inflated at a time: at most ~16 MB of dropped output
SEQUENCE = 4  # fdAT bodies start with a sequence number, then the frame's zlib data


@dataclass
class StreamEnd:
    """Where one zlib stream (the IDAT data, or one frame's fdAT data) ends."""

    inflater: zlib._Decompress = field(default_factory=zlib.decompressobj)
    ended: bool = False
    broken: bool = False  # not zlib data: copied as it is, for the decoder to judge

    def cut(self, kind: bytes, data: Buffer, pos: int, end: int, found: Findings) -> Part | None:
        """The chunk at `pos`, cut after the end of the stream; None when it lies wholly after."""
        start, stop = pos + 8 + (SEQUENCE if kind == b"fdAT" else 0), end - 4
        if self.ended:
            _hidden(found, kind, stop - start)
            return None
        at = start
        try:
            while at < stop and not self.inflater.eof and not self.broken:
                piece = view(data, at, min(at + SLICE, stop))
                self.inflater.decompress(piece)  # the pixels are not needed: only the end
                at += len(piece)
        except zlib.error:
            self.broken = True
        if self.broken or not self.inflater.eof:
            return view(data, pos, end)
        self.ended = True
        stream_end = at - len(self.inflater.unused_data)
        if stream_end == stop:
            return view(data, pos, end)
        _hidden(found, kind, stop - stream_end)
        return _chunk(kind, bytes(data[pos + 8 : stream_end]))


@dataclass
class ChunkState:
    colour_type: int = 0
    palette_entries: int = 0
    seen: set[bytes] = field(default_factory=set)
    image_data: StreamEnd = field(default_factory=StreamEnd)
    frame_data: StreamEnd = field(default_factory=StreamEnd)


def admit(kind: bytes, data: Buffer, pos: int, end: int, state: ChunkState, found: Findings) -> Part | None:
    """The kept chunk at `pos` as it is written (itself, or cut to its zlib stream); None
    when it is dropped (reported in `found`); CorruptImage when the picture needs it and
    it is not what its type allows."""
    name, length = _name(kind), end - pos - 12
    unused_palette = kind == b"PLTE" and state.colour_type != PALETTE
    if unused_palette or (kind == b"tRNS" and state.colour_type in WITH_ALPHA):
        # A suggested palette of a truecolour picture, or transparency where alpha already is:
        # no viewer uses them to show the picture (Pillow ignores both).
        found.add(Kind.OTHER, f"unused {name} chunk (removed)", human_size(length), "PNG")
        return None
    if kind in ONCE_DROPPED | ONCE_NEEDED:
        if kind in state.seen:
            if kind in ONCE_NEEDED:
                raise CorruptImage(f"corrupt: two {name} chunks (which one a viewer shows is not known)")
            found.add(Kind.OTHER, f"second {name} chunk (removed)", human_size(length), "PNG")
            return None
        state.seen.add(kind)
    problem = _length_problem(kind, length, state)
    if problem:
        if kind in NEEDED:
            raise CorruptImage(f"corrupt: the {name} chunk is {length} bytes, {problem}")
        found.add(Kind.OTHER, f"malformed {name} chunk (removed)", f"{length} bytes, {problem}", "PNG")
        return None
    if kind == b"IHDR":
        state.colour_type = data[pos + 17]
    elif kind == b"PLTE":
        state.palette_entries = length // 3
    elif kind == b"fcTL":
        state.frame_data = StreamEnd()  # each frame's fdAT chunks hold one zlib stream
    elif kind == b"IDAT":
        return state.image_data.cut(kind, data, pos, end, found)
    elif kind == b"fdAT":
        part = state.frame_data.cut(kind, data, pos, end, found)
        if part is None:  # dropping it would break the frame sequence numbers
            raise CorruptImage("corrupt: an fdAT chunk after the end of its frame's image data")
        return part
    return view(data, pos, end)


def _length_problem(kind: bytes, length: int, state: ChunkState) -> str:
    expected = FIXED_LENGTH.get(kind)
    if kind == b"sBIT":
        expected = SBIT_LENGTH.get(state.colour_type)
    elif kind == b"tRNS" and state.colour_type in TRNS_LENGTH:
        expected = TRNS_LENGTH[state.colour_type]
    elif kind == b"tRNS":
        if not 1 <= length <= state.palette_entries:
            return f"the palette has {state.palette_entries} entries"
        return ""
    elif kind == b"PLTE":
        return "" if length % 3 == 0 and 1 <= length // 3 <= 256 else "not 1 to 256 RGB entries"
    elif kind == b"fdAT":
        return "" if length >= SEQUENCE else "too short for a sequence number"
    if expected is None or length == expected:
        return ""
    return f"{expected} expected"


def _hidden(found: Findings, kind: bytes, size: int) -> None:
    where = f"PNG {kind.decode('ascii')}"
    found.add(Kind.TRAILER, "data hidden after the compressed image data", human_size(size), where)


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _name(kind: bytes) -> str:
    return kind.decode("latin-1")
