"""HDR keeps its colour meaning: BT.2100 PQ and HLG pictures come out as sRGB, and say so.

Inputs are real encodes: 10-bit AVIFs from ffmpeg (libaom) and a 10-bit HEIC from
pillow-heif (x265), each tagged BT.2020 PQ or HLG in its nclx colour box (ExifTool
confirms it). The expected output is worked out here with numpy from the decoded pixels,
by the operator formats/hdr.py documents, written independently from the published
constants (SMPTE ST 2084, ITU-R BT.2100, BT.2087's matrix, BT.2408's reference white).
An AVIF that libavif cannot convert ("Reformat failed") goes to libheif before it is
refused, and the refusal says why.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from PIL import Image

from safeshare.batch import clean_one
from safeshare.errors import CorruptImage
from safeshare.pipeline import Pipeline, Result, Settings, Status
from tests import isobmff_edit as edit
from tests.helpers import CORPUS, exiftool_read, psnr

FFMPEG = shutil.which("ffmpeg")
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="ffmpeg not installed")
BT2020_TO_709 = np.array([[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]])
WHITE, PEAK, KNEE = 203.0, 1000.0, 0.8


def pq_code(nits: float) -> float:
    m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
    y = (nits / 10000) ** m1
    return float(((c1 + c2 * y) / (1 + c3 * y)) ** m2)


def expected_srgb(decoded: Image.Image, transfer: str) -> Image.Image:
    """The documented operator, per pixel, in floating point."""
    e = np.asarray(decoded.convert("RGB"), dtype=np.float64) / 255
    if transfer == "PQ":
        m1, m2, c1, c2, c3 = 0.1593017578125, 78.84375, 0.8359375, 18.8515625, 18.6875
        p = e ** (1 / m2)
        linear = 10000 * (np.maximum(p - c1, 0) / (c2 - c3 * p)) ** (1 / m1) / WHITE
    else:
        a, b, c = 0.17883277, 0.28466892, 0.55991073
        scene = np.where(e <= 0.5, e * e / 3, (np.exp((e - c) / a) + b) / 12)
        y = scene @ np.array([0.2627, 0.6780, 0.0593])
        linear = scene * (PEAK * np.power(np.maximum(y, 1e-12), 0.2) / WHITE)[..., None]
    rgb = np.maximum(linear @ BT2020_TO_709.T, 0)
    top = rgb.max(axis=-1, keepdims=True)
    t, w = (top - KNEE) / (1 - KNEE), (PEAK / WHITE - KNEE) / (1 - KNEE)
    toned = np.where(top <= KNEE, top, np.minimum(1, KNEE + (1 - KNEE) * t * (1 + t / w**2) / (1 + t)))
    rgb = np.clip(rgb * np.where(top > 0, toned / np.maximum(top, 1e-12), 0), 0, 1)
    srgb = np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)
    return Image.fromarray(np.round(srgb * 255).astype(np.uint8))


def patches(codes: list[float]) -> np.ndarray:
    """Four flat grey patches at the given code values over a colour ramp, as 16-bit RGB."""
    out = np.zeros((128, 192, 3))
    for i, code in enumerate(codes):
        out[:64, 48 * i : 48 * (i + 1)] = code
    x = np.linspace(0, 1, 192)
    out[64:, :, 0], out[64:, :, 1], out[64:, :, 2] = x, 1 - x, 0.5 + 0 * x
    return np.round(out * 65535).astype(np.uint16)


def ffmpeg_avif(tmp_path: Path, pixels: np.ndarray, trc: str) -> bytes:
    """A 10-bit 4:4:4 AVIF of `pixels` (libaom), tagged BT.2020 with transfer `trc`."""
    assert FFMPEG is not None
    raw, out = tmp_path / "src.rgb48", tmp_path / f"{trc}.avif"
    raw.write_bytes(pixels.astype(">u2").tobytes())
    command = [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y"]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb48be", "-s", "192x128", "-i", str(raw)]
    command += ["-frames:v", "1", "-c:v", "libaom-av1", "-cpu-used", "8", "-crf", "4", "-still-picture", "1"]
    command += ["-pix_fmt", "yuv444p10le", "-color_primaries", "bt2020", "-color_trc", trc]
    command += ["-colorspace", "bt2020nc", "-color_range", "pc", "-f", "avif", str(out)]
    subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=300)
    return out.read_bytes()


def clean(tmp_path: Path, name: str, data: bytes) -> Result:
    source = tmp_path / "in" / name
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(data)
    return clean_one(Pipeline(Settings()), source, tmp_path / "out")


def check_tone_mapped(tmp_path: Path, name: str, data: bytes, transfer: str) -> Image.Image:
    path = tmp_path / name
    path.write_bytes(data)
    reading = exiftool_read([path])[str(path.resolve())]
    assert reading["QuickTime:ColorPrimaries"] == 9  # BT.2020, read by ExifTool
    assert reading["QuickTime:TransferCharacteristics"] == {"PQ": 16, "HLG": 18}[transfer]
    result = clean(tmp_path, name, data)
    assert result.status is Status.CLEANED, result.reason
    assert f"HDR (BT.2020 {transfer}) tone-mapped to sRGB" in result.notes
    assert result.output is not None
    out = Image.open(result.output).convert("RGB")
    decoded = Image.open(io.BytesIO(data))  # the 8-bit pixels the decoders hand over
    want = expected_srgb(decoded, transfer)
    assert out.size == want.size
    assert psnr(out, want) >= 35, psnr(out, want)
    assert psnr(out, decoded.convert("RGB")) < 30  # really converted, not the code values as sRGB
    return out


@needs_ffmpeg
def test_a_pq_avif_is_tone_mapped_to_srgb(tmp_path: Path) -> None:
    data = ffmpeg_avif(tmp_path, patches([pq_code(n) for n in (10, 100, 203, 1000)]), "smpte2084")
    out = check_tone_mapped(tmp_path, "pq.avif", data, "PQ")
    greys = [out.getpixel((24 + 48 * i, 32)) for i in range(4)]
    assert greys[2][0] >= 220  # reference white is near white (as code values it reads 148)
    assert min(greys[3]) >= 240  # 1,000 cd/m2 (decoded as 8 bits) is about the brightest it shows
    assert 50 <= greys[0][0] <= 75  # 10 cd/m2 is a dark grey


@needs_ffmpeg
def test_an_hlg_avif_is_tone_mapped_to_srgb(tmp_path: Path) -> None:
    out = check_tone_mapped(
        tmp_path, "hlg.avif", ffmpeg_avif(tmp_path, patches([0.25, 0.5, 0.75, 1.0]), "arib-std-b67"), "HLG"
    )
    assert out.getpixel((24 + 96, 32))[0] >= 220  # 75 % HLG: reference white


def test_a_pq_heic_is_tone_mapped_to_srgb(tmp_path: Path) -> None:
    """10-bit x265 through libheif: the same conversion as for AVIF."""
    pixels = patches([pq_code(n) for n in (10, 100, 203, 1000)])
    heif = pillow_heif.from_bytes("RGB;16", (192, 128), pixels.astype("<u2").tobytes())
    out = io.BytesIO()
    heif.save(out, quality=95, chroma=444, color_primaries=9, transfer_characteristics=16)
    out.seek(0)
    assert pillow_heif.open_heif(out, convert_hdr_to_8bit=False).info["bit_depth"] == 10
    check_tone_mapped(tmp_path, "pq.heic", out.getvalue(), "PQ")


def test_sdr_with_a_colour_box_is_left_alone(tmp_path: Path) -> None:
    """The Nokia 'HDR' photo is SDR (BT.709 transfer): it is not converted."""
    name = "heic/exif-samples__HMD_Nokia_8.3_5G_hdr.heif"
    result = clean(tmp_path, "nokia.heif", (CORPUS / name).read_bytes())
    assert result.status is Status.CLEANED, result.reason
    assert not [n for n in result.notes if "tone-mapped" in n]


def reformat_failing_avif() -> bytes:
    """A real AVIF (4:2:0) whose nclx claims the identity matrix, which libavif will not
    convert from subsampled chroma ("Reformat failed"); libheif converts it."""
    data = (CORPUS / "avif/pillow__exif.avif").read_bytes()
    return edit.replace_property(data, "colr", edit.nclx(1, 13, 0))


def libheif_decodes_av1() -> bool:
    return any(k in str(pillow_heif.libheif_info()["decoders"]) for k in ("dav1d", "aom", "libaom"))


def test_an_avif_libavif_cannot_convert_says_why(tmp_path: Path) -> None:
    """Pillow's AVIF reader fails; libheif is tried; what is published or refused says so."""
    data = reformat_failing_avif()
    with pytest.raises(RuntimeError, match="Reformat failed"):
        Image.open(io.BytesIO(data)).load()  # the class of file: libavif refuses it
    result = clean(tmp_path, "identity.avif", data)
    if libheif_decodes_av1():
        assert result.status is Status.CLEANED, result.reason
    else:
        assert result.status is Status.REFUSED and result.problem is CorruptImage
        assert "Reformat failed" in result.reason and "libheif" in result.reason


@pytest.mark.skipif(not libheif_decodes_av1(), reason="this pillow-heif's libheif has no AV1 decoder")
def test_an_avif_libavif_cannot_convert_is_cleaned_by_libheif(tmp_path: Path) -> None:
    result = clean(tmp_path, "identity.avif", reformat_failing_avif())
    assert result.status is Status.CLEANED, result.reason
    assert result.output is not None and Image.open(result.output).size == (512, 512)
