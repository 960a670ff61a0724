"""Independent readers (oracles) and builders for the video tests.

Oracles: what ffprobe, ffmpeg (framemd5) and ExifTool see in a file, none of it safeshare's
code. Builders: tiny MP4/MOV/3GP files made with ffmpeg's lavfi sources (1 s, 160x120) in
every box layout the cleaner must handle (moov last, moov first, fragmented, co64 chunk
offsets), carrying metadata written by ExifTool (or, where ExifTool cannot write, by ffmpeg
itself), plus tracks that must be dropped (mov_text subtitles holding coordinates, a tmcd
timecode track).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import struct
import subprocess
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

FFMPEG, FFPROBE, EXIFTOOL = shutil.which("ffmpeg"), shutil.which("ffprobe"), shutil.which("exiftool")
INSTALL = {"ffmpeg": "apt-get install ffmpeg", "ffprobe": "apt-get install ffmpeg"}
INSTALL["exiftool"] = "apt-get install libimage-exiftool-perl"


def missing_tools(*names: str) -> list[str]:
    found = {"ffmpeg": FFMPEG, "ffprobe": FFPROBE, "exiftool": EXIFTOOL}
    return [name for name in names if found[name] is None]


def require_tools(*names: str) -> None:
    """Skip, saying which independent reader is missing and how to get it (Debian)."""
    missing = missing_tools(*names)
    if missing:
        how = "; ".join(sorted({INSTALL[m] for m in missing}))
        pytest.skip(
            f"{', '.join(missing)} not installed (Debian: {how}): the independent reader these tests need"
        )


def _run(command: list[str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, check=False
    )


# ---------------------------------------------------------------------------------------------
# Oracles
# ---------------------------------------------------------------------------------------------

MEDIA_TYPES = ("video", "audio")


def ffprobe_streams(path: Path) -> list[dict[str, Any]]:
    """Every stream as ffprobe reads it (`-count_packets`: nb_read_packets is counted, not
    taken from the index). Raises when ffprobe cannot read the file."""
    assert FFPROBE is not None
    out = _run([FFPROBE, "-v", "error", "-count_packets", "-show_streams", "-of", "json", str(path)])
    assert out.returncode == 0, f"ffprobe cannot read {path.name}: {out.stderr[-800:]}"
    streams: list[dict[str, Any]] = json.loads(out.stdout).get("streams", [])
    return streams


def is_media(stream: dict[str, Any]) -> bool:
    """A picture or sound stream a viewer plays (an attached cover picture is not one)."""
    attached = stream.get("disposition", {}).get("attached_pic", 0) == 1
    return stream.get("codec_type") in MEDIA_TYPES and not attached


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def stream_summary(stream: dict[str, Any]) -> dict[str, Any]:
    """What must be the same in a clean copy: codec, picture size, sound layout, counts."""
    keys = ("codec_type", "codec_name", "width", "height", "sample_rate", "channels", "pix_fmt")
    summary = {k: stream.get(k) for k in keys if k in stream}
    summary["nb_frames"] = _int(stream.get("nb_frames"))
    summary["nb_read_packets"] = _int(stream.get("nb_read_packets"))
    return summary


def duration_of(stream: dict[str, Any]) -> float | None:
    return _float(stream.get("duration"))


def tick_of(stream: dict[str, Any]) -> float:
    """One tick of the stream's time base, in seconds (the tolerance on durations)."""
    try:
        return float(Fraction(str(stream.get("time_base", "1/1000"))))
    except (ValueError, ZeroDivisionError):
        return 0.001


def framemd5(path: Path, kind: str) -> list[str]:
    """Hashes of the decoded frames of every video (`kind` "v") or audio ("a") stream, one
    "<stream>,<md5>" per frame in decoding order: the header and the timestamps are left
    out, so a copy with the same pictures and sound compares equal. [] when there is no
    such stream."""
    assert kind in ("v", "a")
    assert FFMPEG is not None
    wanted = "video" if kind == "v" else "audio"
    if not any(s.get("codec_type") == wanted for s in ffprobe_streams(path)):
        return []
    command = [FFMPEG, "-nostdin", "-v", "error", "-i", str(path), "-map", f"0:{kind}", "-f", "framemd5", "-"]
    out = _run(command)
    assert out.returncode == 0, f"ffmpeg cannot decode the {wanted} of {path.name}: {out.stderr[-800:]}"
    hashes = []
    for line in out.stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = [f.strip() for f in line.split(",")]
        hashes.append(f"{fields[0]},{fields[-1]}")
    return hashes


