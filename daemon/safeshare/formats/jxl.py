"""JPEG XL: keep the codestream byte for byte, rebuild the container around it.

A bare codestream (FF 0A) holds no metadata boxes and is copied as it is. A container
(ISOBMFF-style boxes) is rebuilt from the signature box, a fresh 'ftyp', the 'jxll' level
box and the codestream: the payloads of 'jxlc', or of the 'jxlp' parts in order, written as
one 'jxlc' box (the same codestream bytes; decoders read both forms alike). Everything else
is dropped: 'Exif', 'xml ' (XMP), 'jumb' (JUMBF, C2PA), 'jbrd' (JPEG reconstruction data,
which keeps the original JPEG's APP and COM segments), 'brob' (any Brotli-compressed box),
and unknown boxes, each reported. A 'brob' holding EXIF or XMP (cjxl stores a JPEG's that
way) is decompressed, at most MAX_INFLATED bytes for the whole file, and read like an
uncompressed box, when the `brotli` module (1.2 or later, for its bounded output) is
installed; otherwise it is reported as removed unread, saying what it may hold. 'jxli' (a
frame index) is dropped without a finding: it only lists offsets into the codestream,
decoders do not need it, and it carries no values.

Orientation and the colour profile live inside the codestream headers and are kept with it;
the EXIF Orientation tag is ignored by JPEG XL decoders, so the output needs no EXIF.
Pillow cannot read JPEG XL: `reread` walks the output on its own and checks that its
codestream is the one `clean` kept (a digest in `Cleaned.reference`).
"""

from __future__ import annotations

import hashlib
import importlib
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field

from safeshare.binary import Buffer, Part, u32be, unpack, view
from safeshare.errors import CorruptImage, Truncated
from safeshare.findings import Findings, Kind
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.metadata import exif, xmp
from safeshare.metadata.embedded import human_size

SIGNATURE = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
FTYP = b"\x00\x00\x00\x14ftypjxl \x00\x00\x00\x00jxl "
CODESTREAM = b"\xff\x0a"
MAX_BOXES = 10_000  # real files have fewer than ten; jxlp streams a few hundred at most
WHERE = "JPEG XL"
MAX_INFLATED = 16 << 20  # bytes of Brotli-compressed metadata decompressed, per file
_INFLATE_STEP = 1 << 20  # output asked of the decompressor at a time
_UNREAD = {  # what compressed metadata may hold, said when it cannot be read
    b"Exif": "compressed EXIF (not read: may hold location, camera, time)",
    b"xml ": "compressed XMP (not read: may hold location, names, time)",
}
_BROTLI_INNER = {
    **{inner: (Kind.OTHER, what) for inner, what in _UNREAD.items()},
    b"jumb": (Kind.PROVENANCE, "compressed JUMBF box (content credentials, not read)"),
    b"jbrd": (Kind.HISTORY, "compressed JPEG reconstruction data (not read)"),
}
_NOT_IN_BROTLI = {b"jxlc", b"jxlp", b"jxll", b"ftyp", b"brob", b"JXL "}


@dataclass(frozen=True)
class Box:
    type: bytes
    start: int  # first byte of the header
    body: int  # first byte after the header
    end: int


@dataclass
class Layout:
    codestream: list[memoryview] = field(default_factory=list)
    level: int | None = None
    findings: Findings = field(default_factory=Findings)
    bare: bool = False
    last_part: bool = False  # a 'jxlp' flagged as the last one was seen
    parts_seen: int = 0
    inflated: int = 0  # bytes of compressed metadata decompressed so far


def digest(parts: Iterable[Part]) -> bytes:
    h = hashlib.blake2b(digest_size=32)
    for part in parts:
        h.update(part)
    return h.digest()


def codestream_box(length: int) -> bytes:
    """The header of a 'jxlc' box holding `length` bytes (64-bit size when it must be)."""
    if length + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", length + 8, b"jxlc")
    return struct.pack(">I4sQ", 1, b"jxlc", length + 16)


class JpegXl(ImageFormat):
    name = "JPEG XL"
    canonical_suffix = ".jxl"
    pillow_name = ""  # Pillow cannot read JPEG XL: `reread` is the second reading
    exif_allowed = frozenset()

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(parse(data).findings, 1)

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        layout = parse(data)
        reference = digest(layout.codestream)
        if layout.bare:
            return Cleaned(list(layout.codestream), self.name, layout.findings, reference=reference)
        parts: list[Part] = [SIGNATURE, FTYP]
        if layout.level is not None:
            parts.append(struct.pack(">I4sB", 9, b"jxll", layout.level))
        parts.append(codestream_box(sum(len(p) for p in layout.codestream)))
        parts.extend(layout.codestream)
        return Cleaned(parts, self.name, layout.findings, reference=reference)

    def reread(self, output: Buffer, cleaned: Cleaned) -> str | None:
        if cleaned.reference is None:
            return "no record of the JPEG XL codestream to check the output against"
        try:
            start, end = _reread_codestream(output)
        except (CorruptImage, struct.error, IndexError) as exc:
            return f"output does not re-read as JPEG XL: {exc}"
        with memoryview(output) as whole, whole[start:end] as stream:
            if bytes(stream[:2]) != CODESTREAM:
                return "the output's codestream does not start with the JPEG XL marker"
            if digest([stream]) != cleaned.reference:
                return "the output's codestream differs from the one kept from the input"
        return None


