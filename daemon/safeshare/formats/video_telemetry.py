"""What a movie's non-picture tracks and GoPro boxes carry, in words a notification can use.

A track that is neither video nor audio is dropped whole; here it is named: a location
track ("GPS every 0.05 s", from GoPro GPMF 'GPS5'/'GPS9' counts, Google CAMM position
samples, or an Apple timed-metadata key naming a location), a subtitle track (its text
searched for coordinates), a timecode track (the time of day it was shot), or a data
track by its codec. GoPro's GPMF (in 'udta' and in 'gpmd' samples) is read as KLV:
four-letter key, type, size, repeat; nested when the type is 0.
"""

from __future__ import annotations

import re
import struct

from safeshare.binary import Buffer
from safeshare.findings import Findings, Kind
from safeshare.formats.video_tracks import Track

WHERE = "video track"
MAX_SCAN = 1 << 20  # bytes of one sample or box read for the report
_COORDINATES = re.compile(
    rb"[-+]?\d{1,3}\.\d{3,}[^0-9]{1,4}[-+]?\d{1,3}\.\d{3,}"  # "48.8584, 2.2945"
    rb"|[+-]\d{2}\.\d+[+-]\d{3}\.\d+"  # ISO 6709: "+48.8584+002.2945"
)
GPS_KEYS = {b"GPS5", b"GPS9", b"GPSU", b"GPRI"}


def gpmf(raw: bytes, depth: int = 0) -> dict[bytes, tuple[int, bytes]]:
    """GPMF keys found in `raw` (nested ones included): key -> (repeat count, payload)."""
    found: dict[bytes, tuple[int, bytes]] = {}
    pos = 0
    while pos + 8 <= len(raw) and depth < 6 and len(found) < 4096:
        key, kind, size, repeat = struct.unpack_from(">4scBH", raw, pos)
        length = size * repeat
        payload = raw[pos + 8 : pos + 8 + length]
        if kind == b"\0":
            for inner, value in gpmf(payload, depth + 1).items():
                found.setdefault(inner, value)
        else:
            found.setdefault(key, (repeat, payload))
        pos += 8 + (length + 3) // 4 * 4
    return found


def gpmf_text(found: dict[bytes, tuple[int, bytes]], key: bytes) -> str:
    value = found.get(key, (0, b""))[1]
    return value.split(b"\0")[0].decode("latin-1", "replace").strip()


def _first_sample(data: Buffer, track: Track) -> bytes:
    """The start of the track's media data: its first chunks, at most MAX_SCAN bytes."""
    taken = bytearray()
    for offset, length in track.chunks:
        if len(taken) >= MAX_SCAN:
            break
        taken += data[offset : min(offset + length, offset + MAX_SCAN - len(taken), len(data))]
    return bytes(taken)


def _devices(sample: bytes) -> tuple[int, str]:
    """From the GPMF devices ('DEVC') of one sample's worth of data: the GPS fixes the
    first GPS device gives per sample ('GPS5'/'GPS9'/'GPRI' repeat count), and the first
    device name that names a product."""
    fixes, model, pos = 0, "", 0
    while pos + 8 <= len(sample) and not (fixes and model):
        key, _, size, repeat = struct.unpack_from(">4scBH", sample, pos)
        if key != b"DEVC":
            break
        inner = gpmf(sample[pos : pos + 8 + size * repeat])
        for gps in (b"GPS5", b"GPS9", b"GPRI"):
            if not fixes and gps in inner:
                fixes = inner[gps][0]
        name = gpmf_text(inner, b"MINF") or gpmf_text(inner, b"DVNM")
        if not model and name.lower() not in ("", "camera"):
            model = name
        pos += 8 + (size * repeat + 3) // 4 * 4
    return fixes, model


def _every(seconds: float) -> str:
    return f"GPS every {seconds:.2g} s" if seconds < 10 else f"GPS every {seconds:.0f} s"


def _camm_samples(sample: bytes, track: Track) -> list[int]:
    """The CAMM sample types (little-endian, after two reserved bytes) of the samples read."""
    types, pos, index = [], 0, 0
    sizes = track.sizes
    while pos + 4 <= len(sample) and index < track.samples:
        types.append(int.from_bytes(sample[pos + 2 : pos + 4], "little"))
        size = track.constant or (sizes[index] if index < len(sizes) else 0)
        if not size:
            break
        pos, index = pos + size, index + 1
    return types


def _camm_count(sample: bytes, track: Track, wanted: set[int]) -> int:
    """Of the samples read, the share that are of the `wanted` types, scaled to the track."""
    types = _camm_samples(sample, track)
    return round(track.samples * sum(1 for t in types if t in wanted) / len(types)) if types else 0


