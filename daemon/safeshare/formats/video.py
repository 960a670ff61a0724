"""MP4, MOV, M4V and 3GP movies, cleaned losslessly: the container rebuilt by allowlist.

The output is the file type box, the movie header rebuilt (video_write.py), and one media
data box holding the kept tracks' chunks, copied byte for byte in their original order;
the movie header stays before or after the media data as the input had it. Media data
that no video or audio track uses (telemetry samples interleaved with the frames, gaps)
is not copied. Fragmented files keep their fragments as they are when every fragment is
about kept tracks (their explicit base offsets moved with them), and are refused when
one carries another track, rather than published with it.

The verifier's second reading (`reread`, video_reread.py) walks the output's own sample
tables and checks that every kept sample holds the bytes it held in the input.
"""

from __future__ import annotations

import hashlib
import mmap
import struct

from safeshare.binary import Buffer, Piece, Span
from safeshare.errors import CorruptImage, Truncated, UnsupportedFormat
from safeshare.findings import Findings, Kind
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.formats.isobmff import Box
from safeshare.formats.video_fragments import gaps, media_runs
from safeshare.formats.video_frames import VISUAL_OBJECTS, frame_problem, is_motion_jpeg, object_types
from safeshare.formats.video_load import EDGE
from safeshare.formats.video_movie import FRAGMENT_BOXES, Movie, chunk_list, parse, unused_media
from safeshare.formats.video_tracks import Track, children

LIMIT_32 = 0xFFFFFFFF
MAX_BLANKED = 16 << 20  # a dropped box among fragments, written as zeros of its size


def media_digest(data: Buffer, tracks: list[Track], fragments: list[tuple[int, int]]) -> bytes:
    """What the output must hold, and where: each kept track's chunks in order, by length
    and by their first and last bytes (a chunk out of place shows at its edges; its middle
    is the kernel's copy of the same range), then the fragments' media data likewise."""
    digest = hashlib.sha256()
    for track in tracks:
        digest.update(struct.pack(">I4sI", track.id, track.handler.encode("latin-1"), track.samples))
        for offset, length in track.chunks:
            digest.update(edges(data, offset, length))
    for offset, length in fragments:
        digest.update(edges(data, offset, length))
    return digest.digest()


def edges(data: Buffer, offset: int, length: int) -> bytes:
    """A chunk as the digest sees it: its length, and its first and last EDGE bytes."""
    head = struct.pack(">Q", length)
    if length <= 2 * EDGE:
        return head + bytes(data[offset : offset + length])
    return head + bytes(data[offset : offset + EDGE]) + bytes(data[offset + length - EDGE : offset + length])


def _fragment_media(data: Buffer, mdat: Box, used: list[tuple[int, int]], fd: int | None) -> list[Piece]:
    """A fragment's 'mdat' as its sample runs, the bytes no run uses written as zeros."""
    pieces: list[Piece] = [bytes(data[mdat.start : mdat.body])]
    position, gaps = mdat.body, 0
    for start, length in sorted(used):
        if start < position:
            raise CorruptImage("corrupt video: two runs of a fragment share the same media data")
        gaps += start - position
        pieces.append(bytes(start - position))
        pieces.append(Span(fd, start, length) if fd is not None else memoryview(data)[start : start + length])
        position = start + length
    gaps += mdat.end - position
    if gaps > MAX_BLANKED:
        raise UnsupportedFormat(
            f"unsupported video: {gaps:,} bytes of a fragment's media data no sample uses"
        )
    return [*pieces, bytes(mdat.end - position)]


def _blank(size: int) -> bytes:
    """A 'free' box of `size` bytes (at least 8) holding zeros."""
    return struct.pack(">I4s", size, b"free") + bytes(size - 8)


def _mdat(length: int) -> bytes:
    if length + 8 > LIMIT_32:
        return struct.pack(">I4sQ", 1, b"mdat", length + 16)
    return struct.pack(">I4s", length + 8, b"mdat")


