"""The structure of a movie as the cleaner sees it: its top-level boxes, its tracks, its
fragments, and every kept chunk, checked before anything is copied.

Refused here, with one line: no movie header or two, a movie cut short (a last box running
past the end of the file, a fragment without its media data: Truncated, so the daemon tries
again), kept chunks outside the media data or sharing bytes, a dropped track's data inside
a kept chunk.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, Truncated, UnsupportedFormat
from safeshare.formats.isobmff import Box, boxes
from safeshare.formats.video_fragments import until_next_moof
from safeshare.formats.video_tracks import Track, read_tracks

FRAGMENT_BOXES = frozenset({"moof", "mdat", "styp"})


@dataclass
class Movie:
    top: list[Box]
    moov: Box
    tracks: list[Track]
    fragments: list[Box] = field(default_factory=list)  # moof/mdat/styp from the first moof on

    @property
    def kept(self) -> list[Track]:
        return [t for t in self.tracks if t.kept]


def parse(data: Buffer) -> Movie:
    top = boxes(data, 0, len(data), top=True)
    if not top:
        raise CorruptImage("corrupt video: no boxes")
    movies = [b for b in top if b.type == "moov"]
    if not movies:
        raise Truncated("truncated or corrupt video: no movie header ('moov')")
    if len(movies) > 1:
        raise CorruptImage("corrupt video: two movie headers")
    _check_complete(data, top)
    first_moof = next((i for i, b in enumerate(top) if b.type == "moof"), len(top))
    fragments = top[first_moof:]
    for i, b in enumerate(fragments):
        if b.type == "moof" and not any(f.type == "mdat" for f in until_next_moof(fragments[i + 1 :])):
            if any(f.type == "moof" for f in fragments[i + 1 :]):
                raise UnsupportedFormat("unsupported video: fragments that share one media data box")
            raise Truncated("truncated video: a fragment without its media data (still being written?)")
    return Movie(top, movies[0], read_tracks(data, movies[0]), fragments)


def _check_complete(data: Buffer, top: list[Box]) -> None:
    """Truncated when the bytes after the last whole box start a box that runs past the end
    of the file: a video still being copied or recorded (tried again), not a trailer."""
    pos = top[-1].end
    if len(data) - pos < 8:
        return
    size = int.from_bytes(bytes(data[pos : pos + 4]), "big")
    kind = bytes(data[pos + 4 : pos + 8])
    if size == 1 and len(data) - pos >= 16:
        size = int.from_bytes(bytes(data[pos + 8 : pos + 16]), "big")
    if kind.isalnum() and size > len(data) - pos:
        raise Truncated("truncated video: its last box runs past the end of the file (still being copied?)")


def chunk_list(data: Buffer, movie: Movie) -> list[tuple[int, int, int, int]]:
    """Every kept chunk as (offset, length, track index, chunk index), in file order,
    each checked to lie inside a media data box and to overlap no other."""
    mdats = sorted((b.body, b.end) for b in movie.top if b.type == "mdat")
    starts = [s for s, _ in mdats]
    found = []
    for ti, track in enumerate(movie.kept):
        for ci, (offset, length) in enumerate(track.chunks):
            if length:
                found.append((offset, length, ti, ci))
    found.sort()
    _apart_from_dropped(movie, found)
    previous_end = 0
    for offset, length, _, _ in found:
        i = bisect.bisect_right(starts, offset) - 1
        if i < 0 or offset + length > mdats[i][1]:
            if offset + length > len(data):
                raise Truncated("truncated video: its media data runs past the end of the file")
            raise CorruptImage("corrupt video: media data outside the media data box")
        if offset < previous_end:
            raise UnsupportedFormat("unsupported video: two tracks share the same media data")
        previous_end = offset + length
    return found


def _apart_from_dropped(movie: Movie, kept: list[tuple[int, int, int, int]]) -> None:
    """A dropped track's data must not lie inside a kept chunk: it would be copied with it
    (a GPS subtitle sample inside a frame whose size was stretched over it)."""
    starts = [offset for offset, _, _, _ in kept]
    for track in movie.tracks:
        for offset, length in track.chunks if not track.kept else ():
            i = bisect.bisect_right(starts, offset + length - 1) - 1 if length else -1
            if i >= 0 and kept[i][0] + kept[i][1] > offset:
                raise CorruptImage("corrupt video: a dropped track's data lies inside a kept track's")


def unused_media(movie: Movie, chunks: list[tuple[int, int, int, int]]) -> int:
    """Bytes in the media data boxes before the fragments that no kept chunk uses."""
    total = sum(b.end - b.body for b in movie.top if b.type == "mdat" and b not in movie.fragments)
    return total - sum(length for _, length, _, _ in chunks)
