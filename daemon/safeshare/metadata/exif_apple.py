"""What an iPhone's maker note says about which other files belong with a photo.

Apple's maker note ("Apple iOS", then a big-endian IFD whose offsets count from the note's
start) holds ids that pair a photo with other files: MediaGroupUUID (tag 0x11) is the Live
Photo pairing identifier (the same id as the MOV half's content.identifier key), BurstUUID
(0x0B) ties the photos of a burst, ImageUniqueID (0x15) names this one. The whole maker note
is dropped with the EXIF; these ids are reported so the user is told the pairing is gone.
Read leniently: a note that does not parse says nothing more than "maker notes".
"""

from __future__ import annotations

import struct

from safeshare.findings import Findings, Kind

HEADER = b"Apple iOS\0"
IDS = {
    0x11: "Live Photo pairing identifier",
    0x0B: "burst identifier",
    0x15: "image unique ID",
}
MAX_ENTRIES = 512


def apple_ids(note: bytes, found: Findings, where: str) -> None:
    if not note.startswith(HEADER) or len(note) < 16 or note[12:14] != b"MM":
        return
    (count,) = struct.unpack_from(">H", note, 14)
    for i in range(min(count, MAX_ENTRIES)):
        at = 16 + 12 * i
        if at + 12 > len(note):
            return
        tag, kind, length, value = struct.unpack_from(">HHII", note, at)
        if tag not in IDS or kind != 2:  # ASCII
            continue
        raw = note[at + 8 : at + 8 + length] if length <= 4 else note[value : value + length]
        text = raw.split(b"\0")[0].decode("ascii", "replace").strip()
        if text:
            found.add(Kind.SERIAL, IDS[tag], text, where)
