"""What a 'working' ledger row says about the copy at its output name, across a stop or crash.

A copy is renamed to its public name only after its row says "publishing NEW", or
"publishing NEW over OLD" when it replaces the photo's earlier copy (with " said" when the
user was told of that copy): NEW is the device, inode, size and mtime of the file being
renamed, OLD the same and the ctime of the copy it replaces. If safeshare stops or dies
before the final row, the next start finds the file at the name to be the photo's own only
if it is one of those files, unchanged (`in_place`); anything else there (a file another
program put there as the rename was refused, the user's own file, the copy edited in
place, a new file given the freed inode number) is left alone. A row rewritten meanwhile
(the file taken up again at a start, or stopped again) names the copy it found, ctime and
all, as "copy STAMP ..." after what happened to it ("interrupted once; copy STAMP said"),
and so does the working row that follows a published copy's: a stop or crash while an edit
of the photo is cleaned leaves the copy the photo's. Those files are not renamed again, so
any change to them (even one that keeps size and mtime) makes them someone else's.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

PUBLISHING = "publishing"
_COPY = "copy "
SLACK = 2.0  # seconds within which a rename follows its row


def stamp(st: os.stat_result, exact: bool = True) -> str:
    """The file's device, inode, size and mtime; `exact`: and its ctime (a file that will
    not be renamed again: any change shows)."""
    core = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
    return f"{core}:{st.st_ctime_ns}" if exact else core


def publishing(new: os.stat_result, earlier: os.stat_result | None, said: bool) -> str:
    """The reason of the row written just before `new` is renamed over `earlier` (or to a
    free name); `said`: the user was told of `earlier`."""
    reason = f"{PUBLISHING} {stamp(new, exact=False)}"
    if earlier is not None:
        reason += f" over {stamp(earlier)}" + (" said" if said else "")
    return reason


def published(output: Path, at: float) -> str:
    """The copy part naming a published copy at `output` (its row written at `at`) when it is
    still as it was then, for the working row that follows it; "" when it is not."""
    try:
        st = os.lstat(output)
    except OSError:
        return ""
    return f"{stamp(st)} said" if stat.S_ISREG(st.st_mode) and st.st_ctime <= at else ""


def split(reason: str) -> tuple[str, str]:
    """A working row's reason as (what happened to the file: "", a stop, an interruption or
    PUBLISHING; the copy it names, "" for none)."""
    if reason.startswith(f"{PUBLISHING} "):
        return PUBLISHING, reason.removeprefix(f"{PUBLISHING} ")
    happened, found, copy = reason.partition(_COPY)
    return (happened.removesuffix("; "), copy) if found else (reason, "")


def join(happened: str, copy: str) -> str:
    """The reason of a working row rewritten after `happened`, still naming `copy`."""
    if not copy:
        return happened
    return f"{happened}; {_COPY}{copy}" if happened else f"{_COPY}{copy}"


def in_place(output: Path | None, happened: str, copy: str, at: float) -> tuple[float, str] | None:
    """(Since when the file at `output` is the photo's copy, the copy part that names it
    exactly, " said" at its end if the user was told of a copy there) when it is the file
    the row names: the renamed one (within SLACK of a PUBLISHING row written at `at`), or
    the earlier copy it was to replace, each unchanged since. Else None: whatever is there
    is not the photo's."""
    words = copy.split()
    try:
        st = os.lstat(output) if output is not None and words else None
    except OSError:
        return None
    if st is None or not stat.S_ISREG(st.st_mode):
        return None
    earlier = words[2] if len(words) >= 3 and words[1] == "over" else None
    exact = stamp(st)
    renamed = happened == PUBLISHING and words[0] == stamp(st, exact=False) and st.st_ctime <= at + SLACK
    if exact in (words[0], earlier) or renamed:
        return st.st_ctime, exact + (" said" if words[-1] == "said" else "")
    return None
