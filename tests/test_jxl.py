"""JPEG XL: the codestream kept byte for byte, the container rebuilt without metadata boxes.

Real files are made with cjxl (lossless, from the corpus PNGs, and from a JPEG, which gives
'jxlp' parts, 'jbrd' and a Brotli-compressed 'Exif'), metadata is added with ExifTool, and
djxl checks that input and output decode to the same pixels. Without libjxl-tools
(Debian: apt-get install libjxl-tools) those tests are skipped; the structural ones, on
boxes built here around a stand-in codestream, always run."""

from __future__ import annotations

import importlib.util
import shutil
import struct
import subprocess
import sys
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.errors import CorruptImage, InputError, Truncated
from safeshare.findings import Kind
from safeshare.formats import CleanOptions, detect
from safeshare.formats.jxl import FTYP, MAX_BOXES, MAX_INFLATED, SIGNATURE, JpegXl
from safeshare.pipeline import Pipeline, Settings, Status
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS, exiftool_read, require_exiftool

CJXL, DJXL = shutil.which("cjxl"), shutil.which("djxl")
STREAM = b"\xff\x0a" + bytes(range(256)) * 3  # stands in for a codestream: never decoded here
SECRETS = (b"Canon", b"Alice Example", b"secret-comment-xyz", b"Nikon")
HAVE_BROTLI = importlib.util.find_spec("brotli") is not None


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def container(*boxes: bytes) -> bytes:
    return SIGNATURE + FTYP + b"".join(boxes)


def joined(data: bytes) -> bytes:
    cleaned = JpegXl().clean(data, CleanOptions())
    out = b"".join(bytes(p) for p in cleaned.parts)
    assert JpegXl().reread(out, cleaned) is None
    assert JpegXl().inspect(out).findings.items == []
    return out


def require_libjxl() -> tuple[str, str]:
    if CJXL is None or DJXL is None:
        reason = "cjxl/djxl not installed (Debian: apt-get install libjxl-tools)"
        print(f"skipped: {reason}")
        pytest.skip(reason)
    return CJXL, DJXL


def encode(source: Path, target: Path, *args: str) -> bytes:
    cjxl, _ = require_libjxl()
    subprocess.run([cjxl, str(source), str(target), *args], check=True, capture_output=True)
    return target.read_bytes()


def pixels(data: bytes, tmp: Path) -> bytes:
    """djxl's decoding, as PNG, read back as raw pixels (mode, size and bytes)."""
    _, djxl = require_libjxl()
    src, out = tmp / "decode-in.jxl", tmp / "decode-out.png"
    src.write_bytes(data)
    subprocess.run([djxl, str(src), str(out)], check=True, capture_output=True)
    with Image.open(out) as image:
        return f"{image.mode} {image.size}".encode() + image.tobytes()


def with_metadata(tmp_path: Path, name: str) -> Path:
    target = tmp_path / (Path(name).stem + ".jxl")
    encode(CORPUS / "png" / name, target, "-d", "0", "--container=1")
    subprocess.run(
        [
            require_exiftool(),
            "-q",
            "-overwrite_original",
            "-GPSLatitude=48.8583",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=2.2944",
            "-GPSLongitudeRef=E",
            "-Make=Canon",
            "-Model=Canon EOS R5",
            "-DateTimeOriginal=2024:06:01 12:00:00",
            "-XMP:Creator=Alice Example",
            str(target),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.mark.parametrize("name", ["pillow__copyleft.png", "pillow__xmp_tags_orientation.png"])
def test_exiftool_metadata_is_removed_and_pixels_kept(tmp_path: Path, name: str) -> None:
    source = with_metadata(tmp_path, name)
    data = source.read_bytes()
    assert detect(data[:64]).name == "JPEG XL"
    found = JpegXl().inspect(data).findings
    assert {Kind.GPS, Kind.DEVICE, Kind.CAPTURE_TIME, Kind.NAME} <= found.kinds()
    out = joined(data)
    assert pixels(out, tmp_path) == pixels(data, tmp_path)
    for secret in SECRETS:
        assert secret not in out
    clean_path = tmp_path / "clean.jxl"
    clean_path.write_bytes(out)
    record = exiftool_read([clean_path])[str(clean_path.resolve())]
    leftover = [k for k in record if any(w in k for w in ("GPS", "Make", "Model", "Creator", "DateTime"))]
    assert leftover == [], leftover
    assert joined(out) == out  # cleaning a clean copy changes nothing


def test_a_plain_cjxl_container_is_already_clean(tmp_path: Path) -> None:
    data = encode(CORPUS / "png" / "pillow__exif.png", tmp_path / "e.jxl", "-d", "0")
    assert data.startswith(SIGNATURE)  # cjxl wraps it: the PNG has an eXIf chunk
    assert joined(data) == data


def test_a_recompressed_jpeg_loses_its_reconstruction_data(tmp_path: Path) -> None:
    """cjxl on a JPEG: 'jxlp' parts around 'jbrd' (holding the JPEG's comment) and 'brob'."""
    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, (x * y) % 256) for y in range(48) for x in range(64)])
    jpeg = tmp_path / "s.jpg"
    image.save(jpeg, quality=90, comment=b"secret-comment-xyz")
    subprocess.run([require_exiftool(), "-q", "-overwrite_original", "-Make=Nikon", str(jpeg)], check=True)
    data = encode(jpeg, tmp_path / "s.jxl")
    assert b"jxlp" in data and b"jbrd" in data and b"secret-comment-xyz" in data
    found = JpegXl().inspect(data).findings
    assert Kind.HISTORY in found.kinds()
    if HAVE_BROTLI:  # the compressed EXIF is read: it names the camera
        assert ("camera", "Nikon") in {(f.what, f.value) for f in found if f.kind is Kind.DEVICE}
    else:
        assert any(f.where == "JPEG XL brob" and "may hold location" in f.what for f in found)
    out = joined(data)
    assert b"jxlp" not in out and b"jbrd" not in out
    for secret in SECRETS:
        assert secret not in out
    assert pixels(out, tmp_path) == pixels(data, tmp_path)