def exiftool_ee(path: Path) -> dict[str, Any]:
    """`exiftool -ee -G3:1 -a -j -n`: every tag, the timed samples too (-ee: GoPro GPMF
    GPS, Apple timed metadata), keyed "[DocN:]Group:Tag" (-G3:1: the embedded document, if
    any, then the group such as Keys, UserData, ItemList, XMP-exif, Track2)."""
    assert EXIFTOOL is not None
    out = _run([EXIFTOOL, "-ee", "-G3:1", "-a", "-j", "-n", str(path)])
    records = json.loads(out.stdout or "[]")
    assert records, f"exiftool cannot read {path.name}: {out.stderr[-800:]}"
    record: dict[str, Any] = records[0]
    return record


@dataclass(frozen=True)
class Leak:
    """One tag ExifTool reads that gives something away, with where it sits."""

    klass: str  # location, serial, device, software, time, person
    tag: str  # "[DocN:]Group:Name" as ExifTool keys it
    value: Any

    def __str__(self) -> str:
        return f"{self.klass}: {self.tag}={str(self.value)[:80]!r}"


IGNORED_GROUPS = {"SourceFile", "ExifTool", "System", "File"}
_LOCATION = re.compile(r"GPS|Location|Coordinates|ISO6709", re.IGNORECASE)
# GoPro: CAME is the SerialNumberHash, MUID the MediaUniqueID (ExifTool's names; the raw box
# names appear with -u); Apple: ContentIdentifier links a Live Photo to its picture.
_SERIAL = re.compile(r"Serial|UniqueID|UID|Identifier|CameraID|^(CAME|MUID|GUMI|BCID)$")
_DEVICE = re.compile(r"Make|Model|Manufacturer|Firmware")
_SOFTWARE = re.compile(r"Software|Encoder|EncodedBy|EncodedWith|CreatorTool|HistorySoftwareAgent")
_PERSON = re.compile(r"Artist|Author|^Creator$|Owner|Copyright|Director|Producer|Performer|Publisher")
# Values that name a device even in a tag that is not about one (a handler or compressor
# name such as "GoPro AVC encoder", "Core Media Video").
DEVICE_WORDS = re.compile(
    r"GoPro|\bHERO\d|Karma|Apple|iPhone|iPad|Core ?Media|Samsung|Galaxy|\bSM-[A-Z]\d|Pixel \d|Nexus|"
    r"Huawei|Xiaomi|OnePlus|\bDJI\b|Insta360|Garmin|Sony|Canon|Nikon|Panasonic|Motorola|Nokia",
    re.IGNORECASE,
)
_DATE_VALUE = re.compile(r"^\s*(\d{4})[-:](\d\d)[-:](\d\d)")


def _zero(value: Any) -> bool:
    if value in (None, "", 0, 0.0):
        return True
    text = str(value).strip()
    match = _DATE_VALUE.match(text)
    return bool(match and int(match.group(1)) == 0) or text.strip("0: -T+Z.") == ""


def _split(key: str) -> tuple[str, str]:
    group, _, name = key.rpartition(":")
    return group, name


def leak_findings(record: dict[str, Any]) -> list[Leak]:
    """Every tag in an `exiftool_ee` record that gives away where, when, which device (make,
    model, serial numbers, firmware; software and encoder names), or who. Dates count only
    when not zero (a cleaner may leave zeroed mvhd/tkhd/mdhd dates)."""
    leaks = []
    for key, value in record.items():
        group, name = _split(key)
        if not group or group.split(":")[-1] in IGNORED_GROUPS:
            continue
        klass = None
        if _LOCATION.search(name):
            klass = "location"
        elif _SERIAL.search(name):
            klass = "serial"
        elif _DEVICE.search(name):
            klass = "device"
        elif _SOFTWARE.search(name):
            klass = "software"
        elif "Date" in name or (isinstance(value, str) and _DATE_VALUE.match(value)):
            klass = None if _zero(value) else "time"
        elif _PERSON.search(name):
            klass = "person"
        elif isinstance(value, str) and DEVICE_WORDS.search(value):
            klass = "device"
        if klass is not None and not (klass != "time" and _zero(value)):
            leaks.append(Leak(klass, key, value))
    return leaks


