"""Bounds-checked reading of binary image data.

Inputs are `bytes` for small files and read-only `mmap` objects for large ones; both
support slicing, `find` and `len`. Output is assembled from `memoryview` slices of the
input, so the lossless path never copies the compressed image data in memory.
"""

from __future__ import annotations

import mmap
import struct
from collections.abc import Sequence

from safeshare.errors import Truncated

Buffer = bytes | bytearray | mmap.mmap


class Span:
    """`length` bytes at `offset` of the open input `fd`: media data that is copied file
    to file when the output is written (fileio.copy_span), never held in memory. (A plain
    class: every `clean` imports this module, and a dataclass costs start-up time.)"""

    __slots__ = ("fd", "length", "offset")

    def __init__(self, fd: int, offset: int, length: int) -> None:
        self.fd, self.offset, self.length = fd, offset, length

    def __len__(self) -> int:
        return self.length


Part = bytes | memoryview  # a part of an output, held in memory
Piece = Part | Span  # a part of an output that may be streamed from the input (videos)


def in_memory(parts: Sequence[Piece]) -> bytes:
    """The parts joined, for outputs that are never streamed (pictures): a Span here is
    a programming error, never a silently shorter output."""
    if any(isinstance(p, Span) for p in parts):
        raise TypeError("a streamed output cannot be joined in memory")
    return b"".join(p for p in parts if not isinstance(p, Span))


def unpack(fmt: str, buf: Buffer, offset: int, what: str) -> tuple[int, ...]:
    """struct.unpack_from that raises CorruptImage naming `what` when the data is short."""
    size = struct.calcsize(fmt)
    if offset < 0 or offset + size > len(buf):
        raise Truncated(f"truncated {what}")
    values: tuple[int, ...] = struct.unpack_from(fmt, buf, offset)
    return values


def u8(buf: Buffer, offset: int, what: str) -> int:
    return unpack(">B", buf, offset, what)[0]


def u16be(buf: Buffer, offset: int, what: str) -> int:
    return unpack(">H", buf, offset, what)[0]


def u32be(buf: Buffer, offset: int, what: str) -> int:
    return unpack(">I", buf, offset, what)[0]


def u32le(buf: Buffer, offset: int, what: str) -> int:
    return unpack("<I", buf, offset, what)[0]


def u16le(buf: Buffer, offset: int, what: str) -> int:
    return unpack("<H", buf, offset, what)[0]


def view(buf: Buffer, start: int, end: int) -> memoryview:
    """A zero-copy slice; CorruptImage when it would run past the end of the data."""
    if start < 0 or end < start or end > len(buf):
        raise Truncated("truncated: data runs past the end of the file")
    return memoryview(buf)[start:end]


def total_length(parts: list[Part]) -> int:
    return sum(len(p) for p in parts)
