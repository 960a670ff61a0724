"""GPS properties of an XMP packet, said as what they tell (like the EXIF GPS directory).

Every latitude, longitude, destination or area written in XMP is a finding: the position
when it reads, "incomplete or invalid" when it does not (half a position, or a form no
reader knows, still narrows down where a photo was taken). A position of exactly 0, 0 is
what receivers write without a fix: not a location.
"""

from __future__ import annotations

import re

from safeshare.findings import Findings, Kind
from safeshare.metadata.values import format_position

LATITUDE, LONGITUDE = "exif:GPSLatitude", "exif:GPSLongitude"
DEST_LATITUDE, DEST_LONGITUDE = "exif:GPSDestLatitude", "exif:GPSDestLongitude"
AREA = "exif:GPSAreaInformation"
DRONE_LATITUDE = "drone-dji:GpsLatitude"
DRONE_LONGITUDES = ("drone-dji:GpsLongitude", "drone-dji:GpsLongtitude")  # DJI's spelling too
INVALID = "incomplete or invalid"

# XMP GPSCoordinate: 'DDD,MM,SSk' or 'DDD,MM.mmk'.
_DMS = re.compile(r"^(\d+(?:\.\d+)?),(\d+(?:\.\d+)?)(?:,(\d+(?:\.\d+)?))?([NSEW])$")
# Written by some tools instead: 'DD.ddddk', or signed decimal degrees.
_DECIMAL = re.compile(r"^(\d+(?:\.\d+)?)([NSEW])$|^([+-]?\d+(?:\.\d+)?)$")


def gps_findings(values: dict[str, str], found: Findings, where: str) -> set[str]:
    """Add what the GPS properties in `values` tell; return the names said here (the
    caller says nothing more of them)."""
    said: set[str] = set()
    drone_lon = next((n for n in DRONE_LONGITUDES if n in values), DRONE_LONGITUDES[0])
    for lat_name, lon_name in ((LATITUDE, LONGITUDE), (DRONE_LATITUDE, drone_lon)):
        if lat_name not in values and lon_name not in values:
            continue
        said |= {lat_name, lon_name}
        lat, lon = _pair(values, lat_name, lon_name)
        if lat is None or lon is None:
            found.add(Kind.GPS, "GPS coordinates", INVALID, where)
        elif lat == lon == 0:
            found.add(Kind.OTHER, "GPS position 0, 0 (no fix)", "", where)
        else:
            found.add(Kind.GPS, "GPS position", format_position(lat, lon), where)
    if DEST_LATITUDE in values or DEST_LONGITUDE in values:
        said |= {DEST_LATITUDE, DEST_LONGITUDE}
        lat, lon = _pair(values, DEST_LATITUDE, DEST_LONGITUDE)
        valid = lat is not None and lon is not None and not lat == lon == 0
        shown = format_position(lat, lon) if lat is not None and lon is not None and valid else INVALID
        found.add(Kind.GPS, "GPS destination position", shown, where)
    if AREA in values:
        said.add(AREA)
        found.add(Kind.GPS, "GPS area information", values[AREA].strip(), where)
    return said


def _pair(values: dict[str, str], lat_name: str, lon_name: str) -> tuple[float | None, float | None]:
    return coordinate(values.get(lat_name), "NS", 90), coordinate(values.get(lon_name), "EW", 180)


def coordinate(text: str | None, refs: str, limit: float) -> float | None:
    """Signed decimal degrees of an XMP coordinate, or None when it does not read as one
    (missing, malformed, the other axis's reference, out of range)."""
    if text is None:
        return None
    compact = "".join(text.split()).upper()
    ref = ""
    if match := _DMS.match(compact):
        deg, minutes, seconds, ref = match.groups()
        value = float(deg) + float(minutes) / 60 + float(seconds or 0) / 3600
    elif match := _DECIMAL.match(compact):
        unsigned, ref, signed = match.groups()
        value = float(unsigned if unsigned is not None else signed)
        ref = ref or ""
    else:
        return None
    if ref and ref not in refs:
        return None
    value = -value if ref and ref == refs[1] else value
    return value if abs(value) <= limit else None