def leak_classes(leaks: Iterable[Leak]) -> set[str]:
    return {leak.klass for leak in leaks}


# Byte needles: the values ExifTool read, in the forms a file stores them, so that a copy
# that still holds them anywhere (dead bytes left in 'mdat', a subtitle, a 'free' box) is
# caught even where ExifTool no longer looks.


def _numbers(value: Any) -> list[float]:
    if isinstance(value, int | float):
        return [float(value)]
    return [float(x) for x in re.findall(r"[-+]?\d+\.\d+|[-+]?\d+", str(value))]


def _coordinates(record: dict[str, Any]) -> Iterator[tuple[str, float, float | None]]:
    """(document, latitude or longitude, its pair if known) from every GPS-like tag."""
    docs: dict[str, dict[str, float]] = {}
    for key, value in record.items():
        group, name = _split(key)
        doc = group.split(":")[0] if group.startswith("Doc") else ""
        if name in ("GPSLatitude", "GPSLongitude"):
            numbers = _numbers(value)
            if numbers:
                docs.setdefault(f"{doc}:{group}", {})[name] = numbers[0]
        elif name in ("GPSCoordinates", "GPSPosition", "Location", "LocationISO6709"):
            numbers = _numbers(value)
            if len(numbers) >= 2:
                yield doc, numbers[0], numbers[1]
    for pair in docs.values():
        lat, lon = pair.get("GPSLatitude"), pair.get("GPSLongitude")
        for v in (lat, lon):
            if v is not None:
                yield "", v, None
        if lat is not None and lon is not None:
            yield "pair", lat, lon


def location_needles(record: dict[str, Any]) -> set[bytes]:
    """Coordinates as text ('+48.8584' as ISO 6709 writes them, '48.8584' anywhere, ExifTool's
    own digits) and, for pairs, as GoPro GPMF stores them (big-endian int32 degrees x 1e7)."""
    needles: set[bytes] = set()
    for doc, first, second in _coordinates(record):
        for v in (first, second):
            if v is None or abs(v) < 0.5:
                continue
            for text in (f"{v:+.4f}", f"{abs(v):.4f}", repr(abs(v)), f"{abs(v):.5f}"):
                if len(text.replace("+", "").replace("-", "")) >= 6:
                    needles.add(text.encode())
        if doc == "pair" and second is not None:
            lat, lon = round(first * 1e7), round(second * 1e7)
            if min(lat, lon) >= -(2**31) and max(lat, lon) < 2**31:
                needles.add(struct.pack(">ii", lat, lon))
    return needles


def _serial_forms(value: Any) -> set[bytes]:
    text = str(value).strip()
    forms = set()
    if len(text) >= 6 and text.strip("0 ") and text.lower() not in ("none", "unknown"):
        forms.add(text.encode())
        if re.fullmatch(r"(?:[0-9a-fA-F]{2}){6,}", text):
            forms.add(bytes.fromhex(text))  # GoPro CAME: ExifTool shows the 16 bytes as hex
    ints = [int(x) for x in re.findall(r"\d+", text)] if re.fullmatch(r"[\d ]+", text) else []
    ints = [i for i in ints if 0 < i < 2**32]
    if len(ints) >= 2:  # GoPro MUID: int32 words
        forms.add(struct.pack(f"<{len(ints)}I", *ints))
        forms.add(struct.pack(f">{len(ints)}I", *ints))
    return forms


