"""What a HEIF/AVIF container carries besides its primary image, read from its boxes.

An image sequence ('moov' with a picture track: brands 'avis', 'msf1') is picture, not
appended data: its frames are kept or said to be dropped (formats/heif.py), never reported
as a video. Other tracks in 'moov' (sound, video, timed metadata), its user data and its
creation times are reported, since the output keeps none of them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, InputError
from safeshare.findings import Findings, Kind
from safeshare.formats import isobmff
from safeshare.formats.isobmff_tracks import PICTURE_HANDLERS, Movie, Track, read_movie
from safeshare.metadata import exif, xmp
from safeshare.metadata.embedded import classify_trailer, human_size

IMAGE_ITEM_TYPES = {"hvc1", "av01", "jpeg", "grid", "iden", "iovl", "unci", "j2k1", "vvc1"}
KNOWN_BOXES = {"ftyp", "meta", "mdat", "free", "skip", "idat"}
SEQUENCE_BRANDS = {b"avis", b"msf1"}


@dataclass
class Container:
    """The file's boxes as read here (None where unreadable) and what they carry."""

    structure: isobmff.Structure | None
    movie: Movie | None = None
    sequence: Track | None = None  # the image sequence's track, if the file is one
    findings: Findings = field(default_factory=Findings)
    error: InputError | None = None  # why a part that decides the picture is unreadable


def container_findings(data: Buffer) -> Findings:
    return read_container(data).findings


def read_container(data: Buffer) -> Container:
    found = Findings()
    try:
        structure = isobmff.parse(data)
    except CorruptImage as exc:
        # The output is rebuilt from pixels, so a container we cannot map leaks nothing, but
        # what it displays is unknown: cleaning refuses it (heif.py), inspecting reports it.
        found.add(Kind.OTHER, "unreadable container structure", str(exc), "HEIF")
        return Container(None, findings=found, error=exc)
    container = Container(structure, findings=found)
    _items(data, structure, found)
    _movie(data, structure, container)
    _top_level(data, structure, found)
    return container


def file_brands(data: Buffer, s: isobmff.Structure) -> set[bytes]:
    """Major and compatible brands of the 'ftyp' box."""
    ftyp = s.boxes[0]
    found = {bytes(data[ftyp.body : ftyp.body + 4])}
    return found | {bytes(data[i : i + 4]) for i in range(ftyp.body + 8, ftyp.end - 3, 4)}


def _movie(data: Buffer, s: isobmff.Structure, container: Container) -> None:
    moov = next((b for b in s.boxes if b.type == "moov"), None)
    if moov is None:
        return
    brands = file_brands(data, s)
    size = human_size(moov.end - moov.start)
    try:
        movie = read_movie(data, moov)
        track = movie.sequence()  # libavif's choice for AV1; refused when it is ambiguous
    except InputError as exc:
        container.findings.add(Kind.OTHER, "unreadable track structure", str(exc), "HEIF moov box")
        container.error = exc
        return
    container.movie = movie
    # A 'pict' track is an image sequence by definition, and an AV1 track is one whatever
    # its handler says (libavif shows it); a 'vide' HEVC one only in a file that says it
    # is a sequence (its brands), otherwise it is a video like any other.
    if track is not None and (track.handler == "pict" or "av01" in track.codecs or brands & SEQUENCE_BRANDS):
        container.sequence = track
    kept = {container.sequence.id} if container.sequence else set()
    if container.sequence is not None:
        kept |= {t.id for t in movie.auxiliary_of(container.sequence)}
    for other in movie.tracks:
        if other.id in kept:
            continue
        if other.handler in PICTURE_HANDLERS:
            container.findings.add(Kind.VIDEO, "video track", size, "HEIF moov box")
        elif other.handler == "soun":
            container.findings.add(Kind.VIDEO, "sound track", size, "HEIF moov box")
        else:
            name = other.handler.encode("ascii", "backslashreplace").decode() or "?"
            container.findings.add(Kind.OTHER, f"'{name}' track", "", "HEIF moov box")
    created = max([movie.created, *(t.created for t in movie.tracks)])
    if created:
        container.findings.add(Kind.TIMESTAMP, "creation time", _mac_time(created), "HEIF moov box")
    container.findings.extend(movie.user_data)
    if not movie.tracks:
        container.findings.add(Kind.OTHER, "box 'moov'", size, "HEIF")


