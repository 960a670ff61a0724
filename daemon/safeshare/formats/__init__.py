"""The format registry: the format of a file is decided by its first bytes, never its name.

A format is one module (a subclass of `ImageFormat`) plus one line in `FORMATS` below, which
says what is known before the module is imported: the format's name, its extensions and
its magic. The module itself is imported only when a file's content picks it (`detect`)
or its name is asked for (`by_name`), so that cleaning a JPEG loads no HEIF machinery.
"""

from __future__ import annotations

import importlib
import mmap
import threading
from collections.abc import Callable

from safeshare.errors import EmptyFile, InputError, NotAnImage, UnsupportedFormat
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection

__all__ = [
    "FORMATS",
    "HEAD_SIZE",
    "CleanOptions",
    "Cleaned",
    "ImageFormat",
    "Inspection",
    "Registered",
    "by_name",
    "detect",
    "looks_like_image_name",
    "streamed_loader",
]

HEAD_SIZE = 64


class Registered:
    """One line of the registry: a format known by name, extensions and magic, whose module
    (`safeshare.formats.<module>`, class `<cls>`) is imported the first time it is needed."""

    __slots__ = ("_format", "cls", "extensions", "module", "name", "sniff")

    def __init__(
        self, name: str, where: str, extensions: tuple[str, ...], sniff: Callable[[bytes], bool]
    ) -> None:
        self.name = name
        self.module, _, self.cls = where.partition(":")
        self.extensions = extensions
        self.sniff = sniff  # True when the first bytes (at least 32) are this format's magic
        self._format: ImageFormat | None = None

    def load(self) -> ImageFormat:
        """The format's one shared (stateless) instance, its module imported on first use."""
        if self._format is None:
            with _LOADING:
                if self._format is None:
                    module = importlib.import_module(f"safeshare.formats.{self.module}")
                    self._format = getattr(module, self.cls)()
        return self._format

    def __repr__(self) -> str:
        return f"Registered({self.name!r}, {self.module}:{self.cls})"


