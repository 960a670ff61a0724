"""Fail closed: an output that still leaks, or does not re-read as the same picture, is never
published, and no temp file is left behind."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from safeshare.batch import clean_one
from safeshare.binary import Buffer
from safeshare.errors import VerificationError
from safeshare.formats import CleanOptions
from safeshare.formats.base import Cleaned
from safeshare.formats.jpeg import Jpeg
from safeshare.formats.png import Png, chunk
from safeshare.formats.webp import WebP
from safeshare.pipeline import Pipeline, Settings, Status
from safeshare.verify import pillow_view, verify_output
from tests import synth


def _sabotage(monkeypatch: pytest.MonkeyPatch, cls: type, extra: bytes, where: int) -> None:
    """Make a cleaner slip `extra` into its output at part index `where`."""
    real = cls.clean

    def leaky(self: object, data: Buffer, options: CleanOptions) -> Cleaned:
        cleaned: Cleaned = real(self, data, options)
        cleaned.parts.insert(where, extra)
        return cleaned

    monkeypatch.setattr(cls, "clean", leaky)


@pytest.mark.parametrize(
    "cls,name,extra,where,reason",
    [
        (Jpeg, "a.jpg", b"\xff\xfe\x00\x08SECRET", 1, "comment"),
        (Jpeg, "b.jpg", b"SECRET", 1000, "data after the end"),
        (Png, "c.png", chunk(b"tEXt", b"Author\0SECRET"), 2, "author"),
        (Png, "d.png", chunk(b"prVt", b"SECRET"), 2, "private chunk"),
    ],
)
def test_a_leaking_cleaner_publishes_nothing(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    cls: type,
    name: str,
    extra: bytes,
    where: int,
    reason: str,
) -> None:
    source = tmp_path / name
    source.write_bytes(synth.jpeg() if name.endswith("jpg") else synth.png())
    _sabotage(monkeypatch, cls, extra, where)
    out = tmp_path / "out"
    result = clean_one(Pipeline(Settings()), source, out)
    assert result.status is Status.FAILED
    assert reason in result.reason
    assert list(out.iterdir()) == []  # neither the output nor its temp file


def test_webp_with_leftover_exif_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    exif = synth.full_exif()[6:]
    chunk_bytes = b"EXIF" + struct.pack("<I", len(exif)) + exif + (b"\0" if len(exif) & 1 else b"")
    _sabotage(monkeypatch, WebP, chunk_bytes, 1000)
    source = tmp_path / "e.webp"
    source.write_bytes(synth.webp("lossless"))
    result = clean_one(Pipeline(Settings()), source, tmp_path / "out")
    assert result.status is Status.FAILED  # structural walk or Pillow: either must refuse


def test_verifier_rejects_wrong_orientation(tmp_path: Path) -> None:
    data = synth.jpeg(orientation=6)
    cleaned = Jpeg().clean(data, CleanOptions())
    path = tmp_path / "o.jpg"
    path.write_bytes(b"".join(bytes(p) for p in cleaned.parts))
    expected = pillow_view(data, "JPEG", 10**9)
    with path.open("rb") as handle:
        verify_output(handle.fileno(), cleaned, expected, 10**9)  # the honest output passes
        cleaned.orientation = 1
        with pytest.raises(VerificationError, match="orientation"):
            verify_output(handle.fileno(), cleaned, expected, 10**9)


def test_verifier_rejects_a_different_picture(tmp_path: Path) -> None:
    data = synth.png()
    cleaned = Png().clean(data, CleanOptions())
    path = tmp_path / "p.png"
    path.write_bytes(b"".join(bytes(p) for p in cleaned.parts))
    other = pillow_view(synth.png(size=(10, 10)), "PNG", 10**9)
    with path.open("rb") as handle, pytest.raises(VerificationError, match="expected"):
        verify_output(handle.fileno(), cleaned, other, 10**9)


@pytest.mark.parametrize(
    ("data", "expect"),
    [
        (synth.jpeg(), "PNG"),
        (synth.png(), "JPEG"),
        (synth.png(), "GIF"),
        (b"BM" + b"\0" * 60, "BMP"),  # its magic but no picture: refused by the plugin itself
    ],
    ids=["jpeg-as-png", "png-as-jpeg", "png-as-gif", "bmp-header-only"],
)
def test_pillow_reads_a_file_only_as_the_format_it_should_be(data: bytes, expect: str) -> None:
    """Pillow's reading is by the plugin of the format the structural reading found: bytes of
    another format are refused by it, not read by whichever plugin takes them."""
    from safeshare.errors import CorruptImage
    from safeshare.pillow_reading import view

    with pytest.raises(CorruptImage, match="cannot read it"):
        view(data, 10**9, expect)
    assert view(synth.jpeg(), 10**9, "JPEG").format == "JPEG"
    assert view(synth.png(), 10**9, "").format == "PNG"  # no format expected: any plugin
