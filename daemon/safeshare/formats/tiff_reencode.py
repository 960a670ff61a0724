"""The TIFF fallback: decode with Pillow and write losslessly (Deflate) without metadata.

Only for pages the structural rewrite cannot express, such as old-style JPEG compression,
whose data is scattered through tags that also carry the thumbnail.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, ImageSequence

from safeshare.binary import Buffer, Part
from safeshare.errors import CorruptImage
from safeshare.formats.base import CleanOptions
from safeshare.metadata.icc import sanitize_icc


def reencode_tiff(data: Buffer, options: CleanOptions) -> tuple[list[Part], tuple[int, int], str, int]:
    """All pages decoded, orientation applied, ICC kept; returns (parts, size, mode, pages)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            icc = image.info.get("icc_profile")
            pages = [
                ImageOps.exif_transpose(frame.copy())
                for frame in ImageSequence.Iterator(image)
                if not getattr(frame, "tag_v2", {}).get(254, 0) & 1  # reduced-resolution pages are thumbnails
            ]
    except (OSError, ValueError, SyntaxError) as exc:
        raise CorruptImage("the TIFF cannot be decoded") from exc
    out = io.BytesIO()
    profile = sanitize_icc(icc).profile if icc else None
    extra = {"icc_profile": profile} if profile else {}
    pages[0].save(
        out, "TIFF", compression="tiff_adobe_deflate", save_all=True, append_images=pages[1:], **extra
    )
    return [out.getvalue()], pages[0].size, pages[0].mode, len(pages)
