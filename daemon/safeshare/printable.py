"""Untrusted text (file names, metadata) as one line that shows what it holds.

A file name may hold newlines, terminal escape sequences, bidi overrides, invisible padding
or bytes that are not UTF-8 (which Python decodes with surrogateescape). Shown raw, such a
name adds a line to a notification ("spoof.jpg\\nRemoved: nothing. This photo is safe"),
moves a terminal's cursor or rings its bell, makes the rest of a line read backwards
("\\u202egpj.exe"), or cannot be sent at all (a D-Bus string must be UTF-8). `printable`
shows each such character as a Python-style escape instead: `\\n`, `\\x1b`, `\\u202e`, and a
byte that is not UTF-8 as `\\xff`. What it returns is ordinary visible text: one line in a
terminal, a log, a notification. Backslashes are kept as they are (Windows paths), so an
escape cannot be told from the same characters typed into a name; it never matters for
safety, as both are shown as the same harmless characters.
"""

from __future__ import annotations

import unicodedata

# Control, format (bidi overrides and isolates, zero-width characters, soft hyphen, tags),
# surrogate (undecodable bytes), line and paragraph separators, and unassigned code points.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp", "Cn"})
# Letters and marks that Unicode calls printable but that show as nothing: padding made of
# them could push text onto a line of its own.
_INVISIBLE = frozenset(
    "\u034f"  # combining grapheme joiner
    "\u115f\u1160\u3164\uffa0"  # Hangul fillers
    "\u17b4\u17b5"  # Khmer inherent vowels
    "\u2800"  # braille pattern blank
    "\U0001d159"  # musical symbol null notehead
)
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
MAX_SPACES = 3  # in a row; a longer run is padding that could push text onto its own line
MAX_MARKS = 4  # combining marks on one letter; more stack up over the lines around it


def escape(ch: str) -> str:
    """One character as its escape: '\\n', '\\x1b', '\\u202e', '\\U000e0041'; a byte that
    was not UTF-8 (surrogateescape's U+DC80..U+DCFF) as that byte, '\\xff'."""
    if ch in _NAMED:
        return _NAMED[ch]
    code = ord(ch)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str, limit: int | None = None, mark: str = "...", keep: str = "") -> str:
    """`text` with every character that could hide, break or add a line shown escaped.

    `limit` cuts the result to at most that many characters, ending with `mark`, never
    inside an escape. The characters in `keep` (e.g. "\\n" for a notification's body,
    whose lines are its own) are left as they are."""
    pieces: list[str] = []
    spaces = marks = 0
    for ch in text:
        if ch in keep:
            pieces.append(ch)
            spaces = marks = 0
            continue
        category = unicodedata.category(ch)
        mark_on_blank = category in ("Mn", "Me") and spaces > 0  # a variation selector on a space
        spaces = spaces + 1 if category == "Zs" else spaces if mark_on_blank else 0
        marks = marks + 1 if category in ("Mn", "Me") else 0
        hidden = category in _HIDDEN_CATEGORIES or ch in _INVISIBLE or mark_on_blank
        pieces.append(escape(ch) if hidden or spaces > MAX_SPACES or marks > MAX_MARKS else ch)
    if limit is None or sum(map(len, pieces)) <= limit:
        return "".join(pieces)
    room, kept = limit - len(mark), []
    for piece in pieces:
        if len(piece) > room:
            break
        kept.append(piece)
        room -= len(piece)
    return ("".join(kept).rstrip() + mark)[:limit]
