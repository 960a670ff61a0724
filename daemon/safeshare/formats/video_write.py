"""A movie header ('moov') rebuilt from what playback needs, by allowlist.

Kept: 'mvhd'; per video or audio track 'tkhd' (rotation matrix and all), 'edts', 'tref'
entries that name kept tracks, 'tapt', 'mdia' with 'mdhd', 'hdlr', 'minf' (media header,
a self-contained 'dinf', 'stbl' with every sample table and the sample entries' codec,
colour and HDR boxes), and 'mvex' for fragmented files. Creation and modification times
are written as zero; handler names, the encoder's vendor code and compressor name are
blanked. Everything else goes: 'udta', 'meta', 'uuid', 'iods', and every other track.
Chunk offsets are rewritten for the new layout ('co64' when any passes 4 GiB).
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, UnsupportedFormat
from safeshare.formats.isobmff import Box, boxes
from safeshare.formats.video_sizes import colour, trimmed
from safeshare.formats.video_tracks import Track, children

TRAK_KEPT = frozenset({"tkhd", "edts", "tref", "mdia", "tapt"})
TAPT_KEPT = frozenset({"clef", "prof", "enof"})
MDIA_KEPT = frozenset({"mdhd", "hdlr", "minf"})
MINF_KEPT = frozenset({"vmhd", "smhd", "hdlr", "dinf", "stbl"})
STBL_KEPT = frozenset(
    {"stsd", "stts", "ctts", "cslg", "stss", "stps", "sdtp", "stsc", "stsz", "stz2", "sgpd", "sbgp", "subs"}
)
VIDEO_BOXES = frozenset(
    {"avcC", "hvcC", "av1C", "vpcC", "vvcC", "dvcC", "dvvC", "dvwC", "lhvC", "hvcE", "colr", "pasp"}
    | {"clap", "btrt", "fiel", "gama", "mdcv", "clli", "cclv", "amve", "SmDm", "CoLL", "esds", "d263"}
    | {"glbl", "st3d", "sv3d", "vexu", "hfov", "dvh1"}
)
AUDIO_BOXES = frozenset(
    {"esds", "wave", "chan", "dOps", "dfLa", "alac", "dac3", "dec3", "dac4", "btrt", "pcmC", "damr"}
    | {"chnl", "SA3D", "SAND", "dmlp", "ddts", "udts", "mhaC", "srat"}
)
WAVE_KEPT = frozenset({"frma", "enda", "mp4a"}) | AUDIO_BOXES  # QuickTime sound extras
VISUAL_HEADER = 86  # sample entry header (16) + VisualSampleEntry fields (70)
AUDIO_HEADER = {0: 36, 1: 52, 2: 72}  # by the QuickTime sound description version
SELF_CONTAINED = struct.pack(">I4sI", 12, b"url ", 1)
VENDOR_CODED = frozenset({"damr", "d263", "dawp", "devc", "dqcp", "dsmv"})  # vendor (4), version (1)
PROTECTED = frozenset({"sinf", "encv", "enca", "drms", "drmi"})


def box(kind: str, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind.encode("latin-1")) + body


def zero_times(data: Buffer, header: Box) -> bytes:
    """'mvhd', 'tkhd' or 'mdhd' with its creation and modification times set to zero."""
    raw = bytearray(trimmed(data, header)[8:])
    width = 8 if raw[:1] == b"\x01" else 4
    raw[4 : 4 + 2 * width] = bytes(2 * width)
    return box(header.type, bytes(raw))


def blank_handler(data: Buffer, hdlr: Box) -> bytes:
    """'hdlr' keeping its handler type, with the vendor fields and the name emptied."""
    raw = bytes(data[hdlr.body : hdlr.body + 12])
    return box("hdlr", raw, bytes(12), b"\0")


def _entry(data: Buffer, entry: Box, handler: str) -> bytes:
    """One sample entry: its fixed fields (vendor and compressor name blanked), and the
    child boxes of the allowlist for its kind of track."""
    if entry.type in PROTECTED:
        raise UnsupportedFormat("unsupported video: protected (DRM) media")
    raw = bytearray(data[entry.start : entry.end])
    if handler == "vide":
        header, allowed = VISUAL_HEADER, VIDEO_BOXES
        if len(raw) >= header:
            raw[50:82] = bytes(32)  # compressor name ("GoPro AVC encoder")
    else:
        version = int.from_bytes(raw[16:18], "big") if len(raw) >= 18 else 0
        header, allowed = AUDIO_HEADER.get(version, 0), AUDIO_BOXES
        if not header:
            raise UnsupportedFormat(f"unsupported video: sound description version {version}")
    if len(raw) < header:
        raise CorruptImage("corrupt video: a sample description shorter than its fields")
    raw[20:24] = bytes(4)  # vendor ('appl', 'FFMP')
    kept = bytearray(raw[8:header])
    for inner in boxes(data, entry.start + header, entry.end, top=True):
        if inner.type in PROTECTED:
            raise UnsupportedFormat("unsupported video: protected (DRM) media")
        if inner.type in VENDOR_CODED:  # 3GPP codec boxes open with the encoder's vendor code
            raw_box = bytearray(data[inner.start : inner.end])
            raw_box[inner.body - inner.start : inner.body - inner.start + 5] = bytes(5)
            kept += raw_box
        elif inner.type == "colr":
            kept += colour(data, inner) or b""
        elif inner.type == "sv3d":
            kept += _spherical(data, inner)
        elif inner.type == "wave":
            kept += _kept(data, inner, WAVE_KEPT, lambda w: trimmed(data, w))
        elif inner.type in allowed:
            kept += trimmed(data, inner)
    return box(entry.type, bytes(kept))


def _spherical(data: Buffer, sv3d: Box) -> bytes:
    """Spherical video ('sv3d'): its projection kept, the name of the tool that wrote it
    ('svhd', "GoPro", "Spherical Metadata Tooling") blanked."""
    parts = [box("svhd", bytes(5))]
    parts += [bytes(data[b.start : b.end]) for b in children(data, sv3d) if b.type == "proj"]
    return box("sv3d", *parts)


def _stsd(data: Buffer, stsd: Box, handler: str) -> bytes:
    entries = boxes(data, stsd.body + 8, stsd.end)
    head = bytes(data[stsd.body : stsd.body + 4]) + struct.pack(">I", len(entries))
    return box("stsd", head, *(_entry(data, e, handler) for e in entries))


def _dinf(data: Buffer, dinf: Box) -> bytes:
    """A data reference that says 'in this file'; media kept in another file is refused."""
    for dref in children(data, dinf):
        if dref.type == "dref":
            for entry in boxes(data, dref.body + 8, dref.end):
                flags = int.from_bytes(bytes(data[entry.body + 1 : entry.body + 4]), "big")
                if not flags & 1:
                    raise UnsupportedFormat("unsupported video: its media data is in another file")
    return box("dinf", box("dref", struct.pack(">II", 0, 1), SELF_CONTAINED))


def _offsets(offsets: list[int], wide: bool) -> bytes:
    if wide:
        return box("co64", struct.pack(f">II{len(offsets)}Q", 0, len(offsets), *offsets))
    return box("stco", struct.pack(f">II{len(offsets)}I", 0, len(offsets), *offsets))


def _kept(data: Buffer, parent: Box, allowed: frozenset[str], make: Callable[[Box], bytes | None]) -> bytes:
    parts = []
    for inner in children(data, parent):
        if inner.type in allowed:
            made = make(inner)
            if made is not None:
                parts.append(made)
    return box(parent.type, *parts)


def _tref(data: Buffer, tref: Box, kept_ids: set[int]) -> bytes | None:
    refs = []
    for ref in children(data, tref):
        count = (ref.end - ref.body) // 4
        ids = [i for i in struct.unpack_from(f">{count}I", data, ref.body) if i in kept_ids]
        if ids:
            refs.append(box(ref.type, struct.pack(f">{len(ids)}I", *ids)))
    return box("tref", *refs) if refs else None


def track(data: Buffer, t: Track, offsets: list[int], wide: bool, kept_ids: set[int]) -> bytes:
    """One kept track, rebuilt; `offsets` are its chunks' places in the new file."""

    def in_stbl(b: Box) -> bytes | None:
        if b.type == "stsd":
            return _stsd(data, b, t.handler)
        if b.type in ("saiz", "saio", "senc"):
            raise UnsupportedFormat("unsupported video: protected (DRM) media")
        if b.type == "sgpd":  # seeking hints: one whose length cannot be told is left out
            try:
                return trimmed(data, b)
            except CorruptImage:
                return None
        return trimmed(data, b)

    def in_minf(b: Box) -> bytes | None:
        if b.type == "stbl":
            return _with_offsets(_kept(data, b, STBL_KEPT, in_stbl), offsets, wide)
        if b.type == "dinf":
            return _dinf(data, b)
        if b.type == "hdlr":
            return blank_handler(data, b)
        return trimmed(data, b)

    def in_mdia(b: Box) -> bytes | None:
        if b.type == "mdhd":
            return zero_times(data, b)
        if b.type == "hdlr":
            return blank_handler(data, b)
        return _kept(data, b, MINF_KEPT, in_minf)

    def in_trak(b: Box) -> bytes | None:
        if b.type == "tkhd":
            return zero_times(data, b)
        if b.type == "tref":
            return _tref(data, b, kept_ids)
        if b.type == "mdia":
            return _kept(data, b, MDIA_KEPT, in_mdia)
        if b.type == "edts":
            return _kept(data, b, frozenset({"elst"}), lambda e: trimmed(data, e))
        return _kept(data, b, TAPT_KEPT, lambda e: trimmed(data, e))  # 'tapt'

    return _kept(data, t.trak, TRAK_KEPT, in_trak)


