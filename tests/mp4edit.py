"""A small editor of MP4/QuickTime box trees, for building hostile and unusual movies in
tests: parse a file into boxes (containers opened), change payloads or children, write it
back. Offsets are not fixed up: an edit that moves media data must say how it keeps the
chunk offsets right (append after 'mdat', or adjust them)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

from tests.isobmff_edit import _children

CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "edts", "udta", "dinf", "mvex", "moof", "traf", "tapt"}


@dataclass
class Box:
    kind: str
    payload: bytes = b""
    kids: list[Box] | None = None
    extra: list[Box] = field(default_factory=list)

    def bytes(self) -> bytes:
        body = b"".join(k.bytes() for k in self.kids) if self.kids is not None else self.payload
        return struct.pack(">I4s", 8 + len(body), self.kind.encode("latin-1")) + body

    def all(self, kind: str) -> list[Box]:
        return [k for k in self.kids or [] if k.kind == kind]

    def at(self, path: str) -> Box:
        here = self
        for part in path.split("/"):
            here = here.all(part)[0]
        return here


def parse(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    found = []
    for b in _children(data, start, len(data) if end is None else end):
        if b.kind in CONTAINERS:
            found.append(Box(b.kind, kids=parse(data, b.body, b.end)))
        else:
            found.append(Box(b.kind, data[b.body : b.end]))
    return found


def load(path: Path) -> list[Box]:
    return parse(path.read_bytes())


def save(top: list[Box], path: Path) -> Path:
    path.write_bytes(b"".join(b.bytes() for b in top))
    return path


def moov(top: list[Box]) -> Box:
    return next(b for b in top if b.kind == "moov")


def tracks(top: list[Box]) -> list[Box]:
    return moov(top).all("trak")


def handler(trak: Box) -> bytes:
    return trak.at("mdia/hdlr").payload[8:12]


def positions(top: list[Box]) -> list[tuple[str, int, int]]:
    """(kind, start, size) of the top-level boxes as `save` writes them."""
    out, pos = [], 0
    for b in top:
        size = len(b.bytes())
        out.append((b.kind, pos, size))
        pos += size
    return out