class Mp4(ImageFormat):
    name = "MP4"
    canonical_suffix = ".mp4"
    pillow_name = ""  # Pillow reads no video: `reread` is the second reading
    picture = False  # what a video shows is not looked at (the vision step reads pictures)
    streamed = True  # media data is copied file to file, never read into memory

    def load(self, fd: int, size: int) -> mmap.mmap:
        from safeshare.formats.video_load import load

        return load(fd, size)

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(self._findings(data, parse(data)))

    @staticmethod
    def _findings(data: Buffer, movie: Movie) -> Findings:
        """What `inspect` reports, of a movie already parsed (`clean` parses it once)."""
        from safeshare.formats import video_inspect

        found = Findings()
        video_inspect.top_level(data, movie.top, found)
        video_inspect.movie(data, movie.moov, movie.tracks, found)
        if not movie.kept:
            return found
        unused = unused_media(movie, chunk_list(data, movie))
        hidden = sum(
            1
            for start, length in gaps(data, movie.moov, movie.fragments)
            if bytes(data[start : start + min(length, 1 << 16)]).strip(b"\0")
        )
        if unused > 0 or hidden:
            what = "media data no video or audio track uses"
            found.add(Kind.OTHER, what, f"{unused} bytes" if unused else "in fragments", "video media data")
        return found

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        from safeshare.formats import video_write

        movie = parse(data)
        findings = self._findings(data, movie)
        kept = movie.kept
        if not kept:
            raise UnsupportedFormat("unsupported video: it has no video or audio track")
        ids = {t.id for t in kept}
        chunks = chunk_list(data, movie)
        for track in kept:
            objects = object_types(data, track) if track.handler == "vide" else set()
            odd = objects - VISUAL_OBJECTS
            if odd:  # e.g. PNG frames (0x6D), which can hold text and EXIF chunks anywhere
                kind = "an unreadable description" if -1 in odd else f"object type 0x{min(odd):02X}"
                raise UnsupportedFormat(f"unsupported video: MPEG-4 frames of {kind}")
            problem = frame_problem(data, track) if is_motion_jpeg(data, track) else None
            if problem:
                raise UnsupportedFormat(f"unsupported video: {problem}")
        total = sum(length for _, length, _, _ in chunks)
        ftyp = bytes(data[movie.top[0].start : movie.top[0].end]) if movie.top[0].type == "ftyp" else b""
        index = movie.top.index
        moov_first = all(index(movie.moov) < index(b) for b in movie.top if b.type == "mdat")
        header = len(_mdat(total)) if chunks else 0

        def build(wide: bool, start: int) -> bytes:
            offsets: list[list[int]] = [[0] * len(t.chunks) for t in kept]
            position = start
            for _, length, ti, ci in chunks:
                offsets[ti][ci] = position
                position += length
            for ti, t in enumerate(kept):  # an empty chunk keeps its place relative to the data
                for ci, (_, length) in enumerate(t.chunks):
                    if not length:
                        offsets[ti][ci] = start
            return video_write.movie(data, movie.moov, zip(kept, offsets, strict=True), wide, ids)

        if moov_first:
            size = len(build(False, 0))
            wide = len(ftyp) + size + header + total > LIMIT_32
            size = len(build(wide, 0))
            moov = build(wide, len(ftyp) + size + header)
        else:
            wide = len(ftyp) + header + total > LIMIT_32
            moov = build(wide, len(ftyp) + header)
        media: list[Piece] = [_mdat(total)] if chunks else []
        media += _ranges(data, chunks, options.source_fd)
        parts: list[Piece] = [ftyp, moov, *media] if moov_first else [ftyp, *media, moov]
        placed = sum(len(p) for p in parts)
        used = media_runs(data, movie.moov, movie.fragments)
        parts += self._fragments(data, movie, ids, placed, options.source_fd, used)
        reference = media_digest(data, kept, [r for runs in used.values() for r in runs])
        return Cleaned([p for p in parts if len(p)], self.name, findings, reference=reference)

    def _fragments(
        self,
        data: Buffer,
        movie: Movie,
        ids: set[int],
        placed: int,
        fd: int | None,
        used: dict[int, list[tuple[int, int]]],
    ) -> list[Piece]:
        """The fragments in their own layout, moved as one: every box keeps its distance to
        the others (offsets relative to a 'moof' stay right), a box that is not kept ('sidx',
        'mfra', 'prft', 'emsg', 'free', 'uuid') becomes zeros of the same size."""
        parts: list[Piece] = []
        shift = placed - movie.fragments[0].start if movie.fragments else 0
        for b in movie.fragments:
            if b.type == "moof":
                parts.append(_fragment(data, b, ids, shift))
            elif b.type == "mdat":
                parts += _fragment_media(data, b, used.get(b.start, []), fd)
            elif b.type in FRAGMENT_BOXES:
                parts.append(memoryview(data)[b.start : b.end])
            elif b.end - b.start > MAX_BLANKED:
                raise UnsupportedFormat(
                    f"unsupported video: a '{b.type}' box of {b.end - b.start:,} bytes among fragments"
                )
            else:
                parts.append(_blank(b.end - b.start))
        return parts

    def reread(self, output: Buffer, cleaned: Cleaned) -> str | None:
        from safeshare.formats.video_reread import reread

        return reread(output, cleaned.reference)


class QuickTime(Mp4):
    name = "QuickTime"
    canonical_suffix = ".mov"


def _ranges(data: Buffer, chunks: list[tuple[int, int, int, int]], fd: int | None) -> list[Piece]:
    """The kept chunks, neighbours joined: ranges of the open input `fd` (a streamed file,
    copied file to file), else views of `data`."""
    ranges: list[list[int]] = []
    for offset, length, _, _ in chunks:
        if ranges and ranges[-1][1] == offset:
            ranges[-1][1] = offset + length
        else:
            ranges.append([offset, offset + length])
    if fd is not None:
        return [Span(fd, start, end - start) for start, end in ranges]
    view = memoryview(data)
    return [view[start:end] for start, end in ranges]


def _fragment(data: Buffer, moof: Box, ids: set[int], shift: int) -> bytes:
    """A movie fragment kept as it is when all of it is about kept tracks (explicit base
    offsets moved by `shift`); refused when it carries another track or protected media."""
    raw = bytearray(data[moof.start : moof.end])
    for traf in children(data, moof):
        if traf.type == "mfhd":
            continue
        if traf.type != "traf":
            raise UnsupportedFormat(f"unsupported video: a fragment holding a '{traf.type}' box")
        for inner in children(data, traf):
            if inner.type == "tfhd":
                if inner.body + 8 > inner.end:
                    raise Truncated("truncated fragment header")
                flags, track_id = struct.unpack_from(">II", data, inner.body)
                if track_id not in ids:
                    raise UnsupportedFormat(
                        "unsupported video: a fragmented video with a track that is not video or audio"
                    )
                if flags & 1 and shift:
                    at = inner.body + 8 - moof.start
                    (base,) = struct.unpack_from(">Q", raw, at)
                    struct.pack_into(">Q", raw, at, base + shift)
            elif inner.type not in ("tfdt", "trun", "sbgp", "sgpd", "subs"):
                raise UnsupportedFormat(f"unsupported video: a fragment holding a '{inner.type}' box")
    return bytes(raw)