def _per_sample(track: Track) -> float:
    """Seconds per sample, on average (0 when unknown)."""
    if not track.timescale or not track.samples:
        return 0.0
    return track.duration / track.timescale / track.samples


def describe_track(data: Buffer, track: Track, found: Findings) -> None:
    """A dropped track, named by what it holds."""
    codec = track.codecs[0] if track.codecs else ""
    label = (codec or track.handler or "?").strip().encode("ascii", "backslashreplace").decode()
    sample = _first_sample(data, track)
    seconds = track.first_duration / track.timescale if track.timescale else 0.0
    if codec == "gpmd":
        fixes, model = _devices(sample)
        if fixes or any(k in sample for k in GPS_KEYS):
            every = _every(seconds / fixes) if seconds and fixes else "GPS"
            found.add(Kind.GPS, "location track", every, WHERE)
        if model:
            found.add(Kind.DEVICE, "camera", model, WHERE)
        found.add(Kind.OTHER, "telemetry track", "GoPro GPMF (motion sensors, temperature)", WHERE)
    elif codec == "camm":
        kinds = set(_camm_samples(sample, track))
        if kinds & {5, 6}:  # position, or a full GPS fix
            per = _per_sample(track) * track.samples / max(1, _camm_count(sample, track, {5, 6}))
            found.add(Kind.GPS, "location track", _every(per) if per else "GPS", WHERE)
        found.add(Kind.OTHER, "telemetry track", "Google CAMM (motion sensors)", WHERE)
    elif track.handler == "tmcd" or codec == "tmcd":
        found.add(Kind.TIMESTAMP, "timecode track", "the time of day it was recorded", WHERE)
    elif track.handler in ("text", "sbtl", "subt", "clcp") or codec in ("tx3g", "text", "wvtt", "c608"):
        if _COORDINATES.search(sample):
            found.add(Kind.GPS, "location track", "coordinates in subtitles", WHERE)
        found.add(Kind.TEXT, "subtitle track", label, WHERE)
    elif codec == "mebx" or track.handler == "meta":
        stsd = track.boxes.get("stsd")
        entry = bytes(data[stsd.start : stsd.end]) if stsd is not None else b""
        if b"location" in entry.lower() or _COORDINATES.search(sample):
            per = _per_sample(track)
            found.add(Kind.GPS, "location track", _every(per) if per else "GPS", WHERE)
        if b"content.identifier" in entry or b"still-image-time" in entry:
            found.add(Kind.SERIAL, "Live Photo pairing identifier", "", WHERE)
        found.add(Kind.OTHER, "timed metadata track", label, WHERE)
    else:
        if _COORDINATES.search(sample):
            found.add(Kind.GPS, "location track", "coordinates in a data track", WHERE)
        found.add(Kind.OTHER, f"{track.handler or 'data'} track", label, WHERE)


# GoPro's boxes in 'udta': what each one is.
GOPRO_UDTA = {
    "FIRM": (Kind.SOFTWARE, "firmware"),
    "LENS": (Kind.SERIAL, "lens serial number"),
    "CAME": (Kind.SERIAL, "camera serial number"),
    "MUID": (Kind.SERIAL, "media unique ID"),
    "GUMI": (Kind.SERIAL, "media unique ID"),
    "BCID": (Kind.SERIAL, "media unique ID"),
    "SETT": (Kind.CAMERA_SETTINGS, "camera settings"),
    "AMBA": (Kind.CAMERA_SETTINGS, "camera settings"),
    "HMMT": (Kind.OTHER, "highlight tags"),
}


def gopro_box(kind: str, payload: bytes, found: Findings, where: str) -> bool:
    """A GoPro 'udta' child: reported, True; anything else: False."""
    if kind == "GPMF":
        keys = gpmf(payload[:MAX_SCAN])
        model = gpmf_text(keys, b"MINF")
        if model:
            found.add(Kind.DEVICE, "camera", model, where)
        serial = gpmf_text(keys, b"CASN")
        if serial:
            found.add(Kind.SERIAL, "camera serial number", serial, where)
        found.add(Kind.CAMERA_SETTINGS, "camera settings", "GoPro GPMF", where)
        return True
    if kind not in GOPRO_UDTA:
        return False
    what_kind, what = GOPRO_UDTA[kind]
    text = payload.split(b"\0")[0]
    printable = text.isascii() and all(32 <= c < 127 for c in text)
    value = text.decode("ascii") if printable and text else payload[:32].hex()
    if value.strip("0"):
        found.add(what_kind, what, value, where)
    return True
