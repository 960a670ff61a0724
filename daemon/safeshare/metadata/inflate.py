"""Inflating the zlib streams that metadata carries, within one budget per file.

A PNG may hold any number of compressed text chunks (zTXt, compressed iTXt) and a
compressed colour profile (iCCP), and each can inflate a thousand times over: 4 MB of
zTXt chunks make 4 GB of text. A limit per chunk does not bound that, so every file gets
one budget for all of its inflation together. Once it is spent, nothing more is inflated:
the remaining compressed chunks are still removed, and reported as not read.

The same budget holds the XMP elements the file's text chunks may have parsed: XML is the
costly part of what inflates (32 MB of '<a/>' is 8 million elements, ~10 s and 1 GB).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

FILE_BUDGET = 32 << 20  # bytes of inflated metadata per file, all chunks together
XMP_ELEMENTS = 200_000  # XMP elements parsed per file, all packets together


@dataclass(frozen=True)
class Inflated:
    data: bytes
    complete: bool  # the stream ended within the limit (False: cut at the limit, or truncated)


class InflateBudget:
    """What one file may still inflate. One instance per parse of a file."""

    def __init__(self, limit: int = FILE_BUDGET, xmp_elements: int = XMP_ELEMENTS) -> None:
        self.limit = limit
        self.used = 0  # bytes inflated so far
        self.xmp_elements = xmp_elements  # XMP elements that may still be parsed

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def spent(self) -> bool:
        return self.remaining == 0

    def inflate(self, data: bytes, at_most: int) -> Inflated | None:
        """The zlib stream `data` inflated to at most `at_most` bytes and what is left of
        the budget, which is charged with what was inflated; None when it is not zlib data.
        Callers check `spent` first: with nothing left, nothing is inflated."""
        limit = min(at_most, self.remaining)
        if limit <= 0:  # zlib reads a max_length of 0 as "no limit"
            return Inflated(b"", False)
        try:
            inflater = zlib.decompressobj()
            out = inflater.decompress(data, limit)
        except zlib.error:
            return None
        self.used += len(out)
        return Inflated(out, inflater.eof)