def test_a_bare_codestream_is_copied_as_it_is(tmp_path: Path) -> None:
    data = encode(CORPUS / "png" / "pillow__copyleft.png", tmp_path / "b.jxl", "-d", "0")
    assert data[:2] == b"\xff\x0a"
    assert JpegXl().inspect(data).findings.items == []
    assert joined(data) == data


def test_the_pipeline_and_the_command_clean_a_jxl(tmp_path: Path) -> None:
    source = with_metadata(tmp_path, "pillow__copyleft.png")
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.status is Status.CLEANED, result.reason
    published = (tmp_path / "out" / source.name).read_bytes()
    assert pixels(published, tmp_path) == pixels(source.read_bytes(), tmp_path)
    proc = run_cli("clean", str(source), "--output", str(tmp_path / "cli"), "--json")
    assert proc.returncode == 0, proc.stderr
    [record] = json_lines(proc.stdout)
    assert record["status"] == "cleaned" and record["format"] == "JPEG XL"
    assert {"gps", "device", "name"} <= {f["kind"] for f in record["removed"]}
    assert (tmp_path / "cli" / source.name).read_bytes() == published


def test_boxes_are_kept_or_dropped_by_type() -> None:
    exif_box = box(b"Exif", b"\0\0\0\0" + b"MM\0*\0\0\0\x08\0\0\0\0\0\0")
    data = container(
        box(b"jxll", b"\x0a"),
        box(b"jxlp", b"\0\0\0\0" + STREAM[:100]),
        exif_box,
        box(b"jumb", b"\0\0\0\x1ejumdc2pa" + bytes(22)),
        box(b"jxlp", b"\x80\0\0\x01" + STREAM[100:]),
        box(b"jxli", bytes(8)),
        box(b"brob", b"xml " + b"\x1b\x00"),
        box(b"uuid", bytes(16) + b"private"),
        struct.pack(">I4sQ", 1, b"free", 16 + 3) + b"pad",  # a 64-bit size
        struct.pack(">I4s", 0, b"xml ") + b"<x:xmpmeta/>",  # size 0: to the end of the file
    )
    found = JpegXl().inspect(data).findings
    kinds = {f.where: f.kind for f in found}
    assert kinds["JPEG XL jumb"] is Kind.PROVENANCE and kinds["JPEG XL brob"] is Kind.OTHER
    assert [f.what for f in found if f.where == "JPEG XL"] == ["box 'uuid'", "box 'free'"]
    assert not any("jxli" in f.what for f in found)  # dropped without a finding
    out = joined(data)
    assert out == container(box(b"jxll", b"\x0a"), box(b"jxlc", STREAM))


