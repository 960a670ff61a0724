"""The tracks of a 'moov' box, as HEIF and AVIF image sequences ('msf1', 'avis') use them.

An image sequence stores its frames as the samples of a track whose handler is 'pict'
(some writers say 'vide'), beside or instead of a still primary item in 'meta'. Read here,
per track: the handler, the number of frames, the sample entry (codec, size, and the
properties it carries: clap, irot, imir, colr), how often it repeats (its edit list), the
tracks it refers to, and any creation time. It only reads, bounded by each box.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage
from safeshare.formats.isobmff import Box, boxes

PICTURE_HANDLERS = {"pict", "vide"}
VISUAL_ENTRY_HEADER = 78  # VisualSampleEntry fields before its child boxes
MAX_DEPTH = 8  # trak/mdia/minf/stbl/stsd is 5 deep; deeper nesting is hostile
MAX_LOOP = 65535
_CONTAINERS = {"trak", "mdia", "minf", "stbl", "edts", "dinf"}


@dataclass
class Track:
    id: int = 0
    handler: str = ""
    frames: int = 0  # samples (stsz)
    codec: str = ""  # sample entry type: 'av01', 'hvc1'
    size: tuple[int, int] = (0, 0)  # sample entry width x height
    props: list[tuple[str, bytes]] = field(default_factory=list)  # sample entry children, in order
    duration: int = 0  # tkhd, in the movie's timescale; all ones: indefinite
    indefinite: bool = False
    repeats: bool | None = None  # edit list flag 1; None without an edit list
    segment: int = 0  # first edit's duration, movie timescale
    references: dict[str, list[int]] = field(default_factory=dict)  # tref
    created: bool = False  # a creation or modification time is set (tkhd, mdhd)

    @property
    def is_picture(self) -> bool:
        return self.handler in PICTURE_HANDLERS and self.frames > 0

    @property
    def loop(self) -> int:
        """Times the sequence plays, as WebP and APNG count them (0: forever), read the way
        libavif reads the edit list: no edit list or an indefinite duration is forever."""
        if self.repeats is None or (self.repeats and (self.indefinite or not self.segment)):
            return 0
        if not self.repeats:
            return 1
        return min(MAX_LOOP, max(1, -(-self.duration // self.segment)))


@dataclass
class Movie:
    tracks: list[Track] = field(default_factory=list)
    created: bool = False  # mvhd creation or modification time set
    user_data: list[str] = field(default_factory=list)  # 'udta'/'meta' boxes in moov or a trak

    def sequence(self) -> Track | None:
        """The picture track with most frames that no other track describes (alpha, depth)."""
        auxiliary = {t.id for t in self.tracks if "auxl" in t.references}
        candidates = [t for t in self.tracks if t.is_picture and t.id not in auxiliary]
        return max(candidates, key=lambda t: t.frames, default=None)

    def auxiliary_of(self, track: Track) -> list[Track]:
        return [t for t in self.tracks if track.id in t.references.get("auxl", [])]


def _read(data: Buffer, box: Box, offset: int, fmt: str) -> tuple[int, ...]:
    pos = box.body + offset
    if pos + struct.calcsize(fmt) > box.end:
        raise CorruptImage(f"truncated '{box.type}' box in an image sequence")
    values: tuple[int, ...] = struct.unpack_from(fmt, data, pos)
    return values


def read_movie(data: Buffer, moov: Box) -> Movie:
    movie = Movie()
    for child in boxes(data, moov.body, moov.end):
        if child.type == "mvhd":
            movie.created = _times_set(data, child)
        elif child.type == "trak":
            movie.tracks.append(_track(data, child, movie))
        elif child.type in ("udta", "meta"):
            movie.user_data.append(child.type)
    return movie


def _times_set(data: Buffer, box: Box) -> bool:
    """Creation or modification time set in an mvhd, tkhd or mdhd (version 0 or 1)."""
    (version,) = _read(data, box, 0, ">B")
    created, modified = _read(data, box, 4, ">QQ" if version == 1 else ">II")
    return bool(created or modified)


def _track(data: Buffer, trak: Box, movie: Movie) -> Track:
    track = Track()
    _walk(data, trak, track, movie, 0)
    return track


def _walk(data: Buffer, parent: Box, track: Track, movie: Movie, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CorruptImage("corrupt image sequence (boxes nested too deep)")
    for child in boxes(data, parent.body, parent.end):
        kind = child.type
        if kind in _CONTAINERS:
            _walk(data, child, track, movie, depth + 1)
        elif kind == "tkhd":
            _tkhd(data, child, track)
        elif kind == "mdhd":
            track.created = track.created or _times_set(data, child)
        elif kind == "hdlr":
            track.handler = _fourcc(data, child, 8)  # after version, flags and pre_defined
        elif kind == "stsz":
            track.frames = _read(data, child, 8, ">I")[0]
        elif kind == "stsd":
            _stsd(data, child, track)
        elif kind == "elst":
            _elst(data, child, track)
        elif kind == "tref":
            for ref in boxes(data, child.body, child.end):
                count = min(1024, (ref.end - ref.body) // 4)
                track.references[ref.type] = list(struct.unpack_from(f">{count}I", data, ref.body))
        elif kind in ("udta", "meta"):
            movie.user_data.append(kind)


def _fourcc(data: Buffer, box: Box, offset: int) -> str:
    pos = box.body + offset
    if pos + 4 > box.end:
        raise CorruptImage(f"truncated '{box.type}' box in an image sequence")
    return bytes(data[pos : pos + 4]).decode("latin-1")


def _tkhd(data: Buffer, box: Box, track: Track) -> None:
    (version,) = _read(data, box, 0, ">B")
    track.created = track.created or _times_set(data, box)
    if version == 1:
        track.id, _, track.duration = _read(data, box, 20, ">IIQ")
        track.indefinite = track.duration == (1 << 64) - 1
    else:
        track.id, _, track.duration = _read(data, box, 12, ">III")
        track.indefinite = track.duration == (1 << 32) - 1


def _stsd(data: Buffer, box: Box, track: Track) -> None:
    entries = boxes(data, box.body + 8, box.end)  # full box header and entry count
    if not entries:
        return
    entry = entries[0]
    track.codec = entry.type
    if entry.body + VISUAL_ENTRY_HEADER <= entry.end:
        width, height = _read(data, entry, 24, ">HH")
        track.size = (width, height)
        track.props = [
            (b.type, bytes(data[b.body : b.end]))
            for b in boxes(data, entry.body + VISUAL_ENTRY_HEADER, entry.end)
        ]


def _elst(data: Buffer, box: Box, track: Track) -> None:
    (header,) = _read(data, box, 0, ">I")
    version, flags = header >> 24, header & 0xFFFFFF
    track.repeats = bool(flags & 1)
    (count,) = _read(data, box, 4, ">I")
    if count:
        track.segment = _read(data, box, 8, ">Q" if version == 1 else ">I")[0]