def identity_needles(record: dict[str, Any]) -> set[bytes]:
    """Serial numbers and unique ids ExifTool read (as text, and binary where ExifTool shows
    them as hex or integers), and model names ("HERO5 Black", "iPhone 15 Pro")."""
    needles: set[bytes] = set()
    for leak in leak_findings(record):
        _, name = _split(leak.tag)
        if leak.klass == "serial":
            needles |= _serial_forms(leak.value)
        elif leak.klass == "device" and "Model" in name and len(str(leak.value).strip()) >= 5:
            needles.add(str(leak.value).strip().encode())
    return needles


def found_in(data: bytes, needles: Iterable[bytes]) -> list[bytes]:
    return sorted(n for n in needles if n in data)


# ---------------------------------------------------------------------------------------------
# Boxes (ISOBMFF / QuickTime), enough to describe a layout and to rewrite chunk offsets
# ---------------------------------------------------------------------------------------------

CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "mvex", "moof", "traf", "udta", "tref"}


@dataclass(frozen=True)
class Box:
    kind: str
    start: int
    header: int
    end: int

    @property
    def body(self) -> int:
        return self.start + self.header


def boxes(data: bytes, start: int = 0, end: int | None = None) -> list[Box]:
    end = len(data) if end is None else end
    found, pos = [], start
    while pos + 8 <= end:
        size, raw = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            (size,) = struct.unpack_from(">Q", data, pos + 8)
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            break
        found.append(Box(raw.decode("latin-1"), pos, header, pos + size))
        pos += size
    return found


def walk(data: bytes, start: int = 0, end: int | None = None, path: str = "") -> Iterator[tuple[str, Box]]:
    for b in boxes(data, start, end):
        here = f"{path}/{b.kind}"
        yield here, b
        if b.kind in CONTAINERS:
            yield from walk(data, b.body, b.end, here)


def layout(data: bytes) -> str:
    """Top-level boxes in order, runs of moof+mdat counted, and the chunk offset box kinds:
    'ftyp moov mdat [stco]', 'ftyp moov (moof mdat)x4 mfra [stco]'."""
    kinds = [b.kind for b in boxes(data)]
    parts: list[str] = []
    i = 0
    while i < len(kinds):
        if kinds[i] == "moof" and i + 1 < len(kinds) and kinds[i + 1] == "mdat":
            n = 0
            while i + 1 < len(kinds) and kinds[i] == "moof" and kinds[i + 1] == "mdat":
                n, i = n + 1, i + 2
            parts.append(f"(moof mdat)x{n}")
            continue
        parts.append(kinds[i])
        i += 1
    found = list(walk(data))
    offsets = sorted({b.kind for _, b in found if b.kind in ("stco", "co64")})
    bases = set()
    for _, b in found:
        if b.kind == "tfhd":
            flags = int.from_bytes(data[b.body + 1 : b.body + 4], "big")
            bases.add("explicit" if flags & 1 else "moof" if flags & 0x020000 else "first-byte")
    notes = offsets + ([f"tfhd base {'/'.join(sorted(bases))}"] if bases else [])
    return " ".join(parts) + (f" [{', '.join(notes)}]" if notes else "")


def _header(kind: str, body_size: int) -> bytes:
    return struct.pack(">I4s", 8 + body_size, kind.encode("latin-1"))


def _the_moov(data: bytes) -> Box:
    moovs = [b for b in boxes(data) if b.kind == "moov"]
    assert len(moovs) == 1, "one moov box expected"
    return moovs[0]


def _moov_with_offsets(data: bytes, moov: Box, shift: Callable[[int], int], co64: bool) -> bytes:
    """'moov' rebuilt with every chunk offset passed through `shift`, as co64 when asked
    (else each table keeps its kind), and the parents' sizes updated."""

    def rebuilt(b: Box) -> bytes:
        if b.kind in ("stco", "co64"):
            count = struct.unpack_from(">I", data, b.body + 4)[0]
            width = "I" if b.kind == "stco" else "Q"
            entries = [shift(o) for o in struct.unpack_from(f">{count}{width}", data, b.body + 8)]
            kind, width = ("co64", "Q") if co64 else (b.kind, width)
            body = data[b.body : b.body + 4] + struct.pack(f">I{count}{width}", count, *entries)
            return _header(kind, len(body)) + body
        if b.kind in ("moov", "trak", "mdia", "minf", "stbl"):
            body = b"".join(rebuilt(c) for c in boxes(data, b.body, b.end))
            return _header(b.kind, len(body)) + body
        return data[b.start : b.end]

    return rebuilt(moov)


