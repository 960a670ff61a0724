"""How a viewer shows a HEIF or AVIF picture, read from the file's own boxes.

The coded image (its size is 'ispe') is turned into the displayed one by the transformative
properties associated with it, applied in the order they appear in 'ipma' (ISO/IEC 23008-12,
6.5.1), as libheif applies them. MIAF requires clap, then irot, then imir, and libavif-based
viewers (Chrome) apply them in that fixed order whatever the file says; so a picture that
libavif decodes with its transforms in another order, or one of them twice, is refused
(`check_order`): viewers disagree on what it shows.

- clap, the clean aperture: a crop, its size and centre-relative offset given as fractions.
  It is worked out and rounded as libheif does (left and right from the rounded-down left
  edge, top rounded), clamped to the picture; an empty aperture is a corrupt file.
- irot: a rotation anticlockwise by 90, 180 or 270 degrees.
- imir: a mirror. Axis 0 exchanges the top and bottom parts, axis 1 the left and right
  (ISO/IEC 23008-12:2022, 6.5.12; EXIF orientation 4 and 2; libheif and libavif agree).

libheif (pillow-heif, HEIF) applies these itself; Pillow's AVIF reader applies none (it
reports irot/imir as an EXIF orientation and ignores clap), so for AVIF the decoder worker
applies them here. Either way the displayed size worked out here, from the file and not from
the decoder, is what the verifier requires of the output. The colour description ('colr'
nclx) travels along for HDR (formats/hdr.py).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fractions import Fraction

from PIL import Image

from safeshare.errors import CorruptImage, UnsupportedFormat

TRANSFORMS = ("clap", "irot", "imir")


@dataclass(frozen=True)
class Transform:
    kind: str  # "clap", "irot" or "imir"
    value: int = 0  # irot: quarter turns anticlockwise; imir: axis
    aperture: tuple[Fraction, ...] = ()  # clap: width, height, horizontal and vertical offset


@dataclass(frozen=True)
class Nclx:
    """A 'colr' box of type nclx: ITU-T H.273 code points."""

    primaries: int
    transfer: int
    matrix: int
    full_range: bool


@dataclass(frozen=True)
class Display:
    """The coded size, the transforms in the file's order, and the colour description."""

    size: tuple[int, int] | None  # 'ispe' (or the sample entry's size for a sequence)
    transforms: tuple[Transform, ...] = ()
    nclx: Nclx | None = None
    icc: bool = False  # a 'colr' box with an ICC profile (it says what the pixels are)

    @property
    def shown_size(self) -> tuple[int, int] | None:
        """The size after every transform, or None when the file gives no coded size."""
        if self.size is None:
            return None
        width, height = self.size
        for transform in self.transforms:
            if transform.kind == "irot" and transform.value % 2:
                width, height = height, width
            elif transform.kind == "clap":
                left, top, right, bottom = crop_box(transform, width, height)
                width, height = right - left, bottom - top
        return width, height


@dataclass(frozen=True)
class Sequence:
    """An image sequence track: its frames, how it plays, and how it is shown."""

    frames: int
    loop: int  # times it plays (0: forever)
    display: Display = field(default_factory=lambda: Display(None))


@dataclass(frozen=True)
class Plan:
    """What the decoder worker needs to show the file as viewers do, read from its boxes."""

    format: str  # "HEIF" or "AVIF", as sniffed
    still: Display | None  # the primary item, if any
    sequence: Sequence | None = None
    avif_track: bool = False  # Pillow's AVIF reader (libavif) shows the track, not the item

    def display(self, track: bool) -> Display:
        shown = self.sequence.display if track and self.sequence else self.still
        return shown if shown is not None else Display(None)


