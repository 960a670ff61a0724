"""What the file system says about an input: extended attributes and a revealing name.

Outputs never carry either: they are written fresh (never copied with their attributes)
and can be given neutral names.
"""

from __future__ import annotations

import os
from pathlib import Path

from safeshare.findings import Findings, Kind
from safeshare.naming import revealing_parts

# Attributes whose value is itself the leak worth showing (download and referrer URLs).
_SHOW_VALUE = {"user.xdg.origin.url", "user.xdg.referrer.url"}
_MAX_VALUE = 2048


def xattr_findings(path: Path, found: Findings, follow_symlinks: bool = True) -> None:
    """Names (and URL values) of the extended attributes on `path`, where the OS has them."""
    if not hasattr(os, "listxattr"):
        return
    try:
        names = os.listxattr(path, follow_symlinks=follow_symlinks)
    except OSError:
        return  # no xattr support on this file system: nothing to report
    for name in names:
        value = ""
        if name in _SHOW_VALUE:
            try:
                raw = os.getxattr(path, name, follow_symlinks=follow_symlinks)[:_MAX_VALUE]
                value = raw.decode("utf-8", "replace")
            except OSError:
                value = ""
        label = "download address" if name == "user.xdg.origin.url" else "extended attribute"
        found.add(Kind.XATTR, label, f"{name} {value}".strip(), "file system")


def name_findings(name: str, found: Findings) -> None:
    reasons = revealing_parts(name)
    if reasons:
        found.add(Kind.FILENAME, "file name contains", ", ".join(reasons), "file name")