def stco_to_co64(data: bytes) -> bytes:
    """The same file with every 32-bit chunk offset table ('stco') rewritten as a 64-bit one
    ('co64'): 'moov' and its parents grow, and when 'moov' comes before the media data every
    chunk offset past it is shifted by that growth. Existing co64 entries are shifted too."""
    moov = _the_moov(data)
    growth = sum(
        4 * struct.unpack_from(">I", data, b.body + 4)[0]
        for _, b in walk(data, moov.start, moov.end)
        if b.kind == "stco"
    )
    new_moov = _moov_with_offsets(data, moov, lambda o: o + growth if o >= moov.end else o, co64=True)
    assert len(new_moov) == (moov.end - moov.start) + growth or moov.header != 8
    return data[: moov.start] + new_moov + data[moov.end :]


def moov_to_end(data: bytes) -> bytes:
    """The same file with 'moov' moved after everything else (as cameras write it), the chunk
    offsets past its old place moved back by its size. ExifTool moves 'moov' first when it
    writes, so files that should have it last are tagged first, then rearranged."""
    moov = _the_moov(data)
    size = moov.end - moov.start
    new_moov = _moov_with_offsets(data, moov, lambda o: o - size if o >= moov.end else o, co64=False)
    return data[: moov.start] + data[moov.end :] + new_moov


# ---------------------------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------------------------

LAT, LON, ALT = 48.8584, 2.2945, 35
SERIAL, LENS_SERIAL = "F2LXK0Q9PLJM", "DN81234567"
SECRETS = (
    b"48.8584",
    b"+48.8584",
    b"2.2945",
    b"Tour Eiffel",
    SERIAL.encode(),
    LENS_SERIAL.encode(),
    b"iPhone 15 Pro",
    b"Jane Roe",
)
SUBTITLE = f"Tour Eiffel {LAT}, {LON}"

EXIFTOOL_TAGS = (
    f"-Keys:GPSCoordinates={LAT}, {LON}, {ALT}",
    f"-UserData:GPSCoordinates={LAT}, {LON}, {ALT}",
    f"-ItemList:GPSCoordinates={LAT}, {LON}, {ALT}",
    "-Keys:Make=Apple",
    "-Keys:Model=iPhone 15 Pro",
    "-Keys:Software=17.1.2",
    "-Keys:CreationDate=2023:11:05 14:30:00+01:00",
    "-Keys:LocationName=Tour Eiffel",
    "-UserData:Make=Apple",
    "-UserData:Model=iPhone 15 Pro",
    f"-UserData:SerialNumber={SERIAL}",
    f"-UserData:LensSerialNumber={LENS_SERIAL}",
    "-UserData:FirmwareVersion=HD9.01.01.60.00",
    "-UserData:DateTimeOriginal=2023:11:05 14:30:00+01:00",
    "-ItemList:Author=Jane Roe",
    "-ItemList:ContentCreateDate=2023:11:05 14:30:00+01:00",
    "-QuickTime:CreateDate=2023:11:05 13:30:00",
    "-QuickTime:ModifyDate=2023:11:05 13:31:00",
    "-QuickTime:TrackCreateDate=2023:11:05 13:30:00",
    "-QuickTime:TrackModifyDate=2023:11:05 13:30:00",
    "-QuickTime:MediaCreateDate=2023:11:05 13:30:00",
    "-QuickTime:MediaModifyDate=2023:11:05 13:30:00",
    f"-XMP-exif:GPSLatitude={LAT}",
    f"-XMP-exif:GPSLongitude={LON}",
    "-XMP-tiff:Make=Apple",
    "-XMP-tiff:Model=iPhone 15 Pro",
    "-XMP-xmp:CreateDate=2023:11:05 14:30:00+01:00",
)
# ExifTool cannot write fragmented files ("Can't yet handle movie fragments when writing"):
# those get the same kind of metadata from ffmpeg itself (mvhd/tkhd/mdhd dates, an Apple
# 'mdta' keys list with location, make, model and creation date, and a 'loci' box).
FFMPEG_TAGS = (
    "-metadata", "creation_time=2023-11-05T13:30:00Z",
    "-metadata", f"location=+{LAT:.4f}+{LON:08.4f}+{ALT:07.3f}/",
    "-metadata", f"com.apple.quicktime.location.ISO6709=+{LAT:.4f}+{LON:08.4f}+{ALT:07.3f}/",
    "-metadata", "com.apple.quicktime.make=Apple",
    "-metadata", "com.apple.quicktime.model=iPhone 15 Pro",
    "-metadata", "com.apple.quicktime.software=17.1.2",
    "-metadata", "com.apple.quicktime.creationdate=2023-11-05T14:30:00+0100",
    "-metadata", f"com.apple.quicktime.camera.lens_model=iPhone 15 Pro back camera {LENS_SERIAL}",
    "-metadata", f"com.apple.quicktime.camera.serialnumber={SERIAL}",
)  # fmt: skip
# With these tags, -movflags must also hold +use_metadata_tags (one -movflags wins).

