"""EXIF tag numbers and what each one gives away.

Tags not listed here are still removed; they are reported as camera settings (Exif IFD)
or other metadata (IFD0) so that `inspect` never pretends a file is clean when it is not.
"""

from __future__ import annotations

from safeshare.findings import Kind

ORIENTATION = 0x0112
EXIF_IFD = 0x8769
GPS_IFD = 0x8825
INTEROP_IFD = 0xA005
MAKE = 0x010F
MODEL = 0x0110
MAKER_NOTE = 0x927C
USER_COMMENT = 0x9286
THUMB_OFFSET = 0x0201
THUMB_LENGTH = 0x0202
STRIP_OFFSETS = 0x0111
STRIP_BYTE_COUNTS = 0x0117
XMP_TAG = 0x02BC
IPTC_TAG = 0x83BB
PHOTOSHOP_TAG = 0x8649
ICC_TAG = 0x8773
SUB_IFDS = 0x014A

# tag -> (kind, what)
SENSITIVE: dict[int, tuple[Kind, str]] = {
    0x0132: (Kind.TIMESTAMP, "modified"),
    0x9003: (Kind.CAPTURE_TIME, "taken"),
    0x9004: (Kind.CAPTURE_TIME, "digitized"),
    0x9010: (Kind.TIMESTAMP, "time zone"),
    0x9011: (Kind.TIMESTAMP, "time zone"),
    0x9012: (Kind.TIMESTAMP, "time zone"),
    0x013C: (Kind.DEVICE, "host computer"),
    0xA433: (Kind.DEVICE, "lens make"),
    0xA434: (Kind.DEVICE, "lens"),
    0xC614: (Kind.DEVICE, "camera model"),
    0xA431: (Kind.SERIAL, "body serial number"),
    0xA435: (Kind.SERIAL, "lens serial number"),
    0xA420: (Kind.SERIAL, "unique image ID"),
    0xC62F: (Kind.SERIAL, "camera serial number"),
    0x013B: (Kind.NAME, "artist"),
    0x8298: (Kind.NAME, "copyright"),
    0xA430: (Kind.NAME, "camera owner"),
    0x9C9D: (Kind.NAME, "author"),
    0x0131: (Kind.SOFTWARE, "software"),
    0x010E: (Kind.TEXT, "description"),
    0x9286: (Kind.TEXT, "user comment"),
    0x9C9B: (Kind.TEXT, "title"),
    0x9C9C: (Kind.TEXT, "comment"),
    0x9C9E: (Kind.TEXT, "keywords"),
    0x9C9F: (Kind.TEXT, "subject"),
    0x010D: (Kind.TEXT, "document name"),
    0x011D: (Kind.TEXT, "page name"),
    0xEA1C: (Kind.OTHER, "padding"),
    33550: (Kind.GPS, "GeoTIFF pixel scale"),
    33922: (Kind.GPS, "GeoTIFF tie points"),
    34264: (Kind.GPS, "GeoTIFF transformation"),
    34735: (Kind.GPS, "GeoTIFF keys"),
    34736: (Kind.GPS, "GeoTIFF parameters"),
    34737: (Kind.GPS, "GeoTIFF parameters"),
    37724: (Kind.HISTORY, "Photoshop layers"),
}

# Structural or harmless tags: removed with the rest of the EXIF but not worth a line.
QUIET = {
    0x0100,
    0x0101,
    0x0102,
    0x0103,
    0x0106,
    0x0112,
    0x0115,
    0x011A,
    0x011B,
    0x011C,
    0x0128,
    0x0211,
    0x0212,
    0x0213,
    0x0214,
    0x9000,
    0x9101,
    0x9290,
    0x9291,
    0x9292,
    0xA000,
    0xA001,
    0xA002,
    0xA003,
    EXIF_IFD,
    GPS_IFD,
    INTEROP_IFD,
    ICC_TAG,
}

CAMERA_SETTING_NAMES = {
    0x829A: "exposure time",
    0x829D: "f-number",
    0x8822: "exposure program",
    0x8827: "ISO",
    0x9204: "exposure bias",
    0x9207: "metering mode",
    0x9209: "flash",
    0x920A: "focal length",
    0xA402: "exposure mode",
    0xA403: "white balance",
    0xA405: "35 mm focal length",
    0xA406: "scene type",
}

GPS_LATITUDE_REF, GPS_LATITUDE, GPS_LONGITUDE_REF, GPS_LONGITUDE = 1, 2, 3, 4
GPS_ALTITUDE_REF, GPS_ALTITUDE, GPS_TIME, GPS_DATE = 5, 6, 7, 0x1D
GPS_DIRECTION = 0x11
GPS_VERSION = 0
