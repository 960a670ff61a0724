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
from safeshare.formats.isobmff import boxes
from safeshare.formats.video_tracks import MOTION_JPEG, Track

FRAME_HEAD = 4096
JPEG_OBJECT = 0x6C  # ISO/IEC 10918-1 (JPEG) as an MPEG-4 object type
# MPEG-4 object types a kept 'mp4v' track may carry: MPEG-4 visual, MPEG-1/2 video, JPEG
# (checked frame by frame). PNG (0x6D) and the others are refused.
VISUAL_OBJECTS = frozenset({0x20, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x6A, JPEG_OBJECT})
ALLOWED = frozenset({0xC0, 0xC1, 0xC2, 0xC4, 0xDB, 0xDD, 0xE0, 0xEE})


def object_types(data: Buffer, track: Track) -> set[int]:
    """The MPEG-4 object types ('esds' objectTypeIndication) of the track's 'mp4v'/'mp4a'
    sample entries: ffmpeg stores Motion-JPEG in an MP4 as 'mp4v' with type 0x6C."""
    stsd = track.boxes.get("stsd")
    found: set[int] = set()
    for entry in boxes(data, stsd.body + 8, stsd.end) if stsd is not None else []:
        header = 86 if entry.type == "mp4v" else 36 if entry.type == "mp4a" else 0
        if header and entry.start + header < entry.end:
            for inner in boxes(data, entry.start + header, entry.end, top=True):
                if inner.type == "esds":
                    found.add(_object_type(bytes(data[inner.body : inner.end])))
    return found


def _object_type(esds: bytes) -> int:
    """objectTypeIndication of the DecoderConfigDescriptor inside an ES descriptor (-1: none)."""
    pos = 4  # version and flags
    for wanted in (3, 4):
        if pos >= len(esds) or esds[pos] != wanted:
            return -1
        pos += 1
        for _ in range(4):  # the length: up to four bytes of seven bits
            pos += 1
            if not esds[pos - 1] & 0x80:
                break
        if wanted == 3:  # ES_ID, then flags naming optional fields
            flags = esds[pos + 2] if pos + 2 < len(esds) else 0
            pos += 3 + 2 * bool(flags & 0x80) + 2 * bool(flags & 0x20)
            if flags & 0x40 and pos < len(esds):
                pos += 1 + esds[pos]
    return esds[pos] if pos < len(esds) else -1


def is_motion_jpeg(data: Buffer, track: Track) -> bool:
    return bool(set(track.codecs) & MOTION_JPEG) or JPEG_OBJECT in object_types(data, track)


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