def _mac_time(seconds: int) -> str:
    """A QuickTime/ISO time (seconds from 1904-01-01, UTC) as an ISO 8601 date."""
    try:
        when = datetime(1904, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds)
    except OverflowError:
        return str(seconds)
    return when.strftime("%Y-%m-%d %H:%M:%S UTC")


def _items(data: Buffer, s: isobmff.Structure, found: Findings) -> None:
    refs: dict[str, set[int]] = {}
    derived: set[int] = set()
    for kind, source, targets in s.refs:
        refs.setdefault(kind, set()).add(source)
        if kind == "dimg":
            derived.update(targets)
    for item in s.items.values():
        if item.id == s.primary or item.id in derived:
            continue
        if item.type == "Exif":
            _exif_item(data, s, item, found)
        elif item.type == "mime" and ("xmp" in item.content_type or "rdf" in item.content_type):
            found.extend(xmp.read_xmp(_safe_item_data(data, s, item), "HEIF XMP").findings)
        elif item.id in refs.get("thmb", set()):
            found.add(Kind.THUMBNAIL, "HEIF thumbnail", _dimensions(item), "HEIF")
        elif item.id in refs.get("auxl", set()):
            _auxiliary(item, found)
        elif item.type == "tmap":
            found.add(Kind.SECONDARY_IMAGE, "HDR gain map", "", "HEIF")
        elif item.type in IMAGE_ITEM_TYPES:
            found.add(Kind.SECONDARY_IMAGE, "other image", _dimensions(item), "HEIF")
        else:
            found.add(Kind.OTHER, f"item '{item.type}'", item.content_type, "HEIF")


def _safe_item_data(data: Buffer, s: isobmff.Structure, item: isobmff.Item) -> bytes:
    try:
        return isobmff.item_data(data, s, item)
    except CorruptImage:
        return b""


def _exif_item(data: Buffer, s: isobmff.Structure, item: isobmff.Item, found: Findings) -> None:
    blob = _safe_item_data(data, s, item)
    if len(blob) < 4:
        found.add(Kind.OTHER, "unreadable Exif item", "", "HEIF")
        return
    # An Exif item starts with the offset of the TIFF header (it may follow 'Exif\0\0').
    skip = struct.unpack(">I", blob[:4])[0]
    found.extend(exif.read_exif(blob[4 + skip :] if 4 + skip < len(blob) else blob[4:], "EXIF").findings)


def _auxiliary(item: isobmff.Item, found: Findings) -> None:
    urn = next((body[4:].split(b"\0")[0].decode("latin-1") for t, body in item.props if t == "auxC"), "")
    lowered = urn.lower()
    if lowered.endswith(":auxid:1") or "alpha" in lowered:
        return  # transparency: kept in the output as an alpha channel
    if "depth" in lowered or lowered.endswith(":auxid:2"):
        what = "depth map"
    elif "gainmap" in lowered:
        what = "HDR gain map"
    elif "matte" in lowered:
        what = "portrait matte"
    else:
        what = "auxiliary image"
    found.add(Kind.SECONDARY_IMAGE, what, _dimensions(item), "HEIF")


def _dimensions(item: isobmff.Item) -> str:
    for kind, body in item.props:
        if kind == "ispe" and len(body) >= 12:
            width, height = struct.unpack(">II", body[4:12])
            return f"{width}x{height}"
    return ""


def _top_level(data: Buffer, s: isobmff.Structure, found: Findings) -> None:
    movie = next((b for b in s.boxes if b.type == "moov"), None)
    for box in s.boxes:
        size = human_size(box.end - box.start)
        if box.type == "mpvd":
            found.add(Kind.VIDEO, "motion-photo video", size, "HEIF mpvd box")
        elif box is movie:
            continue  # its tracks are classified by _movie
        elif box.type == "moov":
            found.add(Kind.VIDEO, "video track", size, "HEIF moov box")
        elif box.type not in KNOWN_BOXES:
            name = box.type.encode("ascii", "backslashreplace").decode()
            found.add(Kind.OTHER, f"box '{name}'", size, "HEIF")
    if s.trailing:
        what, words = classify_trailer(data, len(data) - s.trailing)
        kind = {"video": Kind.VIDEO, "image": Kind.SECONDARY_IMAGE}.get(what, Kind.TRAILER)
        found.add(kind, "data after the last box", words, "HEIF")
