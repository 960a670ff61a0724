"""Everything a movie carries outside what playback needs (the allowlist of video_write.py).

Reported: top-level boxes that are not the file type, movie, media data or fragments;
user data and 'meta' anywhere (locations, make and model, dates, XMP, GoPro serials);
creation and modification times; handler names, vendor codes and compressor names; every
track that is neither video nor audio (video_telemetry.py says what it holds); boxes of a
kept track outside the allowlist; media bytes that no kept track uses; bytes after the
last box. A cleaned output must show none of these: the verifier relies on it.
"""

from __future__ import annotations

import datetime
import struct

from safeshare.binary import Buffer
from safeshare.findings import Findings, Kind
from safeshare.formats.isobmff import Box, boxes
from safeshare.formats.isobmff_udta import read_user_data
from safeshare.formats.video_sizes import colour, slack
from safeshare.formats.video_telemetry import describe_track
from safeshare.formats.video_tracks import Track, children
from safeshare.formats.video_write import (
    AUDIO_BOXES,
    AUDIO_HEADER,
    MDIA_KEPT,
    MINF_KEPT,
    STBL_KEPT,
    TRAK_KEPT,
    VENDOR_CODED,
    VIDEO_BOXES,
    VISUAL_HEADER,
)

WHERE = "video"
TOP_KEPT = frozenset({"ftyp", "moov", "mdat", "moof", "styp"})
TOP_QUIET = frozenset({"free", "skip", "wide", "sidx", "mfra"})  # layout only: nothing to say
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")
EPOCH_1904 = datetime.datetime(1904, 1, 1, tzinfo=datetime.UTC)


def _name(kind: str) -> str:
    return kind.encode("ascii", "backslashreplace").decode()


def when(seconds: int) -> str:
    try:
        moment = EPOCH_1904 + datetime.timedelta(seconds=seconds)
    except OverflowError:
        return str(seconds)
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def times(data: Buffer, header: Box) -> tuple[int, int]:
    if header.body + 20 > header.end:
        return 0, 0
    if data[header.body] == 1 and header.body + 20 <= header.end:
        created, modified = struct.unpack_from(">QQ", data, header.body + 4)
    else:
        created, modified = struct.unpack_from(">II", data, header.body + 4)
    return int(created), int(modified)


def top_level(data: Buffer, top: list[Box], found: Findings) -> None:
    for b in top:
        if b.type in TOP_KEPT:
            continue
        if b.type in ("udta", "meta"):
            found.extend(read_user_data(data, b, "video user data"))
        elif b.type == "uuid" and bytes(data[b.body : b.body + 16]) == XMP_UUID:
            found.add(Kind.SOFTWARE, "XMP packet", "", "video XMP")
        elif b.type == "prft":
            found.add(Kind.TIMESTAMP, "wall-clock time of a fragment", "", WHERE)
        elif b.type in TOP_QUIET:
            if b.type in ("free", "skip") and bytes(data[b.body : min(b.end, b.body + 65536)]).strip(b"\0"):
                found.add(Kind.OTHER, "leftover data in padding", f"{b.end - b.body} bytes", WHERE)
        else:
            found.add(Kind.OTHER, "vendor box", f"'{_name(b.type)}'", WHERE)
    if top and top[-1].end < len(data):
        found.add(Kind.TRAILER, "data after the video", f"{len(data) - top[-1].end} bytes", WHERE)


def movie(data: Buffer, moov: Box, tracks: list[Track], found: Findings) -> None:
    for b in children(data, moov):
        if b.type == "mvhd":
            _slack(data, b, found, WHERE)
            created, modified = times(data, b)
            if created or modified:
                found.add(Kind.CAPTURE_TIME, "recording time", when(created or modified), WHERE)
        elif b.type in ("udta", "meta"):
            found.extend(read_user_data(data, b, "video user data"))
        elif b.type == "uuid":
            found.add(Kind.OTHER, "vendor box", "'uuid'", WHERE)
        elif b.type not in ("trak", "mvex", "iods", "free", "skip"):
            found.add(Kind.OTHER, "movie box", f"'{_name(b.type)}'", WHERE)
    for track in tracks:
        if track.kept:
            kept_track(data, track, found)
        else:
            describe_track(data, track, found)


def kept_track(data: Buffer, track: Track, found: Findings) -> None:
    where = f"video track {track.id}"
    for b in children(data, track.trak):
        if b.type == "tkhd":
            _times(data, b, found, where)
            _slack(data, b, found, where)
        elif b.type in ("edts", "tapt"):
            for inner in children(data, b):
                if inner.type in ("elst", "clef", "prof", "enof"):
                    _slack(data, inner, found, where)
                else:
                    _other(data, inner, found, where)
        elif b.type == "mdia":
            for m in children(data, b):
                if m.type == "mdhd":
                    _times(data, m, found, where)
                    _slack(data, m, found, where)
                elif m.type == "hdlr":
                    _handler(data, m, found, where)
                elif m.type == "minf":
                    _minf(data, m, track, found, where)
                elif m.type not in MDIA_KEPT:
                    _other(data, m, found, where)
        elif b.type not in TRAK_KEPT:
            _other(data, b, found, where)


