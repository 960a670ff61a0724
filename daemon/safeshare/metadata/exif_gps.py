"""The EXIF GPS directory, said as what it tells: a place (the position, where the camera
was pointed to go, a written area), or only which way it faced and when.

A direction, speed or measurement mode alone tells nothing about where a photo was taken;
a position of exactly 0, 0 is what receivers write without a fix. Neither is a location.
"""

from __future__ import annotations

import math

from safeshare.findings import Findings, Kind
from safeshare.metadata import exif_tags as tags
from safeshare.metadata.tiff_ifd import Entry, Ifd, TiffReader
from safeshare.metadata.values import decode_text, degrees, format_position

DEST_LATITUDE_REF, DEST_LATITUDE, DEST_LONGITUDE_REF, DEST_LONGITUDE = 0x13, 0x14, 0x15, 0x16
AREA_INFORMATION = 0x1C
POSITION_TAGS = {1, 2, 3, 4}
PLACE_TAGS = POSITION_TAGS | {DEST_LATITUDE, DEST_LONGITUDE, AREA_INFORMATION}
SAID = {tags.GPS_VERSION, 1, 2, 3, 4, 5, 6, 7, tags.GPS_DATE, tags.GPS_DIRECTION, 0x10}
SAID |= {DEST_LATITUDE_REF, DEST_LATITUDE, DEST_LONGITUDE_REF, DEST_LONGITUDE, AREA_INFORMATION}
CHARSETS = (b"ASCII\0\0\0", b"UNICODE\0", b"JIS\0\0\0\0\0", b"\0" * 8)
UNICODE, JIS = CHARSETS[1], CHARSETS[2]


def walk_gps(r: TiffReader, ifd: Ifd, found: Findings, where: str) -> None:
    e = ifd.entries
    position = _position(r, e, (1, 2, 3, 4))
    if position:
        found.add(Kind.GPS, "GPS position", position, where)
    elif _zero(r, e, 2, 4):
        found.add(Kind.OTHER, "GPS position 0, 0 (no fix)", "", where)
    elif tags.GPS_LATITUDE in e or tags.GPS_LONGITUDE in e:
        # Half a position or an impossible one still narrows down where it was taken.
        found.add(Kind.GPS, "GPS coordinates", "incomplete or invalid", where)
    destination = _position(r, e, (DEST_LATITUDE_REF, DEST_LATITUDE, DEST_LONGITUDE_REF, DEST_LONGITUDE))
    if destination or DEST_LATITUDE in e or DEST_LONGITUDE in e:
        found.add(Kind.GPS, "GPS destination position", destination or "incomplete", where)
    if AREA_INFORMATION in e:
        text = area_text(bytes(r.raw(e[AREA_INFORMATION])), r.endian)
        found.add(Kind.GPS, "GPS area information", text, where)
    place = bool(position) or bool(set(e) & (PLACE_TAGS - POSITION_TAGS))
    if tags.GPS_ALTITUDE in e:
        alt = r.rationals(e[tags.GPS_ALTITUDE])
        if alt and math.isfinite(alt[0]):
            below = tags.GPS_ALTITUDE_REF in e and r.raw(e[tags.GPS_ALTITUDE_REF])[:1] == b"\1"
            # A height alone (or over a no-fix 0, 0) tells no place.
            kind = Kind.GPS if place else Kind.CAMERA_SETTINGS
            found.add(kind, "altitude", f"{-alt[0] if below else alt[0]:.0f} m", where)
    if tags.GPS_DATE in e or tags.GPS_TIME in e:
        date = r.text(e[tags.GPS_DATE]) if tags.GPS_DATE in e else ""
        found.add(Kind.TIMESTAMP, "GPS time", date, where)
    if tags.GPS_DIRECTION in e:  # which way it faced: not where it was
        found.add(Kind.CAMERA_SETTINGS, "compass direction", "", where)
    rest = set(e) - SAID
    if rest and place:
        found.add(Kind.GPS, "other GPS data", f"{len(rest)} tags", where)
    elif not place and not set(e) & POSITION_TAGS and set(e) - {tags.GPS_VERSION}:
        found.add(Kind.OTHER, "GPS block without a position", "", where)


def _position(r: TiffReader, e: dict[int, Entry], keys: tuple[int, int, int, int]) -> str:
    lat_ref, lat_tag, lon_ref, lon_tag = keys
    if lat_tag not in e or lon_tag not in e:
        return ""
    lat = degrees(r.rationals(e[lat_tag]))
    lon = degrees(r.rationals(e[lon_tag]))
    if lat is None or lon is None or abs(lat) > 90 or abs(lon) > 180 or lat == lon == 0:
        return ""
    ns = r.text(e[lat_ref]).upper()[:1] if lat_ref in e else "N"
    ew = r.text(e[lon_ref]).upper()[:1] if lon_ref in e else "E"
    return format_position(-lat if ns == "S" else lat, -lon if ew == "W" else lon)


def _zero(r: TiffReader, e: dict[int, Entry], lat_tag: int, lon_tag: int) -> bool:
    if lat_tag not in e or lon_tag not in e:
        return False
    return degrees(r.rationals(e[lat_tag])) == 0 and degrees(r.rationals(e[lon_tag])) == 0


def area_text(raw: bytes, endian: str) -> str:
    """GPSAreaInformation as text: after its 8-byte character code, UCS-2 in the TIFF byte
    order (the other one when more of the zero bytes of ASCII-range characters fall there:
    some writers get it wrong), ISO-2022-JP for JIS, UTF-8 or Latin-1 otherwise."""
    code, body = (raw[:8], raw[8:]) if raw[:8] in CHARSETS else (b"", raw)
    if code == UNICODE:
        body = body[: len(body) // 2 * 2]
        high = 0 if endian == ">" else 1  # where an ASCII-range character has its zero byte
        if body[high::2].count(0) < body[1 - high :: 2].count(0):
            high = 1 - high
        text = body.decode("utf-16-be" if high == 0 else "utf-16-le", errors="replace")
    elif code == JIS:
        text = body.decode("iso2022_jp", errors="replace")
    else:
        text = decode_text(body)
    return text.strip("\0 ")
