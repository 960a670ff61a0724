"""The tracks of a movie ('moov'): what each is, and where its media data lies in the file.

Per track: its id, handler ('vide', 'soun', 'meta', 'text', 'tmcd'...), sample entry codecs,
timescale and sample count, and its chunks as (offset, length) in the file, worked out from
the sample tables: 'stco'/'co64' give where each chunk starts, 'stsc' how many samples it
holds, 'stsz'/'stz2' each sample's size. Tables that disagree with one another (more samples
claimed than sized, a chunk list out of order) are a corrupt file, never a guess.
"""

from __future__ import annotations

import struct
from array import array
from dataclasses import dataclass, field

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, TooLarge, Truncated, UnsupportedFormat
from safeshare.formats.isobmff import Box, boxes

KEPT_HANDLERS = frozenset({"vide", "soun"})
MAX_SAMPLES = 20_000_000  # four days of 60 fps video in one track; more is a hostile table
MAX_CHUNKS = 2_000_000  # in all tracks of a movie (each costs memory while it is cleaned)
# Uncompressed QuickTime audio whose 'stsz' gives one constant size per PCM frame.
PCM_CODECS = frozenset({"raw ", "twos", "sowt", "lpcm", "in24", "in32", "fl32", "fl64", "ulaw", "alaw"})
# The sample entries a kept track may have: what players decode as pictures and sound. A
# track whose handler says 'soun' but whose samples are subtitles or a timecode is refused.
VIDEO_CODECS = frozenset(
    {"avc1", "avc3", "hvc1", "hev1", "dvh1", "dvhe", "dva1", "dvav", "av01", "vp08", "vp09", "vvc1"}
    | {"vvi1", "mp4v", "s263", "h263", "jpeg", "mjpa", "mjpb", "AVDJ", "dmb1", "apcn", "apch", "apcs"}
    | {"apco", "ap4h", "ap4x", "raw ", "yuv2", "2vuy", "v210", "v410", "dvc ", "dvcp", "dv5n", "dv5p"}
    | {"dvh5", "dvh6", "dvhq", "dvhp", "CFHD", "mp1v", "mp2v", "xdvc", "xd5c", "rle ", "SVQ3", "AVdn"}
    | {"AVdh"}
)  # not 'png ': a PNG frame can carry text and EXIF chunks anywhere in it, unchecked
AUDIO_CODECS = frozenset(
    {"mp4a", "ac-3", "ec-3", "ac-4", "Opus", "fLaC", "alac", "samr", "sawb", "sawp", "sevc", "sqcp"}
    | {".mp3", "mp3 ", ".mp2", "ms\x00U", "dtsc", "dtsh", "dtsl", "dtse", "mlpa", "mha1", "mhm1", "ima4"}
    | PCM_CODECS
)
MOTION_JPEG = frozenset({"jpeg", "mjpa", "mjpb", "AVDJ", "dmb1"})


@dataclass
class Track:
    trak: Box
    id: int = 0
    handler: str = ""
    codecs: list[str] = field(default_factory=list)
    timescale: int = 0
    duration: int = 0  # mdhd, in the track's timescale
    samples: int = 0
    first_duration: int = 0  # of the first sample (stts), in the track's timescale
    chunks: list[tuple[int, int]] = field(default_factory=list)  # (offset, length) in the file
    per_chunk: list[int] = field(default_factory=list)  # samples in each chunk
    sizes: array[int] = field(default_factory=lambda: array("I"))  # of each sample (empty: constant)
    constant: int = 0  # the one sample size, when 'stsz' gives one
    boxes: dict[str, Box] = field(default_factory=dict)  # the sample table's boxes, by type

    @property
    def kept(self) -> bool:
        return self.handler in KEPT_HANDLERS


def children(data: Buffer, box: Box, skip: int = 0) -> list[Box]:
    return boxes(data, box.body + skip, box.end)


def child(data: Buffer, box: Box, kind: str, skip: int = 0) -> Box | None:
    return next((b for b in children(data, box, skip) if b.type == kind), None)


def _u32s(data: Buffer, start: int, count: int, what: str) -> array[int]:
    if start + 4 * count > len(data) or count < 0:
        raise Truncated(f"truncated {what}")
    values = array("I")
    values.frombytes(bytes(data[start : start + 4 * count]))
    if struct.pack("=I", 1) != struct.pack(">I", 1):
        values.byteswap()
    return values


