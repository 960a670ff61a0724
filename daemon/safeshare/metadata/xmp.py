"""Read an XMP packet and say what it gives away (XMP is never copied to an output)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from safeshare.findings import Findings, Kind
from safeshare.metadata.embedded import human_size
from safeshare.metadata.values import valid_orientation
from safeshare.metadata.xmp_gps import gps_findings

if TYPE_CHECKING:
    import xml.etree.ElementTree as ET

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
PREFIXES = {
    "http://ns.adobe.com/exif/1.0/": "exif",
    "http://cipa.jp/exif/1.0/": "exifEX",
    "http://ns.adobe.com/tiff/1.0/": "tiff",
    "http://ns.adobe.com/xap/1.0/": "xmp",
    "http://ns.adobe.com/xap/1.0/mm/": "xmpMM",
    "http://ns.adobe.com/xap/1.0/rights/": "xmpRights",
    "http://purl.org/dc/elements/1.1/": "dc",
    "http://ns.adobe.com/photoshop/1.0/": "photoshop",
    "http://ns.adobe.com/exif/1.0/aux/": "aux",
    "http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/": "Iptc4xmpCore",
    "http://iptc.org/std/Iptc4xmpExt/2008-02-29/": "Iptc4xmpExt",
    "http://www.metadataworkinggroup.com/schemas/regions/": "mwg-rs",
    "http://ns.microsoft.com/photo/1.2/": "MP",
    "http://ns.google.com/photos/1.0/camera/": "GCamera",
    "http://ns.google.com/photos/1.0/container/": "Container",
    "http://ns.google.com/photos/1.0/depthmap/": "GDepth",
    "http://ns.google.com/photos/1.0/image/": "GImage",
    "http://ns.adobe.com/hdr-gain-map/1.0/": "hdrgm",
    "http://ns.adobe.com/camera-raw-settings/1.0/": "crs",
    "http://www.dji.com/drone-dji/1.0/": "drone-dji",
}

# "prefix:Name" -> (kind, what). Prefix-wide rules follow in _PREFIX_RULES.
_EXACT: dict[str, tuple[Kind, str]] = {
    "photoshop:City": (Kind.PLACE, "city"),
    "photoshop:State": (Kind.PLACE, "state"),
    "photoshop:Country": (Kind.PLACE, "country"),
    "Iptc4xmpCore:Location": (Kind.PLACE, "location"),
    "Iptc4xmpCore:CountryCode": (Kind.PLACE, "country"),
    "Iptc4xmpExt:LocationCreated": (Kind.PLACE, "location"),
    "Iptc4xmpExt:LocationShown": (Kind.PLACE, "location"),
    "exif:DateTimeOriginal": (Kind.CAPTURE_TIME, "taken"),
    "exif:DateTimeDigitized": (Kind.CAPTURE_TIME, "digitized"),
    "photoshop:DateCreated": (Kind.CAPTURE_TIME, "taken"),
    "xmp:CreateDate": (Kind.CAPTURE_TIME, "created"),
    "xmp:ModifyDate": (Kind.TIMESTAMP, "modified"),
    "xmp:MetadataDate": (Kind.TIMESTAMP, "metadata date"),
    "tiff:DateTime": (Kind.TIMESTAMP, "modified"),
    "tiff:Make": (Kind.DEVICE, "camera make"),
    "tiff:Model": (Kind.DEVICE, "camera model"),
    "aux:Lens": (Kind.DEVICE, "lens"),
    "exifEX:LensModel": (Kind.DEVICE, "lens"),
    "exifEX:LensMake": (Kind.DEVICE, "lens make"),
    "aux:SerialNumber": (Kind.SERIAL, "serial number"),
    "aux:LensSerialNumber": (Kind.SERIAL, "lens serial number"),
    "exifEX:BodySerialNumber": (Kind.SERIAL, "body serial number"),
    "exifEX:LensSerialNumber": (Kind.SERIAL, "lens serial number"),
    "exif:ImageUniqueID": (Kind.SERIAL, "unique image ID"),
    "exifEX:ImageUniqueID": (Kind.SERIAL, "unique image ID"),
    "aux:ImageNumber": (Kind.SERIAL, "shutter count"),
    "dc:creator": (Kind.NAME, "creator"),
    "dc:rights": (Kind.NAME, "rights"),
    "xmpRights:Owner": (Kind.NAME, "owner"),
    "tiff:Artist": (Kind.NAME, "artist"),
    "tiff:Copyright": (Kind.NAME, "copyright"),
    "exifEX:CameraOwnerName": (Kind.NAME, "camera owner"),
    "aux:OwnerName": (Kind.NAME, "camera owner"),
    "photoshop:AuthorsPosition": (Kind.NAME, "author's position"),
    "photoshop:Credit": (Kind.NAME, "credit"),
    "photoshop:CaptionWriter": (Kind.NAME, "caption writer"),
    "Iptc4xmpCore:CreatorContactInfo": (Kind.NAME, "creator contact"),
    "mwg-rs:Regions": (Kind.FACES, "tagged regions"),
    "MP:RegionInfo": (Kind.FACES, "tagged people"),
    "xmp:CreatorTool": (Kind.SOFTWARE, "software"),
    "tiff:Software": (Kind.SOFTWARE, "software"),
    "dc:description": (Kind.TEXT, "description"),
    "dc:title": (Kind.TEXT, "title"),
    "dc:subject": (Kind.TEXT, "keywords"),
    "photoshop:Headline": (Kind.TEXT, "headline"),
    "GDepth:Data": (Kind.SECONDARY_IMAGE, "depth map inside XMP"),
    "GImage:Data": (Kind.SECONDARY_IMAGE, "original image inside XMP"),
    "GCamera:MotionPhoto": (Kind.OTHER, "motion-photo tags"),
    "GCamera:MicroVideo": (Kind.OTHER, "motion-photo tags"),
    "Container:Directory": (Kind.OTHER, "embedded-item directory"),
}
_PREFIX_RULES: dict[str, tuple[Kind, str]] = {
    "xmpMM": (Kind.HISTORY, "edit history and document IDs"),
    "photoshop": (Kind.HISTORY, "Photoshop data"),
    "crs": (Kind.HISTORY, "editing settings"),
    "hdrgm": (Kind.OTHER, "HDR gain-map tags"),
    "exif": (Kind.CAMERA_SETTINGS, "camera settings"),
    "exifEX": (Kind.CAMERA_SETTINGS, "camera settings"),
    "aux": (Kind.CAMERA_SETTINGS, "camera settings"),
}
_QUIET = {
    "tiff:Orientation",
    "tiff:ImageWidth",
    "tiff:ImageLength",
    "tiff:XResolution",
    "tiff:YResolution",
    "tiff:ResolutionUnit",
    "exif:PixelXDimension",
    "exif:PixelYDimension",
    "exif:ColorSpace",
    "xmpNote:HasExtendedXMP",
}

# A packet is read up to this many elements: real ones hold a few thousand, and each costs
# ~100 bytes and ~1 us (32 MB of '<a/>', 8 million elements, took 0.8 GB and 10 s to
# parse). Past it, the packet is read in part, and said so.
MAX_ELEMENTS = 200_000
READ_IN_PART = "XMP packet (read in part: too many elements)"
NOT_READ = "XMP packet (not read: over the size budget)"
_FEED = 1 << 16  # bytes given to the parser at a time, so that it can stop early
# Property values are collected from the subtrees below each rdf:Description. Nested
# descriptions make subtrees overlap (each node is seen once per description above it):
# real packets nest a few deep, hostile ones thousands. Nodes visited per packet, at most:
_VISITS_PER_ELEMENT = 8
_VISITS_EXTRA = 10_000


@dataclass
class XmpReport:
    """What an XMP packet gives away, and the orientation it states (None: none, or not valid)."""

    findings: Findings = field(default_factory=Findings)
    orientation: int | None = None
    elements: int = 0  # elements read (counted as tags, '<', when the packet is read whole)


def read_xmp(packet: bytes, where: str = "XMP", max_elements: int = MAX_ELEMENTS) -> XmpReport:
    """What an XMP packet gives away, reading at most `max_elements` of its elements
    (a file's allowance when it has one; with nothing left, the packet is not read)."""
    report = XmpReport()
    if max_elements <= 0:
        report.findings.add(Kind.OTHER, NOT_READ, human_size(len(packet)), where)
        return report
    parsed = _parse(packet, max_elements)
    if parsed is None:
        report.findings.add(Kind.OTHER, "unreadable XMP packet", human_size(len(packet)), where)
        return report
    root, report.elements, complete = parsed
    if not complete:
        report.findings.add(Kind.OTHER, READ_IN_PART, human_size(len(packet)), where)
    if root is None:
        return report
    visits = _Visits(_VISITS_PER_ELEMENT * report.elements + _VISITS_EXTRA)
    props = list(_properties(root, visits))
    _classify(props, report, where)
    return report


def _parse(packet: bytes, max_elements: int) -> tuple[ET.Element | None, int, bool] | None:
    """(root, elements parsed, read to the end), or None when it is no XMP.

    The root is None only when not even one element could be read within the limit."""
    start = packet.find(b"<x:xmpmeta")
    if start < 0:
        start = packet.find(b"<rdf:RDF")
    end_tag = b"</x:xmpmeta>" if packet[start : start + 10] == b"<x:xmpmeta" else b"</rdf:RDF>"
    end = packet.rfind(end_tag)
    if start < 0 or end < 0:
        return None
    import xml.etree.ElementTree as ET  # imported here: most pictures carry no XMP

    stop = end + len(end_tag)
    tags = packet.count(b"<", start, stop)  # at least one per element
    if tags <= max_elements:
        try:
            return ET.fromstring(packet[start:stop]), tags, True
        except ET.ParseError:
            return None
    text = memoryview(packet)[start:stop]
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("start",))
    root: ET.Element | None = None
    elements = 0
    try:
        for pos in range(0, len(text), _FEED):
            parser.feed(text[pos : pos + _FEED])
            for event in parser.read_events():
                elements += 1
                if root is None and isinstance(event[-1], ET.Element):
                    root = event[-1]  # the first "start" event: the root element
            if elements > max_elements:
                return root, elements, False
        parser.close()
    except ET.ParseError:
        return None
    return root, elements, True


