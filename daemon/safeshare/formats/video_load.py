"""A movie read for cleaning without reading its media data: bounded memory, any size.

The result is an anonymous map as large as the file (pages never written take no memory)
holding every top-level box but the media data ('mdat'), then, per track, what the
report and the verifier look at: the first MiB of each dropped track's samples (what
telemetry it carries) and the first and last bytes of every kept chunk. The media data
itself is copied file to file when the output is written (binary.Span). Boxes the output
drops that are very large are read only in part: only their start is looked at.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import struct

from safeshare.errors import CorruptImage, InputError, TooLarge, Truncated, describe_os_error
from safeshare.formats.isobmff import MAX_BOXES, boxes
from safeshare.formats.video_fragments import gaps, media_runs
from safeshare.formats.video_frames import FRAME_HEAD, is_motion_jpeg, sample_starts
from safeshare.formats.video_tracks import read_tracks

MAX_MOVIE_HEADER = 256 << 20  # 'moov' or 'moof': held in memory, so bounded
DROPPED_READ = 64 << 10  # of any other large box: enough to say what it is
SCAN = 1 << 20  # of a dropped track's samples
EDGE = 16  # bytes read at each end of a kept chunk


def _read_into(fd: int, data: mmap.mmap, offset: int, length: int) -> None:
    done = 0
    while done < length:
        try:
            block = os.pread(fd, min(length - done, 1 << 24), offset + done)
        except OSError as exc:
            raise InputError(f"cannot read: {describe_os_error(exc)}") from exc
        if not block:
            raise Truncated("the file shrank while it was being read")
        data[offset + done : offset + done + len(block)] = block
        done += len(block)


def load(fd: int, size: int) -> mmap.mmap:
    data = mmap.mmap(-1, size)
    try:
        _load(fd, size, data)
    except BaseException:
        data.close()
        raise
    return data


def _load(fd: int, size: int, data: mmap.mmap) -> None:
    pos = count = 0
    while pos + 8 <= size:
        count += 1
        if count > MAX_BOXES:
            raise CorruptImage(f"more than {MAX_BOXES:,} boxes in one video")
        _read_into(fd, data, pos, min(16, size - pos))
        length, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if length == 1:
            if pos + 16 > size:
                break
            (length,), header = struct.unpack_from(">Q", data, pos + 8), 16
        elif length == 0:
            length = size - pos
        if length < header or pos + length > size:
            break  # the rest is a trailer: reported by its size, never copied
        if kind in (b"moov", b"moof"):
            if length > MAX_MOVIE_HEADER:
                limit = f"{MAX_MOVIE_HEADER:,}"
                raise TooLarge(f"a movie header of {length:,} bytes is over the limit of {limit}")
            _read_into(fd, data, pos, length)
        elif kind != b"mdat":
            _read_into(fd, data, pos, min(length, DROPPED_READ))
        pos += length
    top = boxes(data, 0, size, top=True)
    movies = [b for b in top if b.type == "moov"]
    first_moof = next((i for i, b in enumerate(top) if b.type == "moof"), len(top))
    for moov in movies[:1]:
        with contextlib.suppress(CorruptImage):  # the cleaner refuses it, and says why
            for start, length in gaps(data, moov, top[first_moof:]):
                _read_into(fd, data, start, min(length, DROPPED_READ))  # what inspect looks at
            for fragment_runs in media_runs(data, moov, top[first_moof:]).values():
                for start, length in fragment_runs:
                    _edges(fd, data, start, length, size)
        for track in read_tracks(data, moov):
            if track.kept:
                for offset, length in track.chunks:
                    _edges(fd, data, offset, length, size)
                if is_motion_jpeg(data, track):  # every frame's header is checked
                    for offset, length in sample_starts(track):
                        _read_into(fd, data, offset, max(0, min(length, FRAME_HEAD, size - offset)))
            else:
                _scan(fd, data, track.chunks, size)


def _edges(fd: int, data: mmap.mmap, offset: int, length: int, size: int) -> None:
    if offset + length > size or not length:
        return  # refused by the cleaner, which says why
    if length <= 2 * EDGE:
        _read_into(fd, data, offset, length)
    else:
        _read_into(fd, data, offset, EDGE)
        _read_into(fd, data, offset + length - EDGE, EDGE)


def _scan(fd: int, data: mmap.mmap, chunks: list[tuple[int, int]], size: int) -> None:
    budget = SCAN
    for offset, length in chunks:
        if budget <= 0:
            return
        take = min(length, budget, max(0, size - offset))
        if take:
            _read_into(fd, data, offset, take)
            budget -= take