def _reread_codestream(out: Buffer) -> tuple[int, int]:
    """Where the codestream of an output lies, read without `parse`: a bare codestream, or
    the signature, 'ftyp', an optional 'jxll' and one 'jxlc' box that ends the file."""
    if out[:2] == CODESTREAM:
        return 0, len(out)
    if out[:12] != SIGNATURE or out[12:32] != FTYP:
        raise CorruptImage("unexpected signature or 'ftyp' box")
    pos = 32
    if out[pos + 4 : pos + 8] == b"jxll":
        if out[pos : pos + 4] != b"\x00\x00\x00\x09" or out[pos + 8] not in (5, 10):
            raise CorruptImage("unexpected 'jxll' box")
        pos += 9
    if out[pos + 4 : pos + 8] != b"jxlc":
        raise CorruptImage("the box after the headers is not 'jxlc'")
    size, header = struct.unpack_from(">I", out, pos)[0], 8
    if size == 1:
        size, header = struct.unpack_from(">Q", out, pos + 8)[0], 16
    if size < header or pos + size != len(out):
        raise CorruptImage("the 'jxlc' box does not end where the file ends")
    return pos + header, len(out)


def boxes(data: Buffer) -> list[Box]:
    """The top-level boxes, which must fill the file exactly (size 0: to the end)."""
    found: list[Box] = []
    pos, length = 0, len(data)
    while pos < length:
        if len(found) >= MAX_BOXES:
            raise CorruptImage(f"corrupt: more than {MAX_BOXES:,} boxes in the JPEG XL file")
        if pos + 8 > length:
            raise Truncated("truncated: a JPEG XL box header is cut off")
        size, kind, body = u32be(data, pos, "JPEG XL box size"), bytes(data[pos + 4 : pos + 8]), pos + 8
        if size == 1:
            size, body = unpack(">Q", data, pos + 8, "JPEG XL box size")[0], pos + 16
        elif size == 0:
            size = length - pos
        if size < body - pos:
            raise CorruptImage(f"corrupt: the JPEG XL box {_name(kind)} is shorter than its header")
        if pos + size > length:
            raise Truncated(f"truncated: the JPEG XL box {_name(kind)} runs past the end of the file")
        found.append(Box(kind, pos, body, pos + size))
        pos += size
    return found


def parse(data: Buffer) -> Layout:
    layout = Layout()
    if data[:2] == CODESTREAM:
        layout.bare = True
        layout.codestream.append(view(data, 0, len(data)))
        return layout
    if len(data) < 12 or data[:12] != SIGNATURE:
        raise CorruptImage("not a JPEG XL file (bad signature box)")
    found = boxes(data)
    if len(found) < 2 or found[1].type != b"ftyp" or data[found[1].body : found[1].body + 4] != b"jxl ":
        raise CorruptImage("corrupt: the JPEG XL 'ftyp' box is missing or names another brand")
    for box in found[2:]:
        _box(data, box, layout)
    if not layout.codestream:
        raise CorruptImage("corrupt: no codestream ('jxlc' or 'jxlp' box) in the JPEG XL file")
    if layout.parts_seen and not layout.last_part:
        raise Truncated("truncated: the JPEG XL codestream parts end before the last one")
    head = b"".join(bytes(p[:2]) for p in layout.codestream[:2])
    if head[:2] != CODESTREAM:
        raise CorruptImage("corrupt: the JPEG XL codestream does not start with FF 0A")
    return layout


def _box(data: Buffer, box: Box, layout: Layout) -> None:
    body = view(data, box.body, box.end)
    kind, found = box.type, layout.findings
    if kind == b"jxlc":
        if layout.codestream:
            raise CorruptImage("corrupt: more than one JPEG XL codestream box")
        layout.codestream.append(body)
    elif kind == b"jxlp":
        _part(body, layout)
    elif kind == b"jxll":
        if len(body) == 1 and body[0] in (5, 10) and layout.level is None:
            layout.level = body[0]
        else:
            found.add(Kind.OTHER, "malformed codestream level box", human_size(len(body)), WHERE)
    elif kind == b"jxli":
        pass  # a frame index: dropped, it carries nothing but offsets (see the module doc)
    elif kind == b"Exif":
        _exif(bytes(body), found, "JPEG XL Exif")
    elif kind == b"xml ":
        _xmp(bytes(body), found, "JPEG XL XMP")
    elif kind == b"jumb":
        c2pa = b"c2pa" in bytes(body[:256])
        what = "content credentials (C2PA)" if c2pa else "JUMBF metadata box"
        found.add(Kind.PROVENANCE, what, human_size(len(body)), "JPEG XL jumb")
    elif kind == b"jbrd":
        found.add(Kind.HISTORY, JBRD, human_size(len(body)), "JPEG XL jbrd")
    elif kind == b"brob":
        _brotli(body, layout)
    elif kind in (b"ftyp", b"JXL "):
        raise CorruptImage(f"corrupt: a second JPEG XL {_name(kind)} box")
    else:
        found.add(Kind.OTHER, f"box {_name(kind)}", human_size(len(body)), WHERE)


