"""Whose face it is: "your face" only with evidence that the picture is a selfie.

The largest face in a picture is not the user's face in general: it is the face on an ID
card, a child photographed alone, the person in front of a group. It is the user's when the
picture came from a front (user-facing) camera, which the metadata read before cleaning
says: phones write the lens into EXIF LensModel or XMP ("iPhone 13 Pro Max front TrueDepth
camera 2.71mm f/2.2", "Pixel 7 front camera"). A focal length alone is no evidence (front
cameras and rear wide or ultra-wide ones share 2-3 mm and 22-28 mm equivalents), so it is
not used. Runs in the daemon (no detector is imported).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from safeshare.findings import Findings, Kind, shorten
from safeshare.printable import printable

if TYPE_CHECKING:
    from safeshare.vision.report import Box

FRONT = re.compile(r"\b(front|selfie|truedepth|facetime|user[- ]facing)\b", re.IGNORECASE)
NOT_FRONT = re.compile(r"\b(back|rear|main|wide|tele|not|no)\b", re.IGNORECASE)
CAMERA_EXIF = {"EXIF", "WebP EXIF", "PNG eXIf"}  # a camera's own block, not one inside text
SELFIE_FACE = 0.15  # the largest face's height, as a share of the picture's: a selfie's is large


def front_camera(findings: Findings | None) -> str:
    """The evidence that the picture came from a front camera ("lens: iPhone 13 front
    camera"), or '' when there is none. Only the camera's own EXIF lens fields count (XMP is
    written by any editor), and a lens that also says back, rear or "not" does not."""
    if findings is None:
        return ""
    for finding in findings:
        lens = (
            finding.kind is Kind.DEVICE and finding.what.startswith("lens") and finding.where in CAMERA_EXIF
        )
        if lens and FRONT.search(finding.value) and not NOT_FRONT.search(finding.value):
            return printable(shorten(f"{finding.what}: {finding.value}", 80))
    return ""


def is_selfie(evidence: str, faces: list[Box], height: int) -> bool:
    """A front camera's photo whose largest face is large: a front camera turned on a group,
    or a photo of a screen, keeps no face as "yours"."""
    if not evidence or not faces:
        return False
    return (faces[0][3] - faces[0][1]) >= SELFIE_FACE * height