@pytest.mark.parametrize(
    "data,error,message",
    [
        (container(box(b"jxlc", STREAM) + b"\0\0\0"), Truncated, "header is cut off"),
        (container(struct.pack(">I4s", 9999, b"jxlc") + STREAM), Truncated, "runs past the end"),
        (container(struct.pack(">I4s", 4, b"jxlc") + STREAM), CorruptImage, "shorter than its header"),
        (container(struct.pack(">I4sQ", 1, b"jxlc", 2**63) + STREAM), Truncated, "runs past"),
        (container(struct.pack(">I4sQ", 1, b"jxlc", 8) + STREAM), CorruptImage, "shorter"),
        (container(struct.pack(">I4s", 1, b"jxlc") + b"\0"), Truncated, "box size"),
        (SIGNATURE + box(b"ftyp", b"jxm \0\0\0\0") + box(b"jxlc", STREAM), CorruptImage, "ftyp"),
        (SIGNATURE + box(b"jxlc", STREAM), CorruptImage, "ftyp"),
        (container(box(b"jxlc", STREAM), box(b"jxlc", STREAM)), CorruptImage, "more than one"),
        (container(box(b"jxlp", b"\0\0\0\x01" + STREAM)), CorruptImage, "out of order"),
        (container(box(b"jxlp", b"\0\0\0\0" + STREAM)), Truncated, "before the last one"),
        (container(box(b"jxlp", b"\x80\0\0\0" + STREAM), box(b"jxlp", b"\0\0\0\x01")), CorruptImage, "after"),
        (container(box(b"jxlc", STREAM), box(b"jxlp", b"\x80\0\0\0")), CorruptImage, "'jxlc' and 'jxlp'"),
        (container(box(b"jxlp", b"\0\0")), CorruptImage, "index"),
        (container(box(b"brob", b"jxlc" + STREAM)), CorruptImage, "Brotli"),
        (container(box(b"brob", b"Ex")), CorruptImage, "inner type"),
        (container(box(b"Exif", b"")), CorruptImage, "no codestream"),
        (container(box(b"jxlc", b"\xff\xd8" + STREAM)), CorruptImage, "FF 0A"),
        (container(box(b"ftyp", b"jxl \0\0\0\0"), box(b"jxlc", STREAM)), CorruptImage, "second"),
        (b"\0\0\0\x0cJXL \r\n\x87\x0b" + FTYP, CorruptImage, "signature"),
        (container(*[box(b"free", b"")] * (MAX_BOXES + 1), box(b"jxlc", STREAM)), CorruptImage, "boxes"),
    ],
)
def test_malformed_containers_are_refused_with_one_line(
    data: bytes, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as caught:
        JpegXl().clean(data, CleanOptions())
    assert "\n" not in str(caught.value)


def test_the_second_reading_checks_the_codestream_itself() -> None:
    data = container(box(b"jxlc", STREAM), box(b"Exif", b"\0\0\0\0MM\0*\0\0\0\x08\0\0"))
    cleaned = JpegXl().clean(data, CleanOptions())
    out = bytearray(b"".join(bytes(p) for p in cleaned.parts))
    assert JpegXl().reread(bytes(out), cleaned) is None
    flipped = bytearray(out)
    flipped[-5] ^= 1
    assert "differs" in str(JpegXl().reread(bytes(flipped), cleaned))
    assert "does not end" in str(JpegXl().reread(bytes(out + b"tail"), cleaned))
    assert "not 'jxlc'" in str(JpegXl().reread(bytes(out[:32]) + box(b"jxlp", STREAM), cleaned))
    assert "signature" in str(JpegXl().reread(b"\0" * 40, cleaned))
    assert "re-read" in str(JpegXl().reread(bytes(out[:34]), cleaned))
    cleaned.reference = None
    assert "no record" in str(JpegXl().reread(bytes(out), cleaned))


def test_the_verifier_refuses_a_jxl_whose_codestream_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "a.jxl"
    source.write_bytes(container(box(b"jxlc", STREAM)))
    real = JpegXl.clean

    def altered(self: JpegXl, data: bytes, options: CleanOptions) -> object:
        cleaned = real(self, data, options)
        cleaned.parts[-1] = bytes(cleaned.parts[-1])[:-1] + b"\0"
        return cleaned

    monkeypatch.setattr(JpegXl, "clean", altered)
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.status is Status.FAILED and "codestream differs" in result.reason
    assert list((tmp_path / "out").iterdir()) == []


def test_hostile_box_sizes_never_crash() -> None:
    base = container(
        box(b"jxll", b"\x05"), box(b"jxlp", b"\0\0\0\0" + STREAM[:9]), box(b"jxlp", b"\x80\0\0\x01x")
    )
    for pos in range(0, len(base) - 3):
        for value in (0, 1, 7, 8, 0xFFFFFFFF):
            data = bytearray(base)
            struct.pack_into(">I", data, pos, value)
            try:
                JpegXl().inspect(bytes(data))
                JpegXl().clean(bytes(data), CleanOptions())
            except InputError:
                pass


def test_detect_knows_both_forms() -> None:
    assert detect(STREAM[:64]).name == "JPEG XL"
    assert detect(container(box(b"jxlc", STREAM))[:64]).name == "JPEG XL"


def gps_exif() -> bytes:
    """An 'Exif' box body: no offset, then a TIFF block with a camera, a serial and a position."""
    import piexif

    tiff = piexif.dump(
        {
            "0th": {piexif.ImageIFD.Make: b"Canon", piexif.ImageIFD.Model: b"Canon EOS R5"},
            "Exif": {piexif.ExifIFD.BodySerialNumber: b"SN123456"},
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((48, 1), (51, 1), (30, 1)),
                piexif.GPSIFD.GPSLongitudeRef: b"E",
                piexif.GPSIFD.GPSLongitude: ((2, 1), (17, 1), (40, 1)),
            },
        }
    )
    return b"\0\0\0\0" + tiff[6:]  # piexif's block starts with the APP1 'Exif\0\0'


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/">'
    b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    b'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
    b"<dc:creator><rdf:Seq><rdf:li>Alice Example</rdf:li></rdf:Seq></dc:creator>"
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