_LOADING = threading.RLock()  # one instance per format, though two threads detect at once
_HEIF_BRANDS = frozenset(
    {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
)
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_JXL_BOX = b"\x00\x00\x00\x0cJXL \r\n\x87\n"  # the JPEG XL container's signature box


def _brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an 'ftyp' box at the start of `head`."""
    if head[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(head[:4], "big"), len(head))
    return {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}


def _heif(head: bytes) -> bool:
    return bool(_brands(head) & _HEIF_BRANDS) and head[8:12] not in _AVIF_BRANDS


def _avif(head: bytes) -> bool:
    found = _brands(head)
    return head[8:12] in _AVIF_BRANDS or (bool(found & _AVIF_BRANDS) and b"heic" not in found)


_QUICKTIME_FIRST = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")
_MOVIE_BRANDS = (
    *("isom", "iso2", "iso3", "iso4", "iso5", "iso6", "mp41", "mp42", "avc1", "M4V ", "M4VH", "M4VP"),
    *("3gp", "3g2", "mmp4", "MSNV", "XAVC", "dash", "f4v ", "NDAS", "CAEP"),
)


def _mp4(head: bytes) -> bool:
    """An ISO movie: an 'ftyp' naming a movie brand and none of the HEIF or AVIF ones."""
    return head[8:12].decode("latin-1").startswith(_MOVIE_BRANDS) and not (_heif(head) or _avif(head))


def _quicktime(head: bytes) -> bool:
    """QuickTime: the 'qt  ' brand, or (older files) no 'ftyp' but a movie's first atom."""
    if head[4:8] == b"ftyp":
        return head[8:12] == b"qt  "
    size = int.from_bytes(head[:4], "big")
    return head[4:8] in _QUICKTIME_FIRST and (size == 0 or size >= 8)


# Tried in this order: the first whose magic matches is the file's format.
FORMATS: tuple[Registered, ...] = (
    Registered(
        "JPEG", "jpeg:Jpeg", (".jpg", ".jpeg", ".jpe", ".jfif", ".mpo"), lambda h: h[:3] == b"\xff\xd8\xff"
    ),
    Registered("PNG", "png:Png", (".png", ".apng"), lambda h: h.startswith(b"\x89PNG\r\n\x1a\n")),
    Registered("WebP", "webp:WebP", (".webp",), lambda h: h[:4] == b"RIFF" and h[8:12] == b"WEBP"),
    Registered("GIF", "gif:Gif", (".gif",), lambda h: h[:6] in (b"GIF87a", b"GIF89a")),
    Registered(
        "TIFF", "tiff:Tiff", (".tif", ".tiff"), lambda h: h[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+")
    ),
    Registered("HEIF", "heif:Heif", (".heic", ".heif", ".hif"), _heif),
    Registered("AVIF", "heif:Avif", (".avif",), _avif),
    Registered("MP4", "video:Mp4", (".mp4", ".m4v", ".3gp", ".3g2"), _mp4),
    Registered("QuickTime", "video:QuickTime", (".mov", ".qt"), _quicktime),
    Registered("JPEG XL", "jxl:JpegXl", (".jxl",), lambda h: h[:2] == b"\xff\x0a" or h[:12] == _JXL_BOX),
    Registered("BMP", "bmp:Bmp", (".bmp", ".dib"), lambda h: h[:2] == b"BM" and h[6:10] == b"\0\0\0\0"),
)
_BY_NAME = {fmt.name: fmt for fmt in FORMATS}
# Picture and video formats we recognise by name but do not clean: a file named so is reported
# when it cannot be cleaned ("unsupported format: Photoshop PSD"), where other files are
# skipped quietly. Videos are among them: a user who sees photos and MP4s copied would take a
# missing WebM for a copy made, unless told.
OTHER_IMAGE_SUFFIXES = frozenset(
    {".jp2", ".psd", ".dng", ".cr2", ".cr3", ".nef", ".arw", ".orf", ".rw2", ".raf"}
    | {".ico", ".svg"}
    | {".mkv", ".webm", ".avi", ".wmv", ".flv", ".mts", ".m2ts", ".mpg", ".mpeg", ".insv", ".lrv"}
)
IMAGE_SUFFIXES = frozenset(ext for fmt in FORMATS for ext in fmt.extensions) | OTHER_IMAGE_SUFFIXES


def by_name(name: str) -> ImageFormat:
    """The format called `name` (`Cleaned.format`, `ImageFormat.name`)."""
    return _BY_NAME[name].load()


def looks_like_image_name(name: str) -> bool:
    """The file's name claims a picture (by its extension), whatever its content."""
    dot = name.rfind(".")
    return dot > 0 and name[dot:].lower() in IMAGE_SUFFIXES


# Recognised but not cleaned: say what the file is instead of "not an image".
_UNSUPPORTED: tuple[tuple[bytes, int, str], ...] = (
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", 0, "JPEG 2000"),
    (b"\xff\x4f\xff\x51", 0, "JPEG 2000 codestream"),
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
    (b"\x1a\x45\xdf\xa3", 0, "Matroska or WebM video"),
    (b"\x00\x00\x01\xba", 0, "MPEG program stream video"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "Windows Media video (ASF)"),
    (b"FLV\x01", 0, "Flash video (FLV)"),
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
            return fmt.load()
    for magic, offset, name in _UNSUPPORTED:
        if head[offset : offset + len(magic)] == magic:
            raise UnsupportedFormat(f"unsupported format: {name}")
    if head[4:8] == b"ftyp":
        kind = "video (MP4/MOV)" if head[8:12].startswith(_VIDEO_BRANDS) else "ISO media file"
        raise UnsupportedFormat(f"unsupported format: {kind} {head[8:12].decode('latin-1')!r}")
    if head.lstrip().startswith((b"<svg", b"<?xml")) and b"<svg" in head:
        raise UnsupportedFormat("unsupported format: SVG")
    raise NotAnImage(f"not an image: {_describe(head)}")


def streamed_loader(head: bytes) -> Callable[[int, int], mmap.mmap] | None:
    """How to read a file of a streamed format (a video), by its first bytes; None: whole
    (and a file that is no known format is read whole, to be refused for its reason)."""
    try:
        fmt = detect(head)
    except InputError:
        return None
    return fmt.load if fmt.streamed else None


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
