"""The data blocks of an ICC profile's colour tags, checked against the type each tag needs
and cut to the length that type defines.

A tag's size in the tag table can be larger than its data: the bytes after the data are
read by nobody, so any text fits there. Each colour tag with a type whose length follows
from its content (XYZ values, curves, signatures, measurement and viewing conditions,
chromaticities, the cicp code points) is cut to that length, and its 4 reserved bytes are
zeroed. A tag whose type is not one the tag can have (text in 'ciis' or 'meas') is no
colour data: it is dropped. Colorant names in 'clrt'/'clot' are blanked (no transform
reads them).

The LUT types (mft1, mft2, mAB, mBA, mpet) are kept as they are, apart from the reserved
bytes: their length follows from channel counts, grid sizes and a chain of internal offsets,
and cutting them wrongly would change colours. Padding inside them, and after their last
element, can still hold a few bytes; that is a known limit.
"""

from __future__ import annotations

import struct

XYZ_TAGS = {b"wtpt", b"bkpt", b"rXYZ", b"gXYZ", b"bXYZ", b"lumi"}
TRC_TAGS = {b"rTRC", b"gTRC", b"bTRC", b"kTRC"}
SIGNATURE_TAGS = {b"ciis", b"tech", b"rig0"}
LUT_TAGS = {
    b"A2B0", b"A2B1", b"A2B2", b"A2B3", b"B2A0", b"B2A1", b"B2A2", b"B2A3", b"D2B0", b"D2B1",
    b"D2B2", b"D2B3", b"B2D0", b"B2D1", b"B2D2", b"B2D3", b"gamt", b"pre0", b"pre1", b"pre2",
}  # fmt: skip
LUT_TYPES = {b"mft1", b"mft2", b"mAB ", b"mBA ", b"mpet"}
# The type each tag needs, for the tags not in the groups above.
SINGLE_TYPE = {
    b"chad": b"sf32",
    b"chrm": b"chrm",
    b"cicp": b"cicp",
    b"meas": b"meas",
    b"view": b"view",
    b"clrt": b"clrt",
    b"clot": b"clrt",
    b"clro": b"clro",
}
PARAMETERS = {0: 1, 1: 3, 2: 4, 3: 5, 4: 7}  # parametricCurveType: function type -> count
FIXED_SIZE = {b"XYZ ": 20, b"sf32": 44, b"sig ": 12, b"meas": 36, b"view": 36, b"cicp": 12}
COLORANT = 38  # colorantTableType entry: a 32-byte name and three uint16 PCS values


def allowed_types(sig: bytes) -> set[bytes]:
    """The tag types a colour tag can have."""
    if sig in XYZ_TAGS:
        return {b"XYZ "}
    if sig in TRC_TAGS:
        return {b"curv", b"para"}
    if sig in SIGNATURE_TAGS:
        return {b"sig "}
    if sig in LUT_TAGS:
        return LUT_TYPES
    return {SINGLE_TYPE[sig]} if sig in SINGLE_TYPE else set()


def trim_tag(sig: bytes, block: bytes) -> bytes | None:
    """The tag's data cut to the length its type defines, reserved bytes zeroed; None when
    its type is not one the tag can have, or the block is too short for its own content."""
    kind = block[:4]
    if kind not in allowed_types(sig):
        return None
    length = _length(kind, block)
    if length is None or length > len(block):
        return None
    out = bytearray(block[:length])
    out[4:8] = bytes(4)
    if kind == b"para":
        out[10:12] = bytes(2)  # reserved after the function type
    if kind == b"clrt":
        for start in range(12, length, COLORANT):
            out[start : start + 32] = bytes(32)
    return bytes(out)


def _length(kind: bytes, block: bytes) -> int | None:
    """The length a block of this type needs, from its content; None when unreadable."""
    if kind in FIXED_SIZE:
        return FIXED_SIZE[kind]
    if kind in LUT_TYPES:
        return len(block)
    if len(block) < 12:
        return None
    if kind == b"curv":
        return 12 + 2 * int(struct.unpack_from(">I", block, 8)[0])
    if kind == b"para":
        function = struct.unpack_from(">H", block, 8)[0]
        return 12 + 4 * PARAMETERS[function] if function in PARAMETERS else None
    if kind == b"chrm":
        return 12 + 8 * int(struct.unpack_from(">H", block, 8)[0])
    if kind == b"clrt":
        return 12 + COLORANT * int(struct.unpack_from(">I", block, 8)[0])
    if kind == b"clro":
        return 12 + int(struct.unpack_from(">I", block, 8)[0])
    return None


def hidden_bytes(block: bytes, trimmed: bytes) -> bool:
    """Whether cutting the block removed anything but zeros (text planted as padding)."""
    if any(block[len(trimmed) :]):
        return True
    if block.startswith(trimmed):
        return False  # the usual case, told without a Python loop over every byte
    return any(a != b and a for a, b in zip(block, trimmed, strict=False))