def compressed(inner: bytes, body: bytes) -> bytes:
    brotli = pytest.importorskip("brotli", minversion="1.2")
    return box(b"brob", inner + brotli.compress(body))


def test_compressed_exif_and_xmp_are_read_like_the_plain_boxes() -> None:
    plain = JpegXl().inspect(container(box(b"jxlc", STREAM), box(b"Exif", gps_exif()), box(b"xml ", XMP)))
    data = container(box(b"jxlc", STREAM), compressed(b"Exif", gps_exif()), compressed(b"xml ", XMP))
    found = JpegXl().inspect(data).findings
    assert {Kind.GPS, Kind.DEVICE, Kind.SERIAL, Kind.NAME} <= found.kinds()
    assert [(f.kind, f.what, f.value) for f in found] == [(f.kind, f.what, f.value) for f in plain.findings]
    assert all("(compressed)" in f.where for f in found)
    out = joined(data)
    assert out == container(box(b"jxlc", STREAM))


def test_a_brotli_bomb_is_not_decompressed_past_the_bound() -> None:
    data = container(box(b"jxlc", STREAM), compressed(b"Exif", bytes(4 * MAX_INFLATED)))
    assert len(data) < 10_000
    tracemalloc.start()
    try:
        found = JpegXl().inspect(data).findings
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MAX_INFLATED + (8 << 20)
    assert [(f.kind, f.what) for f in found] == [
        (Kind.OTHER, "unreadable compressed EXIF (more than 16 MB decompressed)")
    ]
    assert joined(data) == container(box(b"jxlc", STREAM))


def test_the_bound_holds_for_the_whole_file() -> None:
    big = compressed(b"xml ", XMP + bytes(MAX_INFLATED * 3 // 4))  # read: most of the budget
    data = container(box(b"jxlc", STREAM), big, compressed(b"Exif", gps_exif() + bytes(MAX_INFLATED // 2)))
    whats = [f.what for f in JpegXl().inspect(data).findings]
    assert "creator" in whats and whats[-1] == "unreadable compressed EXIF (more than 16 MB decompressed)"


@pytest.mark.parametrize(
    "payload,reason", [(b"\xff\xff\xff\xff", "not valid Brotli data"), (b"cut", "cut off")]
)
def test_broken_compressed_exif_is_reported_unreadable(payload: bytes, reason: str) -> None:
    brotli = pytest.importorskip("brotli", minversion="1.2")
    body = payload if payload != b"cut" else brotli.compress(gps_exif())[:-8]
    data = container(box(b"jxlc", STREAM), box(b"brob", b"Exif" + body))
    [finding] = JpegXl().inspect(data).findings
    assert finding.what == f"unreadable compressed EXIF ({reason})" and finding.where == "JPEG XL brob"


@pytest.mark.parametrize("module", [None, SimpleNamespace(Decompressor=object)])  # missing, before 1.2
def test_without_brotli_the_finding_says_what_was_removed_unread(
    monkeypatch: pytest.MonkeyPatch, module: object
) -> None:
    monkeypatch.setitem(sys.modules, "brotli", module)
    data = container(
        box(b"jxlc", STREAM), box(b"brob", b"Exif" + bytes(40)), box(b"brob", b"xml " + bytes(9))
    )
    found = JpegXl().inspect(data).findings
    assert [(f.kind, f.what, f.value) for f in found] == [
        (Kind.OTHER, "compressed EXIF (not read: may hold location, camera, time)", "40 bytes"),
        (Kind.OTHER, "compressed XMP (not read: may hold location, names, time)", "9 bytes"),
    ]
    assert joined(data) == container(box(b"jxlc", STREAM))