class _Visits:
    """How many more nodes the collection of property values may visit."""

    def __init__(self, allowed: int) -> None:
        self.left = allowed

    def nodes(self, element: ET.Element) -> tuple[list[ET.Element], bool]:
        """The subtree of `element` in document order, as far as the allowance goes, and
        whether that is all of it."""
        taken = list(itertools.islice(element.iter(), self.left + 1))
        whole = len(taken) <= self.left
        taken = taken[: self.left]
        self.left -= len(taken)
        return taken, whole


def _qname(tag: str) -> str:
    """'{http://ns.adobe.com/tiff/1.0/}Make' -> 'tiff:Make'."""
    if not tag.startswith("{"):
        return tag
    uri, local = tag[1:].split("}", 1)
    prefix = PREFIXES.get(uri) or uri.rstrip("/#").rsplit("/", 1)[-1] or "xmlns"
    return f"{prefix}:{local}"


def _properties(root: ET.Element, visits: _Visits) -> list[tuple[str, str]]:
    """(qualified name, text value) of every top-level property of every rdf:Description."""
    props: list[tuple[str, str]] = []
    for desc in root.iter(f"{{{RDF}}}Description"):
        for name, value in desc.attrib.items():
            if not name.startswith(f"{{{RDF}}}") and "{http://www.w3.org/XML" not in name:
                props.append((_qname(name), value))
        for child in desc:
            props.append((_qname(child.tag), _text_of(child, visits)))
    return props


