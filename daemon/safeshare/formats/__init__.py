"""The format registry: the format of a file is decided by its first bytes, never its name."""

from __future__ import annotations

from safeshare.errors import EmptyFile, NotAnImage, UnsupportedFormat
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.formats.gif import Gif
from safeshare.formats.heif import Avif, Heif
from safeshare.formats.jpeg import Jpeg
from safeshare.formats.png import Png
from safeshare.formats.tiff import Tiff
from safeshare.formats.webp import WebP

__all__ = [
    "FORMATS",
    "HEAD_SIZE",
    "CleanOptions",
    "Cleaned",
    "ImageFormat",
    "Inspection",
    "by_name",
    "detect",
    "looks_like_image_name",
]

HEAD_SIZE = 64
FORMATS: tuple[ImageFormat, ...] = (Jpeg(), Png(), WebP(), Gif(), Tiff(), Heif(), Avif())
_BY_NAME = {fmt.name: fmt for fmt in FORMATS}
# Picture formats we recognise by name but do not clean: a file named so is reported when it
# cannot be cleaned ("unsupported format: BMP"), where other non-images are skipped quietly.
OTHER_IMAGE_SUFFIXES = frozenset(
    {".bmp", ".jxl", ".jp2", ".psd", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"}
    | {".ico", ".svg"}
)
IMAGE_SUFFIXES = frozenset(ext for fmt in FORMATS for ext in fmt.extensions) | OTHER_IMAGE_SUFFIXES


def by_name(name: str) -> ImageFormat:
    """The format called `name` (`Cleaned.format`, `ImageFormat.name`)."""
    return _BY_NAME[name]


def looks_like_image_name(name: str) -> bool:
    """The file's name claims a picture (by its extension), whatever its content."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES


# Recognised but not cleaned: say what the file is instead of "not an image".
_UNSUPPORTED: tuple[tuple[bytes, int, str], ...] = (
    (b"BM", 0, "BMP"),  # confirmed by its zero reserved field in detect()
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000 codestream"),
    (b"\xff\x0a", 0, "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", 0, "JPEG XL"),
    (b"8BPS", 0, "Photoshop PSD"),
    (b"\x00\x00\x01\x00", 0, "Windows icon (ICO)"),
    (b"\x00\x00\x02\x00", 0, "Windows cursor (CUR)"),
    (b"%PDF", 0, "PDF document"),
    (b"IIRO", 0, "camera raw (Olympus ORF)"),
    (b"IIU\x00", 0, "camera raw (Panasonic RW2)"),
    (b"FUJIFILMCCD-RAW", 0, "camera raw (Fujifilm RAF)"),
    (b"qoif", 0, "QOI"),
    (b"icns", 0, "Apple icon (ICNS)"),
    (b"DDS ", 0, "DirectDraw surface (DDS)"),
    (b"PK\x03\x04", 0, "ZIP archive"),
    (b"RIFF", 0, "RIFF file that is not WebP (AVI or WAV)"),
    (b"gimp xcf", 0, "GIMP XCF"),
    (b"\x76\x2f\x31\x01", 0, "OpenEXR"),
    (b"#?RADIANCE", 0, "Radiance HDR"),
)
_VIDEO_BRANDS = (b"isom", b"iso2", b"mp41", b"mp42", b"qt  ", b"M4V ", b"3gp", b"avc1", b"dash")


def detect(head: bytes) -> ImageFormat:
    """The format whose magic `head` starts with; NotAnImage/UnsupportedFormat otherwise."""
    if not head:
        raise EmptyFile("empty file (0 bytes)")
    for fmt in FORMATS:
        if fmt.sniff(head):
            return fmt
    for magic, offset, name in _UNSUPPORTED:
        if magic == b"BM" and head[6:10] != b"\0\0\0\0":
            continue
        if head[offset : offset + len(magic)] == magic:
            raise UnsupportedFormat(f"unsupported format: {name}")
    if head[4:8] == b"ftyp":
        kind = "video (MP4/MOV)" if head[8:12].startswith(_VIDEO_BRANDS) else "ISO media file"
        raise UnsupportedFormat(f"unsupported format: {kind} {head[8:12].decode('latin-1')!r}")
    if head.lstrip().startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        raise UnsupportedFormat("unsupported format: SVG")
    raise NotAnImage(f"not an image: {_describe(head)}")


def _describe(head: bytes) -> str:
    """A short guess at what the content is, for the error message."""
    text = head.lstrip(b"\xef\xbb\xbf")
    try:
        decoded = text.decode("utf-8")
    except UnicodeDecodeError:
        decoded = ""
    if decoded and all(ch.isprintable() or ch in "\r\n\t" for ch in decoded[:48]):
        if text.lstrip().startswith((b"<!DOCTYPE html", b"<html", b"<HTML")):
            return "the content is an HTML page"
        return "the content is text"
    return "unrecognised content"