def _with_offsets(stbl: bytes, offsets: list[int], wide: bool) -> bytes:
    """The rebuilt 'stbl' with its chunk offset table appended (its order is free)."""
    table = _offsets(offsets, wide)
    return struct.pack(">I", len(stbl) + len(table)) + stbl[4:] + table


def mvex(data: Buffer, found: Box, kept_ids: set[int]) -> bytes:
    parts = []
    for inner in children(data, found):
        if inner.type == "mehd":
            parts.append(bytes(data[inner.start : inner.end]))
        elif inner.type == "trex" and inner.body + 8 <= inner.end:
            (track_id,) = struct.unpack_from(">I", data, inner.body + 4)
            if track_id in kept_ids:
                parts.append(bytes(data[inner.start : inner.end]))
    return box("mvex", *parts)


def movie(
    data: Buffer, moov: Box, tracks: Iterable[tuple[Track, list[int]]], wide: bool, kept_ids: set[int]
) -> bytes:
    """The whole 'moov': its header, the kept tracks (with their new chunk offsets), 'mvex'."""
    found = {inner.type: inner for inner in children(data, moov)}
    if "mvhd" not in found:
        raise CorruptImage("corrupt video: no movie header ('mvhd')")
    parts = [zero_times(data, found["mvhd"])]
    parts += [track(data, t, offsets, wide, kept_ids) for t, offsets in tracks]
    if "mvex" in found:
        parts.append(mvex(data, found["mvex"], kept_ids))
    return box("moov", *parts)
