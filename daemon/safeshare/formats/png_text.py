"""What PNG text chunks (tEXt, zTXt, iTXt) carry: tool names, AI prompts, EXIF, XMP."""

from __future__ import annotations

from dataclasses import dataclass

from safeshare.findings import Findings, Kind
from safeshare.metadata import exif, xmp
from safeshare.metadata.embedded import human_size
from safeshare.metadata.inflate import InflateBudget

# One compressed chunk inflates to at most this; all of a file's chunks together, to at
# most its InflateBudget. Past the budget, compressed chunks are reported, not read.
MAX_TEXT = 16 << 20
NOT_READ = "compressed text (not read: over the size budget)"
MAX_KEYWORD = 79  # the longest keyword the PNG specification allows

# Keywords written by image generators (AUTOMATIC1111, ComfyUI, InvokeAI, NovelAI...).
AI_KEYWORDS = {
    "parameters",
    "prompt",
    "workflow",
    "dream",
    "sd-metadata",
    "invokeai_metadata",
    "invokeai_graph",
    "generation_data",
    "negative_prompt",
    "aigc",
}
KEYWORDS: dict[str, tuple[Kind, str]] = {
    "software": (Kind.SOFTWARE, "software"),
    "author": (Kind.NAME, "author"),
    "copyright": (Kind.NAME, "copyright"),
    "creation time": (Kind.TIMESTAMP, "created"),
    "date:create": (Kind.TIMESTAMP, "created"),
    "date:modify": (Kind.TIMESTAMP, "modified"),
    "date:timestamp": (Kind.TIMESTAMP, "timestamp"),
    "source": (Kind.DEVICE, "source device"),
    "title": (Kind.TEXT, "title"),
    "description": (Kind.TEXT, "description"),
    "comment": (Kind.TEXT, "comment"),
    "disclaimer": (Kind.TEXT, "disclaimer"),
    "warning": (Kind.TEXT, "warning"),
}


@dataclass
class TextResult:
    exif_blob: bytes | None = None
    xmp_orientation: int | None = None


def read_text_chunk(kind: bytes, body: bytes, found: Findings, budget: InflateBudget) -> TextResult:
    """Findings of one text chunk; compressed text is inflated within the file's `budget`."""
    where = f"PNG {kind.decode('ascii')}"
    result = TextResult()
    if budget.spent and _compressed(kind, body):
        keyword = _label(body.partition(b"\0")[0].decode("latin-1"))
        found.add(Kind.OTHER, NOT_READ, f"'{keyword}', {human_size(len(body))}", where)
        return result
    decoded = _decode(kind, body, budget)
    if decoded is None:
        found.add(Kind.OTHER, "unreadable text chunk", human_size(len(body)), where)
        return result
    keyword, text = decoded
    label = _label(keyword)
    key = keyword.lower()
    if keyword == "XML:com.adobe.xmp" or key == "raw profile type xmp":
        packet = _profile_bytes(text) if key.startswith("raw") else text.encode()
        report = xmp.read_xmp(packet, max_elements=budget.xmp_elements)
        budget.xmp_elements = max(0, budget.xmp_elements - report.elements)
        found.extend(report.findings)
        result.xmp_orientation = report.orientation
    elif key in ("raw profile type exif", "raw profile type app1", "exif"):
        # Pillow also reads a plain 'exif' text chunk holding the raw EXIF bytes.
        blob = text.encode("latin-1", "replace") if key == "exif" else _profile_bytes(text)
        found.extend(exif.read_exif(blob, f"{where} EXIF").findings)
        result.exif_blob = blob
    elif key == "raw profile type iptc":
        found.extend(exif.read_photoshop(_profile_bytes(text), f"{where} IPTC"))
    elif key == "raw profile type 8bim":
        found.extend(exif.read_photoshop(_profile_bytes(text), where))
    elif key in AI_KEYWORDS or (key == "comment" and text.lstrip().startswith("{")):
        found.add(Kind.AI_PROMPT, f"image-generator data '{label}'", text, where)
    elif key in KEYWORDS:
        what_kind, what = KEYWORDS[key]
        found.add(what_kind, what, text, where)
    elif key.startswith("exif:gps"):
        found.add(Kind.GPS, "GPS data in text", f"{label}={text}", where)
    elif key.startswith("exif:"):
        found.add(Kind.CAMERA_SETTINGS, "camera settings in text", label, where)
    else:
        found.add(Kind.OTHER, f"text '{label}'", text, where)
    return result


def _label(keyword: str) -> str:
    """The keyword as shown: a hostile one can be megabytes long (the limit is 79)."""
    return keyword if len(keyword) <= MAX_KEYWORD else keyword[:MAX_KEYWORD] + "..."


def _compressed(kind: bytes, body: bytes) -> bool:
    """zTXt, or iTXt with its compression flag set: reading it means inflating."""
    if kind == b"zTXt":
        return True
    _, sep, rest = body.partition(b"\0")
    return kind == b"iTXt" and bool(sep) and rest[:1] not in (b"", b"\0")


def _decode(kind: bytes, body: bytes, budget: InflateBudget) -> tuple[str, str] | None:
    keyword, sep, rest = body.partition(b"\0")
    if not sep or not keyword:
        return None
    name = keyword.decode("latin-1")
    if kind == b"tEXt":
        return name, rest.decode("latin-1")
    if kind == b"zTXt":
        raw = _inflate(rest[1:], budget) if rest[:1] == b"\0" else None
        return None if raw is None else (name, raw.decode("latin-1"))
    # iTXt: compression flag, method, language tag \0, translated keyword \0, UTF-8 text
    if len(rest) < 2:
        return None
    compressed, text_part = rest[0], rest[2:]
    parts = text_part.split(b"\0", 2)
    if len(parts) != 3:
        return None
    raw = _inflate(parts[2], budget) if compressed else parts[2]
    return None if raw is None else (name, raw.decode("utf-8", "replace"))


def _inflate(data: bytes, budget: InflateBudget) -> bytes | None:
    """The text as far as it inflates within MAX_TEXT and the budget (a cut text is still
    read, as far as it goes); None when it is not zlib data."""
    inflated = budget.inflate(data, MAX_TEXT)
    return None if inflated is None else inflated.data


def _profile_bytes(text: str) -> bytes:
    """ImageMagick 'Raw profile type X': '\\nX\\n   <length>\\n<hex lines>'."""
    lines = text.strip().split("\n")
    hex_digits = "".join(line.strip() for line in lines[2:])
    try:
        return bytes.fromhex(hex_digits)
    except ValueError:
        return b""
