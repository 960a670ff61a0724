"""HEIC/HEIF and AVIF: decode the primary image and re-encode it from pixels.

HEIF containers hold far more than the picture (thumbnails, depth and gain maps, Exif and
XMP items, motion-photo videos in 'mpvd' boxes), and there is no lossless way to rebuild
the compressed data in a form most sites accept. So the primary image is decoded, shown
as the file says (clap, irot, imir: formats/heif_display.py), and
written fresh as JPEG (or PNG when it has transparency or the user asks for it), keeping
the ICC profile; HDR is tone-mapped to sRGB (formats/hdr.py). An image sequence keeps its
animation as a lossless animated PNG, or its first frame with a note saying so
(formats/heif_render.py has the decision). The report says "re-encoded". The decoding
runs in the decoder worker (formats/heif_render.py, isolation.py).

The size the output must have is worked out here from the file's boxes ('ispe' and the
transforms), not taken from the decoder, and the verifier holds the output to it. So a
file whose boxes cannot be read in full (too many boxes, a box overrunning its parent, a
track that cannot be read, two 'meta' or 'moov' boxes, an ambiguous image sequence track)
is refused, HEIF as well as AVIF: without its boxes the displayed picture is unknown, and
Pillow's AVIF reader (whose transforms are ours to apply) may open a file sniffed as HEIF.
"""

from __future__ import annotations

from safeshare import isolation
from safeshare.binary import Buffer
from safeshare.errors import CorruptImage, UnsupportedFormat
from safeshare.formats.base import Cleaned, CleanOptions, ImageFormat, Inspection, source_of
from safeshare.formats.heif_display import Plan, Sequence, check_order, display_of
from safeshare.formats.heif_items import Container, container_findings, read_container


class _IsoImage(ImageFormat):
    lossless = False

    def inspect(self, data: Buffer) -> Inspection:
        return Inspection(container_findings(data))

    def clean(self, data: Buffer, options: CleanOptions) -> Cleaned:
        container = read_container(data)
        if container.error is not None:
            raise type(container.error)(f"{container.error} (its displayed picture cannot be known)")
        plan = plan_of(data, container, self.name)
        if self.name == "AVIF":  # libavif's fixed order; Pillow's reader on a HEIF: heif_render
            for display in (plan.still, plan.sequence.display if plan.sequence else None):
                if display is not None:
                    check_order(display)
        if plan.still is None and plan.sequence is not None and self.name == "HEIF":
            raise UnsupportedFormat(
                "HEIF image sequence without a still image (libheif here reads no sequences)"
            )
        # Worked out (and a corrupt clean aperture refused) before any pixel is decoded.
        shown = {track: plan.display(track).shown_size for track in (False, True)}
        findings = container.findings
        args = (source_of(data, options), plan, options.convert_to, options.jpeg_quality, options.max_pixels)
        from safeshare.formats import heif_render  # Pillow's encoders: only for re-encoding

        out = isolation.pool().call(heif_render.render, *args)
        findings.extend(out.findings)
        size = shown[out.track] or out.size  # the displayed size, by the file's own boxes
        ext = ".png" if out.format == "PNG" else ".jpg"
        return Cleaned([out.data], out.format, findings, 1, True, ext, size, out.mode, out.notes, out.frames)


def plan_of(data: Buffer, container: Container, name: str) -> Plan:
    """How viewers show the file: its primary item and its image sequence, if any."""
    s = container.structure
    if s is None:
        raise CorruptImage("unreadable HEIF container structure")
    for kind in ("meta", "moov"):
        if sum(b.type == kind for b in s.boxes) > 1:
            raise CorruptImage(f"corrupt HEIF: more than one '{kind}' box (readers disagree on which)")
    primary = s.items.get(s.primary) if s.primary is not None else None
    still = display_of(primary.props) if primary is not None else None
    track = container.sequence
    if track is None:
        return Plan(name, still)
    size = track.size if all(track.size) else None
    sequence = Sequence(track.frames, track.loop, display_of(track.props, size))
    # libavif (Pillow's reader) decodes the track for major brand 'avis', the item for
    # 'avif', and prefers the track for any other major brand.
    major = bytes(data[s.boxes[0].body : s.boxes[0].body + 4])
    avif_track = still is None or major != b"avif"
    return Plan(name, still, sequence, avif_track)


class Heif(_IsoImage):
    name = "HEIF"
    canonical_suffix = ".heic"
    pillow_name = "HEIF"


class Avif(_IsoImage):
    name = "AVIF"
    canonical_suffix = ".avif"
    pillow_name = "AVIF"