def _text_of(element: ET.Element, visits: _Visits) -> str:
    """All leaf text and attribute values below `element`, joined with '; '. Past the
    packet's allowance of visits, only the nodes still allowed (their text, no tails)."""
    nodes, whole = visits.nodes(element)
    if whole:
        texts = [t.strip() for t in element.itertext() if t.strip()]
    else:
        texts = [node.text.strip() for node in nodes if node.text and node.text.strip()]
    for node in nodes:
        texts.extend(v for k, v in node.attrib.items() if not k.startswith(f"{{{RDF}}}"))
    return "; ".join(dict.fromkeys(texts))


def _classify(props: list[tuple[str, str]], report: XmpReport, where: str) -> None:
    found = report.findings
    grouped: dict[tuple[Kind, str], int] = {}
    said = gps_findings(dict(props), found, where)
    place = Kind.GPS in found.kinds()  # a GPS time or altitude alone tells no place
    for name, value in props:
        prefix = name.split(":", 1)[0]
        if name == "tiff:Orientation" and value.strip().isdigit():
            report.orientation = valid_orientation(int(value))
        if name in _QUIET or name in said:
            continue
        if name in _EXACT:
            kind, what = _EXACT[name]
            # Embedded images are described by size; structural markers need no value.
            shown = human_size(len(value)) if kind is Kind.SECONDARY_IMAGE else value
            shown = "" if kind is Kind.OTHER else shown
            found.add(kind, what, shown, where)
        elif name.startswith("exif:GPS") or name.startswith("drone-dji:Gps"):
            kind, what = (
                (Kind.GPS, "other GPS data") if place else (Kind.OTHER, "GPS data without a position")
            )
            found.add(kind, what, "", where)
        else:
            key = _PREFIX_RULES.get(prefix, (Kind.OTHER, "other XMP properties"))
            grouped[key] = grouped.get(key, 0) + 1
    for (kind, what), count in grouped.items():
        found.add(kind, what, f"{count} properties" if count > 1 else "1 property", where)
