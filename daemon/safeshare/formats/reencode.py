"""Re-encoding from pixels, for what cannot be cleaned losslessly. Runs in the decoder
worker (see isolation.py): libheif, libavif and libtiff only ever see files there.

HEIF/AVIF: formats/heif_render.py shows the picture as the file says and encodes it here,
as JPEG (or PNG when it has transparency or the user asks). TIFF pages the structural rewrite cannot express:
every full-resolution page, losslessly (Deflate). ICC profiles are kept, reduced to their
colour tags.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from PIL import Image, ImageOps, ImageSequence

from safeshare.findings import Finding
from safeshare.metadata.icc import sanitize_icc
from safeshare.pillow_reading import Source, opened

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Reencoded:
    data: bytes
    format: str  # "JPEG", "PNG" or "TIFF"
    size: tuple[int, int]
    mode: str
    frames: int = 1
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def encode(
    picture: Image.Image, as_png: bool, quality: int, icc: bytes | None
) -> tuple[bytes, str, Image.Image]:
    """(bytes, format, the image as encoded): PNG, or JPEG at `quality` with full chroma."""
    extra = {"icc_profile": icc} if icc else {}
    out = io.BytesIO()
    if as_png:
        picture.save(out, "PNG", **extra)
        return out.getvalue(), "PNG", picture
    picture = picture if picture.mode in ("RGB", "L") else picture.convert("RGB")
    picture.save(out, "JPEG", quality=quality, subsampling=0, **extra)
    return out.getvalue(), "JPEG", picture


def upright(image: Image.Image) -> Image.Image:
    """The picture as viewers show it: irot/imir for HEIF and AVIF (as their decoder reports
    them), the EXIF orientation for everything else. Without the file's boxes this cannot
    apply an AVIF clean aperture: formats/heif_display.apply can."""
    if image.format in ("HEIF", "AVIF"):
        transpose = _TRANSPOSE.get(_decoder_orientation(image))
        return image.transpose(transpose) if transpose is not None else image  # FLIP_LEFT_RIGHT is 0
    return ImageOps.exif_transpose(image)


def tiff(source: Source, max_pixels: int) -> Reencoded:
    """Every full-resolution page, orientation applied, losslessly compressed."""
    with opened(source, max_pixels) as image:
        icc = image.info.get("icc_profile")
        pages = [
            ImageOps.exif_transpose(frame.copy())
            for frame in ImageSequence.Iterator(image)
            if not getattr(frame, "tag_v2", {}).get(254, 0) & 1  # reduced-resolution pages are thumbnails
        ]
    profile = sanitize_icc(icc) if icc else None
    extra = {"icc_profile": profile.profile} if profile is not None and profile.profile else {}
    out = io.BytesIO()
    pages[0].save(
        out, "TIFF", compression="tiff_adobe_deflate", save_all=True, append_images=pages[1:], **extra
    )
    findings = profile.findings if profile is not None else []
    return Reencoded(out.getvalue(), "TIFF", pages[0].size, pages[0].mode, len(pages), findings)


def _decoder_orientation(image: Image.Image) -> int:
    """Orientation the decoder reports for irot/imir (Pillow's AVIF plugin puts it in the
    Exif it returns; pillow-heif applies the transform itself and reports 1). XMP
    orientation is ignored on purpose: HEIF readers display irot/imir only."""
    raw = image.info.get("exif")
    if not raw:
        return 1
    exif = Image.Exif()
    try:
        exif.load(raw)
    except (OSError, ValueError, SyntaxError):
        return 1
    value = exif.get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


_registered = False


def register_heif() -> None:
    """pillow-heif is imported only when a HEIF file needs decoding (it is heavy)."""
    global _registered
    if _registered:
        return
    import pillow_heif

    pillow_heif.options.THUMBNAILS = False
    pillow_heif.options.DEPTH_IMAGES = False
    pillow_heif.options.AUX_IMAGES = False
    pillow_heif.register_heif_opener()
    _registered = True