JBRD = "JPEG reconstruction data (can hold the original JPEG's APP and comment segments)"


def _part(body: memoryview, layout: Layout) -> None:
    if len(layout.codestream) > layout.parts_seen:
        raise CorruptImage("corrupt: JPEG XL 'jxlc' and 'jxlp' boxes in one file")
    if len(body) < 4:
        raise CorruptImage("corrupt: a JPEG XL 'jxlp' box without its index")
    if layout.last_part:
        raise CorruptImage("corrupt: a JPEG XL 'jxlp' box after the last one")
    index = struct.unpack_from(">I", body, 0)[0]
    if index & 0x7FFFFFFF != layout.parts_seen:
        raise CorruptImage("corrupt: JPEG XL 'jxlp' boxes out of order")
    layout.parts_seen += 1
    layout.last_part = bool(index & 0x80000000)
    layout.codestream.append(body[4:])


def _exif(body: bytes, found: Findings, where: str) -> None:
    """An 'Exif' box: a 4-byte offset to the TIFF header, then the EXIF (TIFF) block."""
    offset = struct.unpack_from(">I", body, 0)[0] if len(body) >= 4 else len(body)
    if 4 + offset >= len(body):
        found.add(Kind.OTHER, "unreadable EXIF block", human_size(len(body)), where)
        return
    report = exif.read_exif(body[4 + offset :], where)
    found.extend(report.findings)
    if not report.findings:
        found.add(Kind.OTHER, "EXIF block", human_size(len(body)), where)


def _xmp(body: bytes, found: Findings, where: str) -> None:
    report = xmp.read_xmp(body, where)
    found.extend(report.findings)
    if not report.findings:
        found.add(Kind.OTHER, "XMP packet", human_size(len(body)), where)


def _brotli(body: memoryview, layout: Layout) -> None:
    """A 'brob' box: the type of the box it stands for, then that box's body, compressed."""
    found = layout.findings
    if len(body) < 4:
        raise CorruptImage("corrupt: a JPEG XL 'brob' box without its inner type")
    inner = bytes(body[:4])
    if inner in _NOT_IN_BROTLI:
        raise CorruptImage(f"corrupt: a Brotli-compressed JPEG XL {_name(inner)} box (not allowed)")
    size = human_size(len(body) - 4)
    if inner in _UNREAD:
        inflated = _inflate(body[4:], MAX_INFLATED - layout.inflated)
        if isinstance(inflated, bytes):
            layout.inflated += len(inflated)
            where = f"JPEG XL {'Exif' if inner == b'Exif' else 'XMP'} (compressed)"
            (_exif if inner == b"Exif" else _xmp)(inflated, found, where)
            return
        if inflated:  # brotli is there, but the data cannot be read with it
            label = "EXIF" if inner == b"Exif" else "XMP"
            found.add(Kind.OTHER, f"unreadable compressed {label} ({inflated})", size, "JPEG XL brob")
            return
    kind, what = _BROTLI_INNER.get(inner, (Kind.OTHER, f"compressed box {_name(inner)} (not read)"))
    found.add(kind, what, size, "JPEG XL brob")


def _inflate(data: memoryview, limit: int) -> bytes | str:
    """`data` decompressed with Brotli, never more than `limit` bytes held; otherwise why
    not, in a few words ('' when the `brotli` module, 1.2 or later, is not installed)."""
    try:
        brotli = importlib.import_module("brotli")  # only for the files that need it
    except ImportError:
        return ""
    if not hasattr(brotli.Decompressor, "can_accept_more_data"):
        return ""  # before 1.2: no bound on the output of one call
    decompressor, out, pending = brotli.Decompressor(), bytearray(), data
    try:
        while True:
            piece = decompressor.process(pending, output_buffer_limit=_INFLATE_STEP)
            pending = memoryview(b"")
            out += piece
            if len(out) > limit:
                return f"more than {MAX_INFLATED >> 20} MB decompressed"
            if decompressor.is_finished():
                return bytes(out)
            if not piece and decompressor.can_accept_more_data():
                return "cut off"
    except brotli.error:
        return "not valid Brotli data"
    except TypeError:  # a binding whose process() takes no output bound: not used
        return ""


def _name(kind: bytes) -> str:
    return "'" + kind.decode("latin-1").encode("ascii", "backslashreplace").decode() + "'"