def _count(data: Buffer, box: Box, at: int, size: int, what: str) -> int:
    """An entry count at `at` in `box`, checked against the box's size (`size` bytes each)."""
    if at + 4 > box.end:
        raise Truncated(f"truncated {what}")
    (count,) = struct.unpack_from(">I", data, at)
    if count > MAX_SAMPLES or at + 4 + count * size > box.end:
        raise CorruptImage(f"corrupt video: the {what} claims more entries than it holds")
    return int(count)


def read_tracks(data: Buffer, moov: Box) -> list[Track]:
    tracks = [read_track(data, trak) for trak in children(data, moov) if trak.type == "trak"]
    if sum(len(t.chunks) for t in tracks) > MAX_CHUNKS:
        raise TooLarge(f"unsupported video: more than {MAX_CHUNKS:,} chunks of media data")
    return tracks


def read_track(data: Buffer, trak: Box) -> Track:
    track = Track(trak)
    tkhd = child(data, trak, "tkhd")
    mdia = child(data, trak, "mdia")
    if tkhd is None or mdia is None:
        raise CorruptImage("corrupt video: a track without its header or media box")
    version = data[tkhd.body]
    (track.id,) = struct.unpack_from(">I", data, tkhd.body + (20 if version == 1 else 12))
    for box in children(data, mdia):
        if box.type == "mdhd" and box.body + 24 <= box.end:
            if data[box.body] == 1 and box.body + 32 <= box.end:
                track.timescale, track.duration = struct.unpack_from(">IQ", data, box.body + 20)
            else:
                track.timescale, track.duration = struct.unpack_from(">II", data, box.body + 12)
        elif box.type == "hdlr" and box.body + 12 <= box.end:
            track.handler = bytes(data[box.body + 8 : box.body + 12]).decode("latin-1")
        elif box.type == "minf":
            stbl = child(data, box, "stbl")
            if stbl is not None:
                track.boxes = {b.type: b for b in children(data, stbl)}
    kinds = {b.type for b in children(data, mdia)}
    if track.kept and (not {"mdhd", "hdlr", "minf"} <= kinds or "stsd" not in track.boxes):
        raise CorruptImage("corrupt video: a video or audio track without its media header or sample tables")
    if track.boxes:
        _read_tables(data, track)
    return track


def _read_tables(data: Buffer, track: Track) -> None:
    tables = track.boxes
    stsd = tables.get("stsd")
    entries = boxes(data, stsd.body + 8, stsd.end) if stsd else []
    track.codecs = [b.type for b in entries]
    stts = tables.get("stts")
    if stts is not None and _count(data, stts, stts.body + 4, 8, "time table") > 0:
        (track.first_duration,) = struct.unpack_from(">I", data, stts.body + 12)
    if track.kept:
        allowed = VIDEO_CODECS if track.handler == "vide" else AUDIO_CODECS
        unknown = [c for c in track.codecs if c not in allowed]
        if unknown or not track.codecs:
            kind = "video" if track.handler == "vide" else "sound"
            what = unknown[0].encode("ascii", "backslashreplace").decode() if unknown else "none"
            raise UnsupportedFormat(f"unsupported video: a {kind} track whose samples are '{what}'")
    sizes, constant, track.samples = _sample_sizes(data, tables)
    offsets = _chunk_offsets(data, tables)
    per_chunk = _samples_per_chunk(data, tables, len(offsets))
    track.per_chunk = per_chunk
    if constant and track.handler == "soun" and track.codecs and track.codecs[0] in PCM_CODECS:
        constant = _pcm_frame_bytes(data, entries[0], constant)
    track.chunks = _chunks(offsets, per_chunk, sizes, constant, track.samples)
    track.sizes, track.constant = sizes, constant


