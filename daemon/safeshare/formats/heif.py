"""HEIC/HEIF and AVIF: decode the primary image and re-encode it from pixels.

HEIF containers hold far more than the picture (thumbnails, depth and gain maps, Exif and
XMP items, motion-photo videos in 'mpvd' boxes), and there is no lossless way to rebuild
the compressed data in a form most sites accept. So the primary image is decoded, turned
upright (irot/imir), and written fresh as JPEG (or PNG when it has transparency or the
user asks for it), keeping the ICC profile. The report says "re-encoded".
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, TooLarge
from safeshare.findings import Findings
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection
from safeshare.formats.heif_items import container_findings
from safeshare.metadata.icc import sanitize_icc

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def brands(head: bytes) -> set[bytes]:
    """Major and compatible brands of an 'ftyp' box at the start of `head`."""
    if head[4:8] != b"ftyp":
        return set()
    size = min(int.from_bytes(head[:4], "big"), len(head))
    return {head[8:12]} | {head[i : i + 4] for i in range(16, size - 3, 4)}


class _IsoImage(ImageFormat):
    lossless = False

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(container_findings(data))

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        findings: Findings = container_findings(data)
        image = decode_upright(data, options.max_pixels)
        as_png = options.convert_to == "png" or image.mode in ("RGBA", "LA", "PA")
        icc = (
            sanitize_icc(image.info["icc_profile"], "HEIF colour profile")
            if image.info.get("icc_profile")
            else None
        )
        if icc is not None:
            findings.extend(icc.findings)
        extra = {"icc_profile": icc.profile} if icc is not None and icc.profile else {}
        out = io.BytesIO()
        if as_png:
            image.save(out, "PNG", **extra)
        else:
            image = image if image.mode in ("RGB", "L") else image.convert("RGB")
            image.save(out, "JPEG", quality=options.jpeg_quality, subsampling=0, **extra)
        fmt, ext = ("PNG", ".png") if as_png else ("JPEG", ".jpg")
        notes = ["kept as PNG to keep transparency"] if as_png and options.convert_to != "png" else []
        return Cleaned([out.getvalue()], fmt, findings, 1, True, ext, image.size, image.mode, notes)


class Heif(_IsoImage):
    name = "HEIF"
    extensions = (".heic", ".heif", ".hif")

    @staticmethod
    def sniff(head: bytes) -> bool:
        found = brands(head)
        return bool(found & HEIF_BRANDS) and head[8:12] not in AVIF_BRANDS


class Avif(_IsoImage):
    name = "AVIF"
    extensions = (".avif",)

    @staticmethod
    def sniff(head: bytes) -> bool:
        found = brands(head)
        return head[8:12] in AVIF_BRANDS or (bool(found & AVIF_BRANDS) and b"heic" not in found)


def decode_upright(data: Buffer, max_pixels: int) -> Image.Image:
    """The primary image, decoded, with its irot/imir transform applied."""
    _register_heif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:
                raise TooLarge(f"{image.width}x{image.height} pixels is over the limit of {max_pixels}")
            image.load()
    except TooLarge:
        raise
    except (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError) as exc:
        raise CorruptImage(f"the image cannot be decoded ({_reason(exc)})") from exc
    transpose = _TRANSPOSE.get(_decoder_orientation(image))
    return image.transpose(transpose) if transpose is not None else image  # FLIP_LEFT_RIGHT is 0


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


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


_registered = False


def _register_heif() -> None:
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
