"""Thunar's custom actions live in one file, `uca.xml`, that also holds the user's own.

Installing parses it, drops any earlier action of safeshare's (by its unique-id), appends
the current one and gives the whole file back; uninstalling removes only that action.
A file that cannot be parsed is refused, never overwritten. Comments are kept.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from safeshare.service_plan import ServiceError

UNIQUE_ID = "safeshare-clean-copy"
SYSTEM_UCA = Path("/etc/xdg/Thunar/uca.xml")  # Thunar's defaults, hidden by a user file


def load(path: Path, system: Path = SYSTEM_UCA) -> ET.Element:
    """The user's actions; without a user file, Thunar's defaults (so none is hidden)."""
    source = path if path.exists() else system if system.is_file() else None
    if source is None:
        return ET.Element("actions")
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    try:
        root = ET.parse(source, parser).getroot()
    except ET.ParseError as exc:
        raise ServiceError(f"cannot change {source}: it is not valid XML ({exc}); fix or move it") from None
    except OSError as exc:
        raise ServiceError(f"cannot read {source}: {exc.strerror}") from None
    if root.tag != "actions":
        raise ServiceError(f"cannot change {source}: its root element is <{root.tag}>, not <actions>")
    return root


def ours(root: ET.Element) -> list[ET.Element]:
    return [a for a in root.findall("action") if (a.findtext("unique-id") or "").strip() == UNIQUE_ID]


def without_ours(root: ET.Element) -> ET.Element:
    for action in ours(root):
        root.remove(action)
    return root


def with_ours(root: ET.Element, action: ET.Element) -> ET.Element:
    without_ours(root)
    children = list(root)
    if children:
        children[-1].tail = "\n"
    else:
        root.text = "\n"
    action.tail = "\n"
    root.append(action)
    return root


def dumps(root: ET.Element) -> bytes:
    body = ET.tostring(root, encoding="unicode")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n").encode("utf-8")


def same(one: bytes, other: bytes) -> bool:
    """The same actions, whatever the whitespace between elements."""
    return ET.canonicalize(one.decode(), strip_text=True) == ET.canonicalize(other.decode(), strip_text=True)