def _sample_sizes(data: Buffer, tables: dict[str, Box]) -> tuple[array[int], int, int]:
    """(per-sample sizes, or the one constant size, and the sample count)."""
    stsz = tables.get("stsz")
    if stsz is not None:
        if stsz.body + 12 > stsz.end:
            raise Truncated("truncated sample size table")
        constant, count = struct.unpack_from(">II", data, stsz.body + 4)
        if constant:
            if count > MAX_SAMPLES:
                raise CorruptImage("corrupt video: too many samples")
            return array("I"), int(constant), int(count)
        count = _count(data, stsz, stsz.body + 8, 4, "sample size table")
        return _u32s(data, stsz.body + 12, count, "sample size table"), 0, count
    stz2 = tables.get("stz2")
    if stz2 is None:
        raise CorruptImage("corrupt video: a track without a sample size table")
    field_size = data[stz2.body + 7] if stz2.body + 8 <= stz2.end else 0
    if field_size not in (4, 8, 16):
        raise CorruptImage("corrupt video: a compact sample size table of an unknown width")
    count = _count(data, stz2, stz2.body + 8, 0, "sample size table")
    raw = bytes(data[stz2.body + 12 : stz2.end])
    if len(raw) * 8 < count * field_size:
        raise Truncated("truncated sample size table")
    if field_size == 16:
        values = array("I", struct.unpack(f">{count}H", raw[: 2 * count]))
    elif field_size == 8:
        values = array("I", raw[:count])
    else:
        values = array("I", ((raw[i // 2] >> (4 if i % 2 == 0 else 0)) & 15 for i in range(count)))
    return values, 0, count


def _chunk_offsets(data: Buffer, tables: dict[str, Box]) -> list[int]:
    table = tables.get("stco") or tables.get("co64")
    claimed = (
        struct.unpack_from(">I", data, table.body + 4)[0] if table and table.body + 8 <= table.end else 0
    )
    if claimed > MAX_CHUNKS:
        raise TooLarge(f"unsupported video: more than {MAX_CHUNKS:,} chunks of media data")
    if "stco" in tables:
        box = tables["stco"]
        count = _count(data, box, box.body + 4, 4, "chunk offset table")
        return list(_u32s(data, box.body + 8, count, "chunk offset table"))
    if "co64" in tables:
        box = tables["co64"]
        count = _count(data, box, box.body + 4, 8, "chunk offset table")
        return list(struct.unpack_from(f">{count}Q", data, box.body + 8))
    raise CorruptImage("corrupt video: a track without a chunk offset table")


def _samples_per_chunk(data: Buffer, tables: dict[str, Box], chunks: int) -> list[int]:
    box = tables.get("stsc")
    if box is None:
        raise CorruptImage("corrupt video: a track without a sample-to-chunk table")
    count = _count(data, box, box.body + 4, 12, "sample-to-chunk table")
    runs = struct.unpack_from(f">{3 * count}I", data, box.body + 8)
    per_chunk: list[int] = []
    for i in range(count):
        first, samples = runs[3 * i], runs[3 * i + 1]
        if first > chunks:
            break  # runs for chunks that do not exist: players ignore them, and so do we
        last = min(runs[3 * (i + 1)] - 1, chunks) if i + 1 < count else chunks
        if first != len(per_chunk) + 1 or last < first - 1:
            raise CorruptImage("corrupt video: the sample-to-chunk table is out of order")
        per_chunk.extend([samples] * (last - first + 1))
    if len(per_chunk) != chunks:
        raise CorruptImage("corrupt video: the sample-to-chunk table does not cover every chunk")
    return per_chunk


def _pcm_frame_bytes(data: Buffer, entry: Box, constant: int) -> int:
    """Bytes per sample of uncompressed QuickTime audio, whose 'stsz' counts PCM frames."""
    if constant != 1:
        return constant  # the size of a sample as it is stored
    if entry.body + 28 > entry.end:
        raise Truncated("truncated audio sample description")
    version, _, _, channels, bits = struct.unpack_from(">HH4sHH", data, entry.body + 8)
    if version == 1 and entry.body + 44 <= entry.end:
        per_packet, _, per_frame, _ = struct.unpack_from(">IIII", data, entry.body + 28)
        if per_packet == 1 and per_frame:
            return int(per_frame)
    elif version == 0 and channels and entry.type in ("ulaw", "alaw"):
        return int(channels)  # one byte a sample, whatever bit depth the description says
    elif version == 0 and channels and bits % 8 == 0:
        return int(channels * bits // 8)
    raise UnsupportedFormat("unsupported video: an uncompressed audio layout this version does not read")


def _chunks(
    offsets: list[int], per_chunk: list[int], sizes: array[int], constant: int, samples: int
) -> list[tuple[int, int]]:
    chunks: list[tuple[int, int]] = []
    used = 0
    for offset, count in zip(offsets, per_chunk, strict=True):
        if used + count > samples:
            raise CorruptImage("corrupt video: the chunks hold more samples than the size table")
        length = count * constant if constant else sum(sizes[used : used + count])
        chunks.append((offset, length))
        used += count
    if used != samples and offsets:  # no chunks at all: a track without media (header only)
        raise CorruptImage("corrupt video: samples that belong to no chunk")
    return chunks
