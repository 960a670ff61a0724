"""The tracks of a 'moov' box, as HEIF and AVIF image sequences ('msf1', 'avis') use them.

An image sequence stores its frames as the samples of a track whose handler is 'pict'
(some writers say 'vide'), beside or instead of a still primary item in 'meta'. Read here,
per track: the handler, the number of frames, the sample entries (codec, size, and the
properties the first carries: clap, irot, imir, colr), how often it repeats (its edit
list), the tracks it refers to, and any creation time; and the movie's user data
(formats/isobmff_udta.py). It only reads, bounded by each box.

Which track is shown (AV1): libavif (Pillow's AVIF reader) decodes the first track with an
'av01' sample entry and no 'auxl' reference, whatever its handler. `Movie.av1_sequence`
applies that rule and refuses what it cannot settle the same way: a second such track,
one whose handler is not a picture's, or one with more than one sample entry.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, UnsupportedFormat
from safeshare.formats.isobmff import Box, boxes
from safeshare.formats.isobmff_udta import UserData, read_user_data

PICTURE_HANDLERS = {"pict", "vide"}
VISUAL_ENTRY_HEADER = 78  # VisualSampleEntry fields before its child boxes
MAX_DEPTH = 8  # trak/mdia/minf/stbl/stsd is 5 deep; deeper nesting is hostile
MAX_LOOP = 65535


@dataclass
class Track:
    id: int = 0
    handler: str = ""
    frames: int = 0  # samples (stsz)
    codecs: list[str] = field(default_factory=list)  # sample entry types: 'av01', 'hvc1'
    size: tuple[int, int] = (0, 0)  # first sample entry's width x height
    props: list[tuple[str, bytes]] = field(default_factory=list)  # its children, in order
    duration: int = 0  # tkhd, in the movie's timescale; all ones: indefinite
    indefinite: bool = False
    repeats: bool | None = None  # edit list flag 1; None without an edit list
    segment: int = 0  # first edit's duration, movie timescale
    references: dict[str, list[int]] = field(default_factory=dict)  # tref
    created: int = 0  # latest creation or modification time (tkhd, mdhd), seconds from 1904

    @property
    def codec(self) -> str:
        return self.codecs[0] if self.codecs else ""

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
    created: int = 0  # mvhd creation or modification time, seconds from 1904 (0: unset)
    user_data: list[UserData] = field(default_factory=list)  # 'udta'/'meta' in moov or a trak

    def sequence(self) -> Track | None:
        """The track shown: for AV1 libavif's choice (`av1_sequence`); otherwise (HEVC,
        which libheif here does not decode) the picture track with most frames that no
        other track describes (alpha, depth)."""
        if any("av01" in t.codecs for t in self.tracks):
            return self.av1_sequence()
        auxiliary = {t.id for t in self.tracks if "auxl" in t.references}
        candidates = [t for t in self.tracks if t.is_picture and t.id not in auxiliary]
        return max(candidates, key=lambda t: t.frames, default=None)

    def av1_sequence(self) -> Track | None:
        """libavif's track: the first with an 'av01' sample entry and no 'auxl' reference.
        Anything that rule might settle otherwise than we read it is refused."""
        candidates = [t for t in self.tracks if "av01" in t.codecs and "auxl" not in t.references]
        if not candidates:
            return None
        if len(candidates) > 1:
            raise UnsupportedFormat(
                f"AVIF with {len(candidates)} AV1 picture tracks (viewers may show any of them)"
            )
        track = candidates[0]
        if track.handler not in PICTURE_HANDLERS:
            name = track.handler.encode("ascii", "backslashreplace").decode() or "?"
            raise UnsupportedFormat(f"AVIF whose AV1 track has handler '{name}', not a picture's")
        if len(track.codecs) > 1:
            raise UnsupportedFormat("AVIF whose AV1 track has more than one sample entry")
        if not track.id or not track.frames:
            raise CorruptImage("corrupt AVIF image sequence (an AV1 track without id or frames)")
        return track

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
            movie.created = _time(data, child)
        elif child.type == "trak":
            movie.tracks.append(_track(data, child, movie))
        elif child.type in ("udta", "meta"):
            movie.user_data.extend(read_user_data(data, child))
    return movie


def _time(data: Buffer, box: Box) -> int:
    """The later of the creation and modification times of an mvhd, tkhd or mdhd
    (version 0 or 1), in seconds from 1904; 0 when neither is set."""
    (version,) = _read(data, box, 0, ">B")
    created, modified = _read(data, box, 4, ">QQ" if version == 1 else ">II")
    return max(int(created), int(modified))


def _track(data: Buffer, trak: Box, movie: Movie) -> Track:
    track = Track()
    _walk(data, trak, track, movie, 0)
    return track


# Which children are read in which box, as libavif reads them: anything else (an 'hdlr'
# inside 'edts', say) is not read, so it can neither change a track nor break the reading.
_READ_IN = {
    "trak": {"tkhd", "tref", "edts", "mdia", "udta", "meta"},
    "edts": {"elst"},
    "mdia": {"mdhd", "hdlr", "minf"},
    "minf": {"stbl"},
    "stbl": {"stsd", "stsz"},
}


def _walk(data: Buffer, parent: Box, track: Track, movie: Movie, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise CorruptImage("corrupt image sequence (boxes nested too deep)")
    for child in boxes(data, parent.body, parent.end):
        kind = child.type
        if kind not in _READ_IN[parent.type]:
            continue
        if kind in _READ_IN:
            _walk(data, child, track, movie, depth + 1)
        elif kind == "tkhd":
            _tkhd(data, child, track)
        elif kind == "mdhd":
            track.created = max(track.created, _time(data, child))
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
            movie.user_data.extend(read_user_data(data, child))


def _fourcc(data: Buffer, box: Box, offset: int) -> str:
    pos = box.body + offset
    if pos + 4 > box.end:
        raise CorruptImage(f"truncated '{box.type}' box in an image sequence")
    return bytes(data[pos : pos + 4]).decode("latin-1")


def _tkhd(data: Buffer, box: Box, track: Track) -> None:
    (version,) = _read(data, box, 0, ">B")
    track.created = max(track.created, _time(data, box))
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
    track.codecs = [e.type for e in entries]
    entry = entries[0]
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
