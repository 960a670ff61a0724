"""Motion-JPEG frames: each one is a JPEG picture, and a JPEG can carry its own EXIF.

Old cameras and some apps store video as one JPEG per frame ('jpeg', 'mjpa', 'mjpb'...).
The frames are copied byte for byte like any media data, so a frame holding an APP1 EXIF
segment (location, camera, serial) or a comment would publish it. Every frame's header is
read (its first FRAME_HEAD bytes) up to the start of its image data: a segment other than
the quantisation and Huffman tables, the frame header, restart interval, JFIF/AVI1 (APP0)
and Adobe (APP14) refuses the file, as does a header the window cannot see to its end.
"""

from __future__ import annotations

from collections.abc import Iterator

from safeshare.binary import Buffer
from safeshare.formats.video_tracks import Track

FRAME_HEAD = 4096
ALLOWED = frozenset({0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xE0, 0xEE})


def sample_starts(track: Track) -> Iterator[tuple[int, int]]:
    """(offset, size) of every sample of `track`, in order."""
    index = 0
    for (offset, _), count in zip(track.chunks, track.per_chunk, strict=False):
        for _ in range(count):
            size = track.constant or track.sizes[index]
            yield offset, size
            offset += size
            index += 1


def frame_problem(data: Buffer, track: Track) -> str | None:
    """Why the Motion-JPEG frames of `track` cannot be copied as they are, or None."""
    for offset, size in sample_starts(track):
        head = bytes(data[offset : offset + min(size, FRAME_HEAD)])
        problem = _header_problem(head)
        if problem:
            return problem
    return None


def _header_problem(head: bytes) -> str | None:
    if head[:2] != b"\xff\xd8":
        return "a Motion-JPEG frame that does not start as a JPEG"
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return "a Motion-JPEG frame whose header is not understood"
        marker = head[pos + 1]
        if marker == 0xDA:
            return None  # the image data: nothing but the picture follows
        if marker not in ALLOWED:
            return "Motion-JPEG frames that carry their own metadata (EXIF, comments)"
        pos += 2 + int.from_bytes(head[pos + 2 : pos + 4], "big")
    return "a Motion-JPEG frame whose header is longer than safeshare checks"
