"""A tolerant reader of TIFF-structured data: EXIF blobs and whole TIFF files.

Camera EXIF is often slightly broken (bad offsets, wrong types, loops). The reader never
follows an offset outside the buffer, never visits an IFD twice, and bounds every count, so
a hostile blob costs at most a `CorruptImage` for the part that is broken.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage
from safeshare.metadata.values import decode_text

# TIFF field type -> size in bytes of one value.
TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
TYPE_SIZES.update({16: 8, 17: 8, 18: 8})
_INT_FORMATS = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}
MAX_ENTRIES = 4096
MAX_IFDS = 4096


@dataclass(frozen=True)
class Entry:
    """One IFD entry; `offset` is where its value bytes start in the buffer."""

    tag: int
    type: int
    count: int
    offset: int

    @property
    def size(self) -> int:
        return TYPE_SIZES.get(self.type, 1) * self.count


@dataclass(frozen=True)
class Ifd:
    """One image file directory: where it starts, its entries by tag, the next one's offset."""

    offset: int
    entries: dict[int, Entry]
    next_offset: int


class TiffReader:
    """Reads IFDs from `data`, which starts with a TIFF header ('II*\\0', 'MM\\0*', BigTIFF)."""

    def __init__(self, data: Buffer | memoryview) -> None:
        self.data = memoryview(data)
        if len(self.data) < 8:
            raise CorruptImage("TIFF header is truncated")
        order = bytes(self.data[:2])
        if order not in (b"II", b"MM"):
            raise CorruptImage("not a TIFF byte order mark")
        self.endian = "<" if order == b"II" else ">"
        version = self._unpack("H", 2)
        if version == 42:
            self.big = False
            self.first_ifd = self._unpack("I", 4)
        elif version == 43 and len(self.data) >= 16:
            self.big = True
            self.first_ifd = self._unpack("Q", 8)
        else:
            raise CorruptImage(f"unknown TIFF version {version}")
        self._seen: set[int] = set()

    def _unpack(self, fmt: str, offset: int) -> int:
        size = struct.calcsize(fmt)
        if offset < 0 or offset + size > len(self.data):
            raise CorruptImage(f"TIFF value at offset {offset} is outside the data")
        value: int = struct.unpack_from(self.endian + fmt, self.data, offset)[0]
        return value

    def read_ifd(self, offset: int) -> Ifd:
        """Read the IFD at `offset`; raises CorruptImage on a loop or an impossible offset."""
        if offset in self._seen:
            raise CorruptImage(f"TIFF directory loop at offset {offset}")
        if len(self._seen) >= MAX_IFDS:
            raise CorruptImage("too many TIFF directories")
        self._seen.add(offset)
        count_fmt, entry_size, inline = ("Q", 20, 8) if self.big else ("H", 12, 4)
        count = self._unpack(count_fmt, offset)
        if count > MAX_ENTRIES:
            raise CorruptImage(f"TIFF directory with {count} entries")
        start = offset + (8 if self.big else 2)
        if start + count * entry_size > len(self.data):
            raise CorruptImage("TIFF directory runs past the end of the data")
        entries: dict[int, Entry] = {}
        for i in range(count):
            pos = start + i * entry_size
            tag, typ = self._unpack("H", pos), self._unpack("H", pos + 2)
            n = self._unpack("Q" if self.big else "I", pos + 4)
            value_pos = pos + (12 if self.big else 8)
            entry = Entry(tag, typ, n, value_pos)
            if entry.size > inline:
                entry = Entry(tag, typ, n, self._unpack("Q" if self.big else "I", value_pos))
            entries.setdefault(tag, entry)
        next_pos = start + count * entry_size
        try:
            next_offset = self._unpack("Q" if self.big else "I", next_pos)
        except CorruptImage:
            next_offset = 0  # a missing next pointer is common and harmless
        return Ifd(offset, entries, next_offset)

    def raw(self, entry: Entry) -> bytes:
        """The value bytes of an entry; CorruptImage when they lie outside the data."""
        if entry.type not in TYPE_SIZES:
            raise CorruptImage(f"unknown TIFF field type {entry.type} for tag {entry.tag}")
        end = entry.offset + entry.size
        if entry.offset < 0 or end > len(self.data):
            raise CorruptImage(f"TIFF tag {entry.tag} points outside the data")
        return bytes(self.data[entry.offset : end])

    def ints(self, entry: Entry) -> tuple[int, ...]:
        fmt = _INT_FORMATS.get(entry.type)
        if fmt is None:
            raise CorruptImage(f"TIFF tag {entry.tag} is not an integer")
        return struct.unpack(f"{self.endian}{entry.count}{fmt}", self.raw(entry))

    def first_int(self, entry: Entry) -> int:
        values = self.ints(entry)
        if not values:
            raise CorruptImage(f"TIFF tag {entry.tag} is empty")
        return values[0]

    def rationals(self, entry: Entry) -> tuple[float, ...]:
        if entry.type not in (5, 10):
            return tuple(float(v) for v in self.ints(entry))
        fmt = "I" if entry.type == 5 else "i"
        pairs = struct.unpack(f"{self.endian}{entry.count * 2}{fmt}", self.raw(entry))
        return tuple(n / d if d else float("nan") for n, d in zip(pairs[::2], pairs[1::2], strict=True))

    def text(self, entry: Entry) -> str:
        """ASCII or UNDEFINED value as text, cut at the first NUL."""
        raw = self.raw(entry)
        return decode_text(raw.split(b"\0", 1)[0])
