"""The fuzz target in the normal test run: a short, seeded smoke run, plus every bug the
fuzzer found, kept as a regression test. The long coverage-guided run is `make fuzz`."""

from __future__ import annotations

import io
import random
import struct
from pathlib import Path

import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.pipeline import Pipeline, Settings, Status
from tests import synth
from tests.fuzz_target import Tally, fuzz_one, mutate

SMOKE_INPUTS = 400


def _seeds() -> list[bytes]:
    return [
        synth.jpeg(size=(24, 16)),
        synth.png(size=(24, 16)),
        synth.webp("lossless"),
        synth.webp("animated"),
        synth.gif(),
        synth.tiff(pages=2),
        synth.raw_png(9, 7, 16, 2, bytes(9 * 7 * 6), True),
    ]


def test_smoke_run_of_mutated_files_ends_in_clean_outputs_or_refusals() -> None:
    rng = random.Random(20261121)
    seeds = _seeds()
    tally = Tally()
    for _ in range(SMOKE_INPUTS):
        fuzz_one(mutate(rng.choice(seeds), rng), tally)  # raises on a crash or a broken invariant
    assert tally.inputs == SMOKE_INPUTS and tally.cleaned > 50 and tally.refused > 50
    assert tally.unverified == 0, tally.examples


def _tiff_with_bad_photometric() -> bytes:
    """Fuzzer find: a TIFF whose PhotometricInterpretation says count 2 made Pillow raise
    KeyError from getexif(), which escaped as an internal error."""
    return synth.tiny_tiff_with({262: (3, 2, None)})


def _jpeg_without_scan() -> bytes:
    """Fuzzer find: damage in an APP1 length hid the SOS; the 'clean' copy had no picture and
    was caught only by the verifier (failed). It is now refused as corrupt."""
    buffer = io.BytesIO()
    synth.picture().save(buffer, "JPEG")
    data = buffer.getvalue()
    return data[: data.index(b"\xff\xda")] + b"\xff\xd9"


def _png_without_idat() -> bytes:
    data = synth.raw_png(4, 4, 8, 2, bytes(48), False)
    start = data.index(b"IDAT") - 4
    end = start + 12 + struct.unpack_from(">I", data, start)[0]
    return data[:start] + data[end:]


def _jpeg_scan_before_frame() -> bytes:
    """Fuzzer find: junk-skipping put an SOS before any SOF; such output is unreadable."""
    buffer = io.BytesIO()
    synth.picture().save(buffer, "JPEG")
    data = buffer.getvalue()
    sof = data.index(b"\xff\xc0")
    sof_end = sof + 2 + struct.unpack_from(">H", data, sof + 2)[0]
    return data[:sof] + data[sof_end:]


def _webp_frame_without_image() -> bytes:
    """Fuzzer find: an animation frame whose image sub-chunk is damaged was written as an
    empty frame, which libwebp refuses; it is now dropped (decoders stop there too)."""
    data = synth.webp("animated")[: -len(synth.TRAILER)]
    last = data.rindex(b"ANMF")
    image = last + 8 + 16
    damaged = data[:image] + b"JUNK" + data[image + 4 :]
    return damaged


@pytest.mark.parametrize(
    "name,build,reason",
    [
        ("photometric.tif", _tiff_with_bad_photometric, "TIFF tag PhotometricInterpretation has the wrong"),
        ("noscan.jpg", _jpeg_without_scan, "no image data"),
        ("noidat.png", _png_without_idat, "no image data"),
        ("scanfirst.jpg", _jpeg_scan_before_frame, "image data before the frame header"),
    ],
)
def test_fuzzer_finds_are_refused_with_a_reason(
    tmp_path: Path, name: str, build: object, reason: str
) -> None:
    (tmp_path / name).write_bytes(build())  # type: ignore[operator]
    result = clean_one(Pipeline(Settings()), tmp_path / name, tmp_path / "out")
    assert result.status is Status.REFUSED and reason in result.reason
    fuzz_one((tmp_path / name).read_bytes())


def test_webp_frame_without_image_data_is_dropped(tmp_path: Path) -> None:
    (tmp_path / "a.webp").write_bytes(_webp_frame_without_image())
    result = clean_one(Pipeline(Settings()), tmp_path / "a.webp", tmp_path / "out")
    assert result.status is Status.CLEANED and result.output is not None
    assert any(f.what == "frame without image data" for f in result.findings)
    with Image.open(result.output) as image:
        assert image.n_frames == 2