VIDEO_IN = ("-f", "lavfi", "-i", "testsrc=size=160x120:rate=25:duration=1")
AUDIO_IN = ("-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=1")
H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-g", "10", "-pix_fmt", "yuv420p")
AAC = ("-c:a", "aac", "-b:a", "64k")


@dataclass
class Synthetic:
    """One built file: what it is, its box layout, and the text it must not keep."""

    name: str
    path: Path
    what: str
    layout: str = ""
    secrets: tuple[bytes, ...] = SECRETS
    extra_streams: tuple[str, ...] = ()  # codec_type of tracks a clean copy must drop


@dataclass
class Built:
    files: dict[str, Synthetic] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # name -> why it could not be built


def ffmpeg(*args: str) -> None:
    assert FFMPEG is not None
    out = _run([FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args])
    if out.returncode != 0:
        raise RuntimeError(f"ffmpeg {' '.join(args[-6:])}: {out.stderr[-800:]}")


def exiftool_write(path: Path, tags: Iterable[str] = EXIFTOOL_TAGS) -> None:
    assert EXIFTOOL is not None
    out = _run([EXIFTOOL, "-q", "-q", "-overwrite_original", *tags, str(path)])
    if out.returncode != 0:
        raise RuntimeError(f"exiftool cannot write {path.name}: {out.stderr[-800:]}")


def _encoders() -> str:
    assert FFMPEG is not None
    return _run([FFMPEG, "-hide_banner", "-encoders"]).stdout