def display_of(props: list[tuple[str, bytes]], size: tuple[int, int] | None = None) -> Display:
    """The Display of an item (or a sequence's sample entry) from its properties, in order."""
    transforms: list[Transform] = []
    nclx, icc = None, False
    for kind, body in props:
        if kind == "ispe" and len(body) >= 12 and size is None:
            width, height = struct.unpack(">II", body[4:12])
            size = (width, height)
        elif kind in TRANSFORMS:
            transforms.append(_transform(kind, body))
        elif kind == "colr" and body[:4] == b"nclx" and len(body) >= 11 and nclx is None:
            primaries, transfer, matrix = struct.unpack(">HHH", body[4:10])
            nclx = Nclx(primaries, transfer, matrix, bool(body[10] & 0x80))
        elif kind == "colr" and body[:4] in (b"prof", b"rICC"):
            icc = True
    return Display(size, tuple(transforms), nclx, icc)


def check_order(display: Display) -> None:
    """Refuse transforms libavif (fixed order clap, irot, imir) and the file's order
    (ISO/IEC 23008-12, libheif) would show differently: out of that order, or repeated."""
    kinds = [t.kind for t in display.transforms]
    if kinds != sorted(set(kinds), key=TRANSFORMS.index):
        raise UnsupportedFormat(
            f"transforms in an order viewers disagree on ({', '.join(kinds)}; MIAF requires clap, irot, imir)"
        )


def _transform(kind: str, body: bytes) -> Transform:
    if kind == "irot":
        return Transform("irot", body[0] & 3 if body else 0)
    if kind == "imir":
        return Transform("imir", body[0] & 1 if body else 0)
    if len(body) < 32:
        raise CorruptImage("corrupt HEIF clean aperture ('clap' box too short)")
    wn, wd, hn, hd, xn, xd, yn, yd = struct.unpack(">IIIIiIiI", body[:32])
    if 0 in (wd, hd, xd, yd):
        raise CorruptImage("corrupt HEIF clean aperture (a zero denominator)")
    return Transform(
        "clap", aperture=(Fraction(wn, wd), Fraction(hn, hd), Fraction(xn, xd), Fraction(yn, yd))
    )


def _trunc(value: Fraction) -> int:
    """C integer division: rounds toward zero (libheif's Fraction::round_down)."""
    return int(value)


def _round(value: Fraction) -> int:
    """libheif's Fraction::round: (numerator + denominator / 2) / denominator, in C."""
    return int(Fraction(value.numerator + value.denominator // 2, value.denominator))


def crop_box(clap: Transform, width: int, height: int) -> tuple[int, int, int, int]:
    """(left, top, right, bottom), right and bottom exclusive, of a clean aperture applied
    to a width x height picture: libheif's rounding, clamped to the picture."""
    clean_width, clean_height, x_offset, y_offset = clap.aperture
    left = _trunc(x_offset + Fraction(width - 1, 2) - (clean_width - 1) / 2)
    right = _round(clean_width - 1 + left)
    top = _round(y_offset + Fraction(height - 1, 2) - (clean_height - 1) / 2)
    bottom = _round(clean_height - 1 + top)
    left, top = max(left, 0), max(top, 0)
    right, bottom = min(right, width - 1), min(bottom, height - 1)
    if left > right or top > bottom:
        raise CorruptImage("corrupt HEIF clean aperture (it leaves nothing of the picture)")
    return left, top, right + 1, bottom + 1


_ROTATE = {1: Image.Transpose.ROTATE_90, 2: Image.Transpose.ROTATE_180, 3: Image.Transpose.ROTATE_270}
_MIRROR = {0: Image.Transpose.FLIP_TOP_BOTTOM, 1: Image.Transpose.FLIP_LEFT_RIGHT}


def apply(image: Image.Image, transforms: tuple[Transform, ...]) -> Image.Image:
    """The decoded (coded, untransformed) picture as displayed: every transform in order."""
    for transform in transforms:
        if transform.kind == "clap":
            image = image.crop(crop_box(transform, image.width, image.height))
        elif transform.kind == "irot" and transform.value:
            image = image.transpose(_ROTATE[transform.value])
        elif transform.kind == "imir":
            image = image.transpose(_MIRROR[transform.value])
    return image
