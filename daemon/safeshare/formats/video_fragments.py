"""Where the samples of a movie fragment lie: 'tfhd' and 'trun' of each 'traf', read as
ISO 14496-12 says (base data offsets, default-base-is-moof, runs following one another,
sample sizes per sample, per fragment or per track ('trex')).

The cleaner copies a fragment's media data as those runs, with any byte no run uses set to
zero: a fragment's 'mdat' cannot hide data after its samples.
"""

from __future__ import annotations

import struct

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage
from safeshare.formats.isobmff import Box
from safeshare.formats.video_tracks import MAX_SAMPLES, children

BASE_OFFSET, DEFAULT_SIZE, FROM_MOOF = 0x01, 0x10, 0x020000
TFHD_FIELDS = ((0x01, 8), (0x02, 4), (0x08, 4), (0x10, 4), (0x20, 4))  # flag, field bytes
DATA_OFFSET, FIRST_FLAGS = 0x001, 0x004
SAMPLE_FIELDS = (0x100, 0x200, 0x400, 0x800)  # duration, size, flags, composition offset


def track_defaults(data: Buffer, mvex: Box | None) -> dict[int, int]:
    """Default sample size of each track ('trex')."""
    found = {}
    for trex in children(data, mvex) if mvex is not None else []:
        if trex.type == "trex" and trex.body + 24 <= trex.end:
            track_id, _, _, size = struct.unpack_from(">IIII", data, trex.body + 4)
            found[int(track_id)] = int(size)
    return found


def runs(data: Buffer, moof: Box, defaults: dict[int, int]) -> list[tuple[int, int]]:
    """(offset, length) of every run of samples the fragment describes, in the file."""
    found: list[tuple[int, int]] = []
    previous_end = moof.start
    for traf in (b for b in children(data, moof) if b.type == "traf"):
        inner = children(data, traf)
        tfhd = next((b for b in inner if b.type == "tfhd"), None)
        if tfhd is None or tfhd.body + 8 > tfhd.end:
            raise CorruptImage("corrupt video: a track fragment without its header")
        flags, track_id = struct.unpack_from(">II", data, tfhd.body)
        flags &= 0xFFFFFF
        base = moof.start if flags & FROM_MOOF or not found else previous_end
        default_size, pos = defaults.get(int(track_id), 0), tfhd.body + 8
        for flag, width in TFHD_FIELDS:
            if flags & flag:
                if pos + width > tfhd.end:
                    raise CorruptImage("corrupt video: a track fragment header shorter than its fields")
                if flag == BASE_OFFSET:
                    (base,) = struct.unpack_from(">Q", data, pos)
                elif flag == DEFAULT_SIZE:
                    (default_size,) = struct.unpack_from(">I", data, pos)
                pos += width
        end = base
        for trun in (b for b in inner if b.type == "trun"):
            start, length = _run(data, trun, base, end, default_size)
            found.append((start, length))
            end = start + length
        previous_end = end
    return found


def _run(data: Buffer, trun: Box, base: int, follows: int, default_size: int) -> tuple[int, int]:
    if trun.body + 8 > trun.end:
        raise CorruptImage("corrupt video: a track run shorter than its fields")
    flags, count = struct.unpack_from(">II", data, trun.body)
    flags &= 0xFFFFFF
    if count > MAX_SAMPLES:
        raise CorruptImage("corrupt video: a track run with too many samples")
    pos, start = trun.body + 8, follows
    if flags & DATA_OFFSET:
        start, pos = base + struct.unpack_from(">i", data, pos)[0], pos + 4
    if flags & FIRST_FLAGS:
        pos += 4
    fields = [flag for flag in SAMPLE_FIELDS if flags & flag]
    if pos + 4 * len(fields) * count > trun.end:
        raise CorruptImage("corrupt video: a track run shorter than its samples")
    if 0x200 not in fields:
        return start, count * default_size
    values = struct.unpack_from(f">{len(fields) * count}I", data, pos)
    at = fields.index(0x200)
    return start, sum(values[at :: len(fields)])


def until_next_moof(rest: list[Box]) -> list[Box]:
    end = next((i for i, b in enumerate(rest) if b.type == "moof"), len(rest))
    return rest[:end]


def media_runs(data: Buffer, moov: Box, fragments: list[Box]) -> dict[int, list[tuple[int, int]]]:
    """The sample runs of each fragment's media data box (keyed by its start), each checked
    to lie in a media data box between its 'moof' and the next."""
    mvex = next((b for b in children(data, moov) if b.type == "mvex"), None)
    defaults = track_defaults(data, mvex)
    found: dict[int, list[tuple[int, int]]] = {}
    for i, moof in enumerate(fragments):
        if moof.type != "moof":
            continue
        media = [b for b in until_next_moof(fragments[i + 1 :]) if b.type == "mdat"]
        for start, length in runs(data, moof, defaults):
            home = next((b for b in media if b.body <= start and start + length <= b.end), None)
            if home is None:
                raise CorruptImage("corrupt video: a fragment's samples lie outside its media data")
            found.setdefault(home.start, []).append((start, length))
    return found


def gaps(data: Buffer, moov: Box, fragments: list[Box]) -> list[tuple[int, int]]:
    """The bytes of the fragments' media data boxes that no sample run uses."""
    used = media_runs(data, moov, fragments)
    found = []
    for mdat in (b for b in fragments if b.type == "mdat"):
        position = mdat.body
        for start, length in sorted(used.get(mdat.start, [])):
            if start > position:
                found.append((position, start - position))
            position = max(position, start + length)
        if mdat.end > position:
            found.append((position, mdat.end - position))
    return found
