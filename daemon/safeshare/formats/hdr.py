"""HDR pictures (BT.2100 PQ or HLG) tone-mapped to sRGB, for outputs that cannot carry HDR.

A re-encoded HEIF/AVIF becomes an 8-bit JPEG or PNG, which every viewer reads as sRGB when
it carries no profile. PQ or HLG code values read as sRGB look wrong (dark and flat, or
washed out); an ICC profile cannot fix that either (an ICC profile's curve is relative,
so PQ's 10,000 cd/m2 scale would show reference white at 2 %). So the pixels are converted,
by one simple, documented operator, and the report says so:

1. Linear light. PQ: the SMPTE ST 2084 EOTF, in cd/m2. HLG: the BT.2100 inverse OETF, then
   the OOTF of a 1,000 cd/m2 display (system gamma 1.2, applied to BT.2020 luminance).
2. Relative to reference white: 203 cd/m2 is 1.0 (ITU-R BT.2408).
3. To BT.709/sRGB primaries: the linear 3x3 matrix from the file's primaries (BT.2020, P3
   or BT.709; others are taken as BT.2020), worked out from their chromaticities with a
   D65 white; negative components are clipped (simple gamut clipping).
4. Tone curve on the largest component, scaling all three (so hues are kept): unchanged
   up to 0.8, above it an extended-Reinhard shoulder that reaches 1.0 at 1,000 cd/m2
   (PEAK); anything brighter clips to white.
5. The sRGB OETF (IEC 61966-2-1).

It runs as a Pillow 3D lookup table (ImageFilter.Color3DLUT, LUT_SIZE points a side,
trilinear), so no numpy is needed. Its input is the decoders' 8-bit output (pillow-heif and
Pillow's AVIF reader both reduce 10 and 12 bits to 8), which can band slightly in smooth
highlights. Files with an ICC profile keep it and are not converted: the profile already
says what the pixels are.
"""

from __future__ import annotations

import math
from functools import lru_cache

from PIL import Image, ImageFilter

from safeshare.formats.heif_display import Display

PQ, HLG = 16, 18  # H.273 transfer characteristics
TRANSFER_NAMES = {PQ: "PQ", HLG: "HLG"}
PRIMARY_NAMES = {1: "BT.709", 9: "BT.2020", 11: "DCI-P3", 12: "Display P3"}
# H.273 colour primaries: (red, green, blue) chromaticities; all taken with a D65 white.
_CHROMATICITIES = {
    1: ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060)),
    9: ((0.708, 0.292), (0.170, 0.797), (0.131, 0.046)),
    11: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
    12: ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060)),
}
_D65 = (0.3127, 0.3290)
REFERENCE_WHITE = 203.0  # cd/m2
PEAK = 1000.0  # cd/m2: mastering peak assumed for PQ, nominal display peak for HLG
KNEE = 0.8
LUT_SIZE = 65  # Pillow's largest; 33 errs by up to 45 levels near the gamut's edge

Matrix = tuple[tuple[float, ...], ...]


def hdr_of(display: Display) -> tuple[int, int] | None:
    """(transfer, primaries) when the picture is PQ or HLG described by nclx alone."""
    nclx = display.nclx
    if nclx is None or display.icc or nclx.transfer not in TRANSFER_NAMES:
        return None
    return nclx.transfer, nclx.primaries if nclx.primaries in _CHROMATICITIES else 9


def describe(transfer: int, primaries: int) -> str:
    return f"HDR ({PRIMARY_NAMES[primaries]} {TRANSFER_NAMES[transfer]}) tone-mapped to sRGB"


def tone_map(image: Image.Image, transfer: int, primaries: int) -> Image.Image:
    """The picture as sRGB (8-bit RGB, or RGBA with its alpha untouched)."""
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    return image.filter(_lut(transfer, primaries))


@lru_cache(maxsize=8)
def _lut(transfer: int, primaries: int) -> ImageFilter.Color3DLUT:
    """The whole operator sampled on a LUT_SIZE^3 grid of code values (red fastest)."""
    to_709 = _multiply(_inverse(_to_xyz(1)), _to_xyz(primaries))
    wr, wg, wb = _to_xyz(9)[1]  # BT.2020 luminance weights, for the HLG OOTF
    codes = [i / (LUT_SIZE - 1) for i in range(LUT_SIZE)]
    if transfer == PQ:
        axis = [_pq_eotf(v) / REFERENCE_WHITE for v in codes]
    else:
        axis = [_hlg_inverse_oetf(v) for v in codes]
    (m00, m01, m02), (m10, m11, m12), (m20, m21, m22) = to_709
    table: list[float] = []
    for b in axis:
        for g in axis:
            for r in axis:
                gain = 1.0
                if transfer == HLG:
                    y = wr * r + wg * g + wb * b
                    gain = PEAK * y**0.2 / REFERENCE_WHITE if y > 0 else 0.0
                red = max(0.0, (m00 * r + m01 * g + m02 * b) * gain)
                green = max(0.0, (m10 * r + m11 * g + m12 * b) * gain)
                blue = max(0.0, (m20 * r + m21 * g + m22 * b) * gain)
                peak = max(red, green, blue)
                scale = _tone(peak) / peak if peak > 0 else 0.0
                table += (_srgb_oetf(red * scale), _srgb_oetf(green * scale), _srgb_oetf(blue * scale))
    return ImageFilter.Color3DLUT(LUT_SIZE, table)


def _pq_eotf(value: float) -> float:
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = value ** (1 / m2)
    return 10000.0 * float((max(p - c1, 0.0) / (c2 - c3 * p)) ** (1 / m1))


def _hlg_inverse_oetf(value: float) -> float:
    a, b, c = 0.17883277, 0.28466892, 0.55991073
    return value * value / 3 if value <= 0.5 else (math.exp((value - c) / a) + b) / 12


def _tone(x: float) -> float:
    """Identity up to KNEE, then an extended-Reinhard shoulder reaching 1.0 at PEAK."""
    if x <= KNEE:
        return x
    t, w = (x - KNEE) / (1 - KNEE), (PEAK / REFERENCE_WHITE - KNEE) / (1 - KNEE)
    return min(1.0, KNEE + (1 - KNEE) * t * (1 + t / (w * w)) / (1 + t))


def _srgb_oetf(value: float) -> float:
    value = min(max(value, 0.0), 1.0)
    return 12.92 * value if value <= 0.0031308 else 1.055 * value ** (1 / 2.4) - 0.055


def _to_xyz(primaries: int) -> Matrix:
    """RGB to XYZ for H.273 `primaries` and a D65 white (the standard derivation)."""
    columns = [(x / y, 1.0, (1 - x - y) / y) for x, y in _CHROMATICITIES[primaries]]
    white = (_D65[0] / _D65[1], 1.0, (1 - _D65[0] - _D65[1]) / _D65[1])
    base = tuple(tuple(columns[j][i] for j in range(3)) for i in range(3))
    scale = [sum(row[j] * white[j] for j in range(3)) for row in _inverse(base)]
    return tuple(tuple(base[i][j] * scale[j] for j in range(3)) for i in range(3))


def _multiply(a: Matrix, b: Matrix) -> Matrix:
    return tuple(tuple(sum(a[i][k] * b[k][j] for k in range(3)) for j in range(3)) for i in range(3))


def _inverse(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    return (
        ((e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det),
        ((f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det),
        ((d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det),
    )
