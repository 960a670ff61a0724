"""What a file carries besides the picture, classified into the leak classes of DESIGN.md.

A `Finding` holds the human value ("48.8584 N, 2.2945 E") for `inspect` and for the
notification shown to the user; only `Kind` names (categories) are ever stored at rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum


class Leak(Enum):
    """Leak classes, declared most sensitive first (the order used in every summary)."""

    LOCATION = "location"
    TIME = "time"
    DEVICE = "device"
    PERSON = "person"
    HIDDEN = "hidden pictures"
    APPENDED = "appended data"
    SOFTWARE = "software and history"
    FILESYSTEM = "file system"
    OTHER = "other metadata"


class Kind(Enum):
    """Finer categories; each belongs to one leak class. Values are stored in the ledger."""

    GPS = "gps"
    PLACE = "place"
    CAPTURE_TIME = "capture-time"
    TIMESTAMP = "timestamp"
    DEVICE = "device"
    SERIAL = "serial"
    MAKER_NOTES = "maker-notes"
    NAME = "name"
    FACES = "faces"
    THUMBNAIL = "thumbnail"
    SECONDARY_IMAGE = "secondary-image"
    VIDEO = "video"
    TRAILER = "trailer"
    SOFTWARE = "software"
    HISTORY = "history"
    AI_PROMPT = "ai-prompt"
    PROVENANCE = "provenance"
    TEXT = "text"
    XATTR = "xattr"
    FILENAME = "filename"
    CAMERA_SETTINGS = "camera-settings"
    OTHER = "other"

    @property
    def leak(self) -> Leak:
        return _LEAK_OF[self]


_LEAK_OF: dict[Kind, Leak] = {
    Kind.GPS: Leak.LOCATION,
    Kind.PLACE: Leak.LOCATION,
    Kind.CAPTURE_TIME: Leak.TIME,
    Kind.TIMESTAMP: Leak.TIME,
    Kind.DEVICE: Leak.DEVICE,
    Kind.SERIAL: Leak.DEVICE,
    Kind.MAKER_NOTES: Leak.DEVICE,
    Kind.NAME: Leak.PERSON,
    Kind.FACES: Leak.PERSON,
    Kind.THUMBNAIL: Leak.HIDDEN,
    Kind.SECONDARY_IMAGE: Leak.HIDDEN,
    Kind.VIDEO: Leak.APPENDED,
    Kind.TRAILER: Leak.APPENDED,
    Kind.SOFTWARE: Leak.SOFTWARE,
    Kind.HISTORY: Leak.SOFTWARE,
    Kind.AI_PROMPT: Leak.SOFTWARE,
    Kind.PROVENANCE: Leak.SOFTWARE,
    Kind.TEXT: Leak.OTHER,
    Kind.XATTR: Leak.FILESYSTEM,
    Kind.FILENAME: Leak.FILESYSTEM,
    Kind.CAMERA_SETTINGS: Leak.OTHER,
    Kind.OTHER: Leak.OTHER,
}

_MAX_VALUE = 120
# A finding keeps at most this much of its value: it is shown cut to 120 characters (400
# in JSON), and a hostile file can carry megabytes of text per chunk, thousands of times.
MAX_STORED_VALUE = 2000


def shorten(text: str, limit: int = _MAX_VALUE) -> str:
    """One printable line: control characters become spaces, long text is cut with '...'."""
    flat = "".join(ch if ch.isprintable() else " " for ch in text)
    flat = " ".join(flat.split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


@dataclass(frozen=True)
class Finding:
    """One thing a file carries: `what` it is, its `value` (may be ''), `where` it was found."""

    kind: Kind
    what: str
    value: str = ""
    where: str = ""

    @property
    def leak(self) -> Leak:
        return self.kind.leak

    def describe(self) -> str:
        text = f"{self.what} {shorten(self.value)}".strip() if self.value else self.what
        return f"{text} [{self.where}]" if self.where else text

    def as_json(self) -> dict[str, str]:
        return {
            "class": self.leak.value,
            "kind": self.kind.value,
            "what": self.what,
            "value": shorten(self.value, 400),
            "where": self.where,
        }


def stored_value(value: str) -> str:
    """The value as a finding keeps it: stripped, and cut (marked with '...') beyond
    MAX_STORED_VALUE characters, without copying or scanning the whole of a huge text."""
    value = value.lstrip()
    if len(value) > MAX_STORED_VALUE:
        return value[:MAX_STORED_VALUE].rstrip() + "..."
    return value.rstrip()


@dataclass
class Findings:
    """An ordered, de-duplicated collection of findings for one file.

    `items` keeps the order; a set alongside makes each de-duplication constant time (a
    file with 65,000 comment segments would otherwise cost 65,000^2 / 2 comparisons).
    Add findings through `add` and `extend` only, so that the two stay in step."""

    items: list[Finding] = field(default_factory=list)
    _seen: set[Finding] = field(default_factory=set, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._seen = set(self.items)

    def add(self, kind: Kind, what: str, value: str = "", where: str = "") -> None:
        self._add(Finding(kind, what, stored_value(value), where))

    def extend(self, others: Iterable[Finding]) -> None:
        for finding in others:
            self._add(finding)

    def _add(self, finding: Finding) -> None:
        if finding not in self._seen:
            self._seen.add(finding)
            self.items.append(finding)

    def __iter__(self) -> Iterator[Finding]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def kinds(self) -> set[Kind]:
        return {f.kind for f in self.items}

    def categories(self) -> list[str]:
        """Kind names, sorted by leak class: safe to store (no values)."""
        order = list(Kind)
        return [k.value for k in sorted(self.kinds(), key=order.index)]

    def by_leak(self) -> dict[Leak, list[Finding]]:
        grouped: dict[Leak, list[Finding]] = {}
        for leak in Leak:
            found = [f for f in self.items if f.leak is leak]
            if found:
                grouped[leak] = found
        return grouped

    def summary_lines(self, per_class: int = 6) -> list[str]:
        """'location: GPS position 48.8584 N, 2.2945 E [EXIF GPS]; ...' one line per class."""
        lines = []
        for leak, found in self.by_leak().items():
            parts = [f.describe() for f in found[:per_class]]
            if len(found) > per_class:
                parts.append(f"and {len(found) - per_class} more")
            lines.append(f"{leak.value}: " + "; ".join(parts))
        return lines

    def short_summary(self) -> str:
        """'location, time, device' - the leak classes present, most sensitive first."""
        return ", ".join(leak.value for leak in self.by_leak())
