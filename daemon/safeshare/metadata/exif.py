"""Read an EXIF block and say what it gives away; find the orientation to keep.

Used for JPEG APP1, PNG eXIf, WebP EXIF, HEIF Exif items and TIFF IFD0. The values are
read only to tell the user; none of the input's EXIF is ever copied to an output.

Photoshop image resources are read here too: EXIF holds them (tag 34377) and they hold
EXIF (resource 0x0422), so the two readers call each other and share one module.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from safeshare.errors import CorruptImage
from safeshare.findings import Finding, Findings, Kind
from safeshare.metadata import exif_tags as tags
from safeshare.metadata import iptc
from safeshare.metadata.embedded import describe_image_blob, human_size
from safeshare.metadata.exif_apple import apple_ids
from safeshare.metadata.exif_gps import walk_gps
from safeshare.metadata.tiff_ifd import Entry, Ifd, TiffReader
from safeshare.metadata.values import decode_text, valid_orientation

# Photoshop image resource IDs with a meaning of their own.
RESOURCE_IPTC, RESOURCE_EXIF, RESOURCE_XMP = 0x0404, 0x0422, 0x0424
RESOURCE_THUMBNAILS = {0x0409, 0x040C}

# Hostile blocks nest without end (EXIF in Photoshop resources in EXIF..., an Exif IFD
# pointing to another Exif IFD...) and branch (several IFDs can point at the same bytes).
# Real files nest two deep at most. Beyond these limits nested data is reported, not read.
MAX_NESTING = 4  # EXIF and Photoshop blocks inside each other
MAX_NESTED_READS = 16  # nested blocks read below one top-level block, all depths together
MAX_IFD_DEPTH = 4  # Exif/GPS/next-IFD pointers followed one inside the other
NESTED_NOT_READ = "metadata nested too deep (not read)"


class Nesting:
    """The nested blocks read below one top-level block: how deep now, how many so far."""

    def __init__(self) -> None:
        self.depth = 0
        self.reads = 0

    def enter(self) -> bool:
        """One level deeper, if the limits allow it (then `leave` after reading)."""
        if self.depth >= MAX_NESTING or self.reads >= MAX_NESTED_READS:
            return False
        self.depth += 1
        self.reads += 1
        return True

    def leave(self) -> None:
        self.depth -= 1


@dataclass
class ExifReport:
    """What an EXIF block gives away, and the orientation it states (None: it states none)."""

    findings: Findings = field(default_factory=Findings)
    orientation: int | None = None


def orientation_exif(orientation: int) -> bytes:
    """A minimal EXIF block (TIFF structure, no 'Exif\\0\\0'): IFD0 with Orientation only."""
    import piexif  # imported here: most files need no orientation tag

    block: bytes = piexif.dump({"0th": {piexif.ImageIFD.Orientation: orientation}})
    return block[6:]


def strip_exif_header(blob: bytes) -> bytes:
    """EXIF blobs come with or without the 'Exif\\0\\0' prefix depending on the container."""
    if blob.startswith(b"Exif\0"):
        return blob[6:]
    return blob


def read_exif(blob: bytes, where: str = "EXIF", nesting: Nesting | None = None) -> ExifReport:
    """What an EXIF block gives away; `nesting` when it is inside another block."""
    report = ExifReport()
    try:
        walker = ExifWalker(TiffReader(strip_exif_header(blob)), report, where, nesting=nesting)
        walker.walk_file()
    except CorruptImage:
        report.findings.add(Kind.OTHER, "unreadable EXIF block", human_size(len(blob)), where)
    return report


def xmp_findings(packet: bytes, where: str) -> Findings:
    """What an XMP packet inside EXIF or Photoshop data gives away."""
    from safeshare.metadata import xmp  # imported here: most EXIF blocks hold no XMP (issue 17)

    return xmp.read_xmp(packet, where).findings


def read_photoshop(data: bytes, where: str = "Photoshop", nesting: Nesting | None = None) -> list[Finding]:
    """Findings of a Photoshop resource block ('8BIM' id name size data...): APP13, TIFF
    tag 34377, PNG and GIF profiles; `nesting` when it is inside another block."""
    nesting = nesting if nesting is not None else Nesting()
    found = Findings()
    pos = data.find(b"8BIM")
    ignored = 0
    while pos >= 0 and pos + 12 <= len(data) and data[pos : pos + 4] in (b"8BIM", b"MeSa"):
        rid = struct.unpack_from(">H", data, pos + 4)[0]
        name_len = data[pos + 6]
        pos += 6 + ((name_len + 2) & ~1)  # Pascal string padded to even length
        if pos + 4 > len(data):
            break
        size = struct.unpack_from(">I", data, pos)[0]
        body = data[pos + 4 : pos + 4 + size]
        pos += 4 + size + (size & 1)
        if rid == RESOURCE_IPTC:
            found.extend(iptc.read_iptc(body, f"{where} IPTC"))
        elif rid == RESOURCE_EXIF:
            if nesting.enter():
                try:
                    found.extend(read_exif(body, f"{where} EXIF", nesting).findings)
                finally:
                    nesting.leave()
            else:
                found.add(Kind.OTHER, NESTED_NOT_READ, human_size(len(body)), f"{where} EXIF")
        elif rid == RESOURCE_XMP:
            found.extend(xmp_findings(body, f"{where} XMP"))
        elif rid in RESOURCE_THUMBNAILS:
            blob = describe_image_blob(body[28:]) if len(body) > 28 else human_size(len(body))
            found.add(Kind.THUMBNAIL, "Photoshop thumbnail", blob, where)
        else:
            ignored += 1
    if ignored:
        found.add(Kind.HISTORY, "Photoshop resources", f"{ignored}", where)
    return list(found)


class ExifWalker:
    """Walks IFD0, the Exif, GPS and thumbnail IFDs of one TIFF structure."""

    def __init__(
        self,
        reader: TiffReader,
        report: ExifReport,
        where: str,
        quiet: frozenset[int] = frozenset(),
        nesting: Nesting | None = None,
    ) -> None:
        self.r = reader
        self.nesting = nesting if nesting is not None else Nesting()
        self.ifd_depth = 0  # pointers being followed, one inside the other
        self.quiet = quiet
        self.report = report
        self.found = report.findings
        self.where = where
        self.settings: list[str] = []
        self.other_tags = 0

    def walk_file(self) -> None:
        ifd0 = self.r.read_ifd(self.r.first_ifd)
        self.walk_main(ifd0, exif_section=False)
        self._flush_aggregates()
        if ifd0.next_offset:
            self._guard(self._walk_pointer, ifd0.next_offset, self.walk_thumbnail)

    def _guard(self, action: Callable[..., object], *args: Any) -> None:
        """Run one sub-walk; a broken sub-IFD is reported, the rest of the walk goes on."""
        try:
            action(*args)
        except CorruptImage:
            self.found.add(Kind.OTHER, "unreadable EXIF directory", "", self.where)

    def walk_main(self, ifd: Ifd, exif_section: bool) -> None:
        """Classify the tags of IFD0 or the Exif IFD; follows the Exif and GPS pointers."""
        e = ifd.entries
        if not exif_section:
            self._guard(self._device, e)
            if tags.ORIENTATION in e:
                self._guard(self._orientation, e[tags.ORIENTATION])
        for tag, entry in e.items():
            if tag in tags.QUIET or tag in self.quiet or tag in (tags.MAKE, tags.MODEL):
                continue
            self._guard(self.classify, tag, entry, exif_section)
        for pointer, walk in ((tags.EXIF_IFD, self._walk_exif), (tags.GPS_IFD, self.walk_gps)):
            if pointer in e:
                self._guard(self._walk_pointer, e[pointer], walk)

    def _walk_pointer(self, target: Entry | int, walk: Callable[[Ifd], None]) -> None:
        if self.ifd_depth >= MAX_IFD_DEPTH:
            raise CorruptImage("EXIF directories nested too deep")
        offset = target if isinstance(target, int) else self.r.first_int(target)
        self.ifd_depth += 1
        try:
            walk(self.r.read_ifd(offset))
        finally:
            self.ifd_depth -= 1

    def _walk_exif(self, ifd: Ifd) -> None:
        self.walk_main(ifd, exif_section=True)

    def _orientation(self, entry: Entry) -> None:
        # A present but meaningless value means 'as stored', as Pillow and browsers read it.
        self.report.orientation = valid_orientation(self.r.first_int(entry)) or 1

    def _device(self, e: dict[int, Entry]) -> None:
        make = self.r.text(e[tags.MAKE]).strip() if tags.MAKE in e else ""
        model = self.r.text(e[tags.MODEL]).strip() if tags.MODEL in e else ""
        if model.lower().startswith(make.lower()):
            make = ""
        device = " ".join(p for p in (make, model) if p)
        if device:
            self.found.add(Kind.DEVICE, "camera", device, self.where)

    def classify(self, tag: int, entry: Entry, exif_section: bool) -> None:
        if tag == tags.MAKER_NOTE:
            self.found.add(Kind.MAKER_NOTES, "maker notes", human_size(entry.size), self.where)
            with contextlib.suppress(CorruptImage):
                apple_ids(self.r.raw(entry), self.found, self.where)
        elif tag in tags.SENSITIVE:
            kind, what = tags.SENSITIVE[tag]
            value = self.value_text(entry)
            if value.strip(" \0"):
                self.found.add(kind, what, value, self.where)
        elif tag == tags.XMP_TAG:
            self.found.extend(xmp_findings(self.r.raw(entry), f"{self.where} XMP"))
        elif tag == tags.IPTC_TAG:
            self.found.extend(iptc.read_iptc(self.r.raw(entry), self.where))
        elif tag == tags.PHOTOSHOP_TAG:
            self._photoshop(entry)
        elif tag == tags.SUB_IFDS:
            self.found.add(Kind.SECONDARY_IMAGE, "sub-images", f"{entry.count}", self.where)
        elif exif_section:
            self.settings.append(tags.CAMERA_SETTING_NAMES.get(tag, ""))
        else:
            self.other_tags += 1

    def _photoshop(self, entry: Entry) -> None:
        if not self.nesting.enter():
            self.found.add(Kind.OTHER, NESTED_NOT_READ, human_size(entry.size), f"{self.where} Photoshop")
            return
        try:
            self.found.extend(read_photoshop(self.r.raw(entry), self.where, self.nesting))
        finally:
            self.nesting.leave()

    def value_text(self, entry: Entry) -> str:
        raw = self.r.raw(entry)
        if entry.tag == tags.USER_COMMENT:
            return _user_comment(raw)
        if 0x9C9B <= entry.tag <= 0x9C9F:  # Windows XP tags are UTF-16LE in BYTE fields
            return raw.decode("utf-16-le", "replace").rstrip("\0")
        if entry.type in (2, 7):
            return self.r.text(entry)
        if entry.type in (5, 10):
            return " ".join(f"{v:g}" for v in self.r.rationals(entry))
        return " ".join(str(v) for v in self.r.ints(entry))

    def walk_gps(self, ifd: Ifd) -> None:
        walk_gps(self.r, ifd, self.found, f"{self.where} GPS")

    def walk_thumbnail(self, ifd: Ifd) -> None:
        e = ifd.entries
        if tags.THUMB_OFFSET in e and tags.THUMB_LENGTH in e:
            start, length = self.r.first_int(e[tags.THUMB_OFFSET]), self.r.first_int(e[tags.THUMB_LENGTH])
            blob = self.r.data[start : start + length]
            self.found.add(Kind.THUMBNAIL, "EXIF thumbnail", describe_image_blob(blob), self.where)
        elif tags.STRIP_OFFSETS in e:
            self.found.add(Kind.THUMBNAIL, "EXIF thumbnail", "uncompressed", self.where)
        elif e:
            self.found.add(Kind.OTHER, "second EXIF directory", f"{len(e)} tags", self.where)

    def _flush_aggregates(self) -> None:
        if self.settings:
            named = [n for n in dict.fromkeys(self.settings) if n]
            extra = len(self.settings) - len(named)
            text = ", ".join(named[:6] + ([f"{extra} more"] if extra else []))
            self.found.add(Kind.CAMERA_SETTINGS, "camera settings", text, self.where)
        if self.other_tags:
            self.found.add(Kind.OTHER, "other EXIF tags", f"{self.other_tags}", self.where)


def _user_comment(raw: bytes) -> str:
    code, body = raw[:8], raw[8:]
    if code.startswith(b"UNICODE"):
        little = body[:1] != b"\0"
        return body.decode("utf-16-le" if little else "utf-16-be", "replace").strip("\0 ")
    return decode_text(body.split(b"\0", 1)[0] if code.strip(b"\0") else raw.strip(b"\0"))