def _times(data: Buffer, header: Box, found: Findings, where: str) -> None:
    created, modified = times(data, header)
    if created or modified:
        found.add(Kind.TIMESTAMP, "track times", when(created or modified), where)


def _handler(data: Buffer, hdlr: Box, found: Findings, where: str) -> None:
    vendor = bytes(data[hdlr.body + 12 : hdlr.body + 24])
    name = bytes(data[hdlr.body + 24 : hdlr.end]).lstrip(b"\0").strip(b"\0 ")
    if name and not (len(name) == 1 and hdlr.end - hdlr.body == 25):  # a Pascal length byte only
        found.add(Kind.SOFTWARE, "track handler name", name.decode("utf-8", "replace"), where)
    if vendor.strip(b"\0"):
        found.add(Kind.SOFTWARE, "handler vendor", vendor[:4].decode("latin-1"), where)


def _other(data: Buffer, b: Box, found: Findings, where: str) -> None:
    if b.type in ("udta", "meta"):
        found.extend(read_user_data(data, b, f"{where} user data"))
    elif b.type not in ("free", "skip"):
        found.add(Kind.OTHER, "track box", f"'{_name(b.type)}'", where)


def _minf(data: Buffer, minf: Box, track: Track, found: Findings, where: str) -> None:
    for b in children(data, minf):
        if b.type == "hdlr":
            _handler(data, b, found, where)
        elif b.type == "dinf":
            _references(data, b, found, where)
        elif b.type == "stbl":
            for s in children(data, b):
                if s.type == "stsd":
                    _entries(data, s, track.handler, found, where)
                elif s.type not in STBL_KEPT | {"stco", "co64"}:
                    _other(data, s, found, where)
                else:
                    _slack(data, s, found, where)
        elif b.type not in MINF_KEPT:
            _other(data, b, found, where)
        else:
            _slack(data, b, found, where)


def _slack(data: Buffer, b: Box, found: Findings, where: str) -> None:
    hidden = slack(data, b)
    if hidden:
        found.add(Kind.OTHER, "data after a box's fields", f"'{_name(b.type)}' {hidden} bytes", where)


def _colour(data: Buffer, b: Box, found: Findings, where: str) -> None:
    """A colour box: its ICC profile's findings, or what it holds beyond its fields."""
    kind = bytes(data[b.body : b.body + 4])
    if kind in (b"prof", b"rICC"):
        from safeshare.metadata.icc import sanitize_icc

        found.extend(sanitize_icc(bytes(data[b.body + 4 : b.end]), f"{where} colour profile").findings)
    elif bytes(colour(data, b) or b"")[8:] != bytes(data[b.body : b.end]):
        found.add(Kind.OTHER, "colour box data", f"{b.end - b.body} bytes", where)


def _references(data: Buffer, dinf: Box, found: Findings, where: str) -> None:
    """A data reference that holds more than 'in this file' (a URL, a path, an alias)."""
    for dref in children(data, dinf):
        entries = boxes(data, dref.body + 8, dref.end) if dref.type == "dref" else []
        for entry in entries:
            value = bytes(data[entry.body + 4 : entry.end]).strip(b"\0")
            if value:
                text = value.decode("utf-8", "replace")
                found.add(Kind.OTHER, "data reference", text, where)


def _entries(data: Buffer, stsd: Box, handler: str, found: Findings, where: str) -> None:
    for entry in boxes(data, stsd.body + 8, stsd.end):
        raw = bytes(data[entry.start : entry.end])
        if raw[20:24].strip(b"\0"):
            found.add(Kind.SOFTWARE, "encoder vendor", raw[20:24].decode("latin-1"), where)
        if handler == "vide":
            header, allowed = VISUAL_HEADER, VIDEO_BOXES
            name = raw[51 : 51 + raw[50]] if len(raw) >= VISUAL_HEADER else b""
            if raw[50:82].strip(b"\0"):
                text = name.decode("utf-8", "replace") or raw[50:82].hex()
                found.add(Kind.SOFTWARE, "encoder name", text, where)
        else:
            version = int.from_bytes(raw[16:18], "big")
            header, allowed = AUDIO_HEADER.get(version, len(raw)), AUDIO_BOXES
        inner = boxes(data, entry.start + header, entry.end, top=True) if header < len(raw) else []
        for b in inner:
            if b.type == "colr":
                _colour(data, b, found, where)
            elif b.type not in allowed and b.type not in VENDOR_CODED:
                found.add(Kind.OTHER, "sample description box", f"'{_name(b.type)}'", where)
            elif b.type in VENDOR_CODED and bytes(data[b.body : b.body + 5]).strip(b"\0"):
                found.add(
                    Kind.SOFTWARE, "encoder vendor", bytes(data[b.body : b.body + 4]).decode("latin-1"), where
                )
            else:
                _slack(data, b, found, where)
        end = inner[-1].end if inner else entry.start + header
        if end < entry.end and bytes(data[end : entry.end]).strip(b"\0"):
            found.add(Kind.OTHER, "data in a sample description", f"{entry.end - end} bytes", where)