def build_all(folder: Path) -> Built:
    """Every synthetic video, built in `folder` (about 0.5 MB in all, a few seconds)."""
    folder.mkdir(parents=True, exist_ok=True)
    built = Built()
    encoders = _encoders()

    def add(name: str, what: str, extra: tuple[str, ...] = ()) -> Path:
        path = folder / name
        built.files[name] = Synthetic(name, path, what, extra_streams=extra)
        return path

    if " libx264 " not in encoders:
        built.skipped["*"] = "ffmpeg has no libx264 encoder"
        return built

    p = add("mp4_moov_last.mp4", "MP4, ExifTool tags, moov after mdat")
    ffmpeg(*VIDEO_IN, *AUDIO_IN, *H264, *AAC, str(p))
    exiftool_write(p)
    p.write_bytes(moov_to_end(p.read_bytes()))

    p = add("mp4_faststart.mp4", "MP4, -movflags +faststart (moov before mdat), ExifTool tags")
    ffmpeg(*VIDEO_IN, *AUDIO_IN, *H264, *AAC, "-movflags", "+faststart", str(p))
    exiftool_write(p)

    p = add("mp4_fragmented.mp4", "fragmented MP4 (frag_keyframe+empty_moov), tags written by ffmpeg")
    flags = "frag_keyframe+empty_moov+use_metadata_tags"
    ffmpeg(*VIDEO_IN, *AUDIO_IN, *H264, *AAC, *FFMPEG_TAGS, "-movflags", flags, str(p))

    p = add("mp4_fragmented_dbm.mp4", "fragmented MP4 (+default_base_moof), tags written by ffmpeg")
    flags = "frag_keyframe+empty_moov+default_base_moof+use_metadata_tags"
    ffmpeg(*VIDEO_IN, *AUDIO_IN, *H264, *AAC, *FFMPEG_TAGS, "-movflags", flags, str(p))

    p = add("mov_plain.mov", "QuickTime MOV, H.264 + PCM, moov last, ExifTool tags")
    ffmpeg(*VIDEO_IN, *AUDIO_IN, *H264, "-c:a", "pcm_s16le", "-f", "mov", str(p))
    exiftool_write(p)
    p.write_bytes(moov_to_end(p.read_bytes()))

    if " h263 " in encoders:
        # 3GPP allows AAC as well as AMR; this ffmpeg may have no AMR encoder (libopencore).
        amr = " libopencore_amrnb " in encoders
        audio = ("-c:a", "libopencore_amrnb", "-ar", "8000", "-ac", "1", "-b:a", "12.2k") if amr else (
            "-c:a", "aac", "-ar", "8000", "-ac", "1", "-b:a", "16k")  # fmt: skip
        p = add("3gp_h263.3gp", f"3GP, H.263 176x144 + {'AMR-NB' if amr else 'AAC (no AMR encoder)'}, tags")
        small = ("-f", "lavfi", "-i", "testsrc=size=176x144:rate=15:duration=1")
        ffmpeg(*small, *AUDIO_IN, "-c:v", "h263", *audio, "-f", "3gp", str(p))
        exiftool_write(p)
        p.write_bytes(moov_to_end(p.read_bytes()))
    else:
        built.skipped["3gp_h263.3gp"] = "ffmpeg has no h263 encoder"

    if " mov_text " in encoders:
        srt = folder / "gps.srt"
        srt.write_text(f"1\n00:00:00,000 --> 00:00:00,900\n{SUBTITLE}\n", encoding="utf-8")
        p = add(
            "mp4_subtitle_gps.mp4",
            "MP4, moov first (as ExifTool leaves it), mov_text subtitle with coordinates",
            ("subtitle",),
        )
        ffmpeg(*VIDEO_IN, *AUDIO_IN, "-i", str(srt), "-map", "0", "-map", "1", "-map", "2",
               *H264, *AAC, "-c:s", "mov_text", "-metadata:s:s:0", "language=fra", str(p))  # fmt: skip
        exiftool_write(p)
        srt.unlink()
    else:
        built.skipped["mp4_subtitle_gps.mp4"] = "ffmpeg has no mov_text encoder"

    p = add("mov_timecode.mov", "MOV with a tmcd timecode track (-write_tmcd 1), ExifTool tags", ("data",))
    ffmpeg(
        *VIDEO_IN, *AUDIO_IN, *H264, *AAC, "-f", "mov", "-write_tmcd", "1", "-timecode", "10:11:12:13", str(p)
    )
    exiftool_write(p)
    p.write_bytes(moov_to_end(p.read_bytes()))

    source = built.files["mp4_faststart.mp4"].path
    p = add("mp4_co64_faststart.mp4", "co64 chunk offsets, moov first (offsets shifted by moov's growth)")
    p.write_bytes(stco_to_co64(source.read_bytes()))
    source = built.files["mov_plain.mov"].path
    p = add("mov_co64.mov", "co64 chunk offsets, moov last")
    p.write_bytes(stco_to_co64(source.read_bytes()))

    for item in built.files.values():
        item.layout = layout(item.path.read_bytes())
        item.path.chmod(0o444)  # inputs are read, never written
    return built


SYNTHETIC_NAMES = (
    "mp4_moov_last.mp4",
    "mp4_faststart.mp4",
    "mp4_fragmented.mp4",
    "mp4_fragmented_dbm.mp4",
    "mov_plain.mov",
    "3gp_h263.3gp",
    "mp4_subtitle_gps.mp4",
    "mov_timecode.mov",
    "mp4_co64_faststart.mp4",
    "mov_co64.mov",
)


