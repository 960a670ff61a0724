"""The two text tags an ICC profile must have: its description ('desc') and copyright ('cprt').

Both are free text, and a profile made on a device or exported by an editor can name the
device, its owner or anything at all ("Jane Doe's iPhone 2023-05-06", "Color LCD": a
calibrated Apple display). No colour management reads them. Each is written fresh, in the
tag type the profile version needs (textDescriptionType 'desc' and textType 'text' for v2,
one en-US record of multiLocalizedUnicodeType 'mluc' for v4), so nothing hidden in the
Unicode, ScriptCode or other-language parts survives:

- the description keeps its text only when it is the exact description (any letter case)
  of a well-known standard profile (STANDARD_DESCRIPTIONS); anything else becomes the
  neutral "Colour profile" and the old text is reported (Kind.OTHER, "colour profile
  description": it often names a display or device, and sometimes a person, which safeshare
  cannot tell apart);
- the copyright keeps its text only when it is the notice of a standard profile (an exact
  string, or a vendor notice that differs only by its year); anything else becomes an empty
  text and the old one is reported (Kind.NAME, "colour profile copyright": it names whoever
  made the profile). Safeshare does not claim or waive a copyright: an empty notice claims
  nothing, where an invented one ("No copyright, use freely") would.
"""

from __future__ import annotations

import re
import struct

NEUTRAL_DESCRIPTION = "Colour profile"
NEUTRAL_COPYRIGHT = ""
STANDARD_DESCRIPTIONS = frozenset(
    s.casefold()
    for s in (
        NEUTRAL_DESCRIPTION, "sRGB", "sRGB IEC61966-2.1", "sRGB IEC61966-2-1", "sRGB built-in",
        "sRGB IEC61966-2-1 black scaled", "sRGB IEC61966-2.1 (Equivalent to www.srgb.com 1998 HP profile)",
        "sRGB2014", "sRGB v4 ICC preference", "sRGB v4 ICC preference perceptual intent beta",
        "Display P3", "Display P3 D65", "P3 D65", "DCI-P3", "DCI(P3) RGB", "DCI-P3 D65",
        "Adobe RGB (1998)", "Adobe RGB", "ProPhoto RGB", "ROMM", "ROMM RGB", "ROMM-RGB",
        "ColorMatch RGB", "Apple RGB", "Generic RGB Profile", "Apple Generic RGB",
        "Generic Gray Profile", "Generic Gray Gamma 2.2 Profile", "Gray Gamma 2.2", "Gray Gamma 1.8",
        "Dot Gain 10%", "Dot Gain 15%", "Dot Gain 20%", "Dot Gain 25%", "Dot Gain 30%", "sGray",
        "Generic CMYK Profile", "U.S. Web Coated (SWOP) v2", "Coated FOGRA39 (ISO 12647-2:2004)",
        "Japan Color 2001 Coated", "BT.2020", "ITU-R BT.2020", "Rec. ITU-R BT.2020-1", "Rec2020",
        "Rec. 2020", "BT.709", "ITU-R BT.709", "Rec. ITU-R BT.709-5", "Rec. 709", "Linear sRGB",
        "Linear Rec. 2020", "Display P3 PQ", "Rec. ITU-R BT.2100 PQ", "Rec. ITU-R BT.2100 HLG",
        "Apple Wide Color Sharing Profile", "Wide Gamut RGB", "ECI-RGB.V1.0", "eciRGB v2",
        "Gray built-in", "Lab identity built-in", "XYZ identity built-in", "Lab built-in",
    )
)  # fmt: skip
STANDARD_COPYRIGHTS = frozenset(
    s.casefold()
    for s in (
        NEUTRAL_COPYRIGHT, "Copyright (c) 1998 Hewlett-Packard Company", "No copyright, use freely",
        "Public Domain", "CC0", "Copyright International Color Consortium",
        "Copyright 2007 Apple Inc., all rights reserved.",
        "Copyright 1999 Adobe Systems Incorporated", "Copyright 2000 Adobe Systems Incorporated",
        "Copyright (c) 1999 Adobe Systems Incorporated. All Rights Reserved.",
        "Copyright 2003 Apple Computer Inc., all rights reserved.", "Copyright Kodak",
    )
)  # fmt: skip
# Vendor notices that differ only by their year: a year says nothing about the person.
STANDARD_COPYRIGHT_PATTERNS = (
    re.compile(r"copyright apple,? inc\.?,? (19|20)\d\d", re.IGNORECASE),
    re.compile(r"copyright \(c\) (19|20)\d\d google inc\.?", re.IGNORECASE),
    re.compile(r"copyright (19|20)\d\d apple inc\.?, all rights reserved\.", re.IGNORECASE),
    re.compile(r"copyright international color consortium,? (19|20)\d\d", re.IGNORECASE),
)


def read_texts(block: bytes) -> list[str]:
    """The strings a text tag holds: the ASCII text of 'desc' or 'text', every record of
    'mluc'; [] when the block is no text type."""
    if block[:4] == b"desc" and len(block) >= 12:
        length = struct.unpack_from(">I", block, 8)[0]
        return [_clean(block[12 : 12 + length].decode("latin-1"))]
    if block[:4] == b"text":
        return [_clean(block[8:].decode("latin-1"))]
    if block[:4] != b"mluc" or len(block) < 16:
        return []
    count, record = struct.unpack_from(">II", block, 8)
    texts = []
    for i in range(min(count, 64)):
        at = 16 + i * max(record, 12)
        if at + 12 > len(block):
            break
        length, start = struct.unpack_from(">II", block, at + 4)
        texts.append(_clean(block[start : start + length].decode("utf-16-be", "replace")))
    return texts


def _clean(text: str) -> str:
    return text.split("\0")[0].strip()


def is_standard(sig: bytes, text: str) -> bool:
    """Whether the text is a standard profile's description or copyright notice."""
    folded = text.casefold()
    if sig == b"desc":
        return folded in STANDARD_DESCRIPTIONS
    return folded in STANDARD_COPYRIGHTS or any(p.fullmatch(text) for p in STANDARD_COPYRIGHT_PATTERNS)


def clean_text(sig: bytes, block: bytes, version: int) -> tuple[bytes, str | None]:
    """The fresh tag, and the old text when it was replaced (None when it was kept)."""
    texts = read_texts(block)
    if texts and all(is_standard(sig, t) for t in texts):
        return text_tag(sig, texts[0], version), None
    neutral = NEUTRAL_DESCRIPTION if sig == b"desc" else NEUTRAL_COPYRIGHT
    old = next((t for t in texts if not is_standard(sig, t)), "")
    if not texts:
        old = f"not a text ({len(block)} bytes)"
    return text_tag(sig, neutral, version), old or None


def text_tag(sig: bytes, text: str, version: int) -> bytes:
    """A text tag in the type the profile version (major number) needs."""
    if version >= 4:
        utf16 = text.encode("utf-16-be")
        return b"mluc\0\0\0\0" + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(utf16), 28) + utf16
    ascii_text = text.encode("ascii", "replace") + b"\0"
    if sig == b"cprt":
        return b"text\0\0\0\0" + ascii_text
    # textDescriptionType: the ASCII count and text, no Unicode (language 0, count 0), no
    # ScriptCode (code 0, count 0) and its 67 reserved bytes.
    return b"desc\0\0\0\0" + struct.pack(">I", len(ascii_text)) + ascii_text + bytes(4 + 4 + 2 + 1 + 67)
