"""HEIC/HEIF and AVIF: decode the primary image and re-encode it from pixels.

HEIF containers hold far more than the picture (thumbnails, depth and gain maps, Exif and
XMP items, motion-photo videos in 'mpvd' boxes), and there is no lossless way to rebuild
the compressed data in a form most sites accept. So the primary image is decoded, turned
upright (irot/imir), and written fresh as JPEG (or PNG when it has transparency or the
user asks for it), keeping the ICC profile. The report says "re-encoded". The decoding
runs in the decoder worker (formats/reencode.py, isolation.py).
"""

from __future__ import annotations

from safeshare import isolation
from safeshare.binary import Buffer
from safeshare.findings import Findings
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection, source_of
from safeshare.formats.heif_items import container_findings

HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}


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
        args = (source_of(data, options), options.convert_to, options.jpeg_quality, options.max_pixels)
        from safeshare.formats import reencode  # Pillow's encoders: only for re-encoding

        out = isolation.pool().call(reencode.isobmff, *args)
        findings.extend(out.findings)
        ext = ".png" if out.format == "PNG" else ".jpg"
        return Cleaned([out.data], out.format, findings, 1, True, ext, out.size, out.mode, out.notes, 1)


class Heif(_IsoImage):
    name = "HEIF"
    extensions = (".heic", ".heif", ".hif")
    canonical_suffix = ".heic"
    pillow_name = "HEIF"

    @staticmethod
    def sniff(head: bytes) -> bool:
        found = brands(head)
        return bool(found & HEIF_BRANDS) and head[8:12] not in AVIF_BRANDS


class Avif(_IsoImage):
    name = "AVIF"
    extensions = (".avif",)
    canonical_suffix = ".avif"
    pillow_name = "AVIF"

    @staticmethod
    def sniff(head: bytes) -> bool:
        found = brands(head)
        return head[8:12] in AVIF_BRANDS or (bool(found & AVIF_BRANDS) and b"heic" not in found)
