"""Scoring what the vision step saw against ground truth: shared by the test sets."""

from __future__ import annotations

import re

from safeshare.vision.report import Visible

Box = tuple[float, float, float, float]


def normal(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def read_alike(text: str) -> str:
    """Text as it must be read: O/0 and l/1 look the same in many fonts, and a warning
    that says 'TrOub4dor' has still found the password."""
    return normal(text).translate(str.maketrans("ol", "01"))


def center_in(box: Box, target: Box) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return target[0] <= cx <= target[2] and target[1] <= cy <= target[3]


def score(
    seen: Visible, faces: list[Box], texts: list[str], codes: list[str], negative: bool
) -> dict[str, tuple[int, int, int]]:
    """(found, expected, false positives) per kind. A face found is one whose centre lies in
    a true box; a box matching no true face is false. Text is found when it appears in what
    was read; text read in a picture with nothing to find is false."""
    face_hits = sum(1 for gt in faces if any(center_in(f.box, gt) for f in seen.faces))
    face_false = sum(1 for f in seen.faces if not any(center_in(f.box, gt) for gt in faces))
    read = " ".join(read_alike(t.text) for t in seen.texts)
    text_hits = sum(1 for t in texts if read_alike(t) in read)
    decoded = {c.text for c in seen.codes}
    return {
        "faces": (face_hits, len(faces), face_false),
        "texts": (text_hits, len(texts), len(seen.texts) if negative else 0),
        "codes": (len(decoded & set(codes)), len(codes), len(decoded - set(codes))),
    }
