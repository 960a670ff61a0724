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

from safeshare.findings import Findings, Kind

LENS_WORDS = re.compile(r"\b(front|selfie|truedepth|facetime|user[- ]facing)\b", re.IGNORECASE)


def front_camera(findings: Findings | None) -> str:
    """The evidence that the picture came from a front camera ("lens: iPhone 13 front
    camera"), or '' when there is none."""
    if findings is None:
        return ""
    for finding in findings:
        lens = finding.kind is Kind.DEVICE and finding.what.startswith("lens")
        if lens and LENS_WORDS.search(finding.value):
            return f"{finding.what}: {finding.value}"
    return ""