# ---------------------------------------------------------------------------------------------
# Cleaning through the command line, and the checks on a clean copy
# ---------------------------------------------------------------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class CleanRun:
    """`safeshare clean SOURCE --output OUT --json` (no vision), run once."""

    source: Path
    out: Path
    proc: subprocess.CompletedProcess[str]
    result: dict[str, Any]
    outputs: list[Path]
    sha_before: str
    sha_after: str

    def why(self) -> str:
        reason = self.result.get("reason") or self.proc.stderr[-1500:]
        return f"{self.source.name}: exit {self.proc.returncode}, {self.result.get('status')}: {reason}"


def clean_video(source: Path, out: Path) -> CleanRun:
    from tests.conftest import json_lines, run_cli
    from tests.helpers import ROOT

    before = sha256(source)
    proc = run_cli("clean", str(source), "--output", str(out), "--json", cwd=ROOT)
    lines = json_lines(proc.stdout) if proc.stdout.strip() else []
    result = lines[0] if len(lines) == 1 else {"status": None, "reason": f"{len(lines)} result lines"}
    outputs = sorted(p for p in out.rglob("*") if p.is_file()) if out.is_dir() else []
    return CleanRun(source, out, proc, result, outputs, before, sha256(source))


def assert_cleaned(run: CleanRun) -> Path:
    """Exit 0, one result saying cleaned, one file written with the input's extension, and
    the input unchanged. The clean copy."""
    assert run.sha_before == run.sha_after, f"{run.source.name} was modified"
    assert run.proc.returncode == 0, run.why()
    assert run.result.get("status") == "cleaned", run.why()
    assert len(run.outputs) == 1, f"expected one output file, found {[p.name for p in run.outputs]}"
    output = run.outputs[0]
    assert Path(run.result["output"]).resolve() == output.resolve()
    assert output.suffix == run.source.suffix, f"{output.name}: the extension changed"
    return output


def media_problems(source: Path, output: Path) -> list[str]:
    """Differences between the picture and sound streams of `source` and every stream of
    `output` (which must hold nothing else: no data, subtitle, timecode or cover tracks)."""
    problems = []
    kept = [s for s in ffprobe_streams(source) if is_media(s)]
    streams = ffprobe_streams(output)
    others = [
        f"#{s['index']} {s.get('codec_type')} {s.get('codec_tag_string')}" for s in streams if not is_media(s)
    ]
    if others:
        problems.append(f"streams that should have been dropped: {others}")
    media = [s for s in streams if is_media(s)]
    if len(media) != len(kept):
        problems.append(f"{len(media)} picture/sound streams instead of {len(kept)}")
    for before, after in zip(kept, media, strict=False):
        want, got = stream_summary(before), stream_summary(after)
        if want["nb_frames"] is None:  # a fragmented input has no sample count in its moov
            got["nb_frames"] = None
        if want != got:
            problems.append(f"stream #{before['index']}: {want} became {got}")
        d_in, d_out = duration_of(before), duration_of(after)
        if d_in is not None and (d_out is None or abs(d_in - d_out) > tick_of(before) + 1e-6):
            problems.append(f"stream #{before['index']}: duration {d_in} became {d_out}")
    return problems


def frame_problems(source: Path, output: Path) -> list[str]:
    problems = []
    for kind in ("v", "a"):
        want, got = framemd5(source, kind), framemd5(output, kind)
        if want != got:
            first = next((i for i, (a, b) in enumerate(zip(want, got, strict=False)) if a != b), None)
            problems.append(f"{kind}: {len(want)} frames became {len(got)}, first difference at {first}")
    return problems


def clean_in_process(source: Path, out: Path) -> Any:
    """One file through the pipeline as `clean` runs it (read, clean, stage, verify,
    publish), in this process: the Result (pipeline.Result), published or not."""
    from safeshare.outdir import OutputFolder
    from safeshare.pipeline import Pipeline, Result, Settings

    prepared = Pipeline(Settings()).prepare(source)
    if isinstance(prepared, Result):
        return prepared
    ready = prepared.stage(OutputFolder(out), Path())
    if isinstance(ready, Result):
        return ready
    result = ready.commit(source.name, replace=False)
    assert result is not None
    return result
