"""What a picture shows, and how to say it: "your face + 2 others, readable text
('ID 4821-7730', 'Password'), a QR code (https://...)"."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from safeshare.findings import shorten

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in the upright picture's pixels


@dataclass(frozen=True)
class Seen:
    """One thing found: `kind` is "face", "text" or the code's format ("QRCode", "EAN13"...)."""

    kind: str
    box: Box
    text: str = ""

    @property
    def area(self) -> float:
        return max(0.0, self.box[2] - self.box[0]) * max(0.0, self.box[3] - self.box[1])


@dataclass(frozen=True)
class Visible:
    size: tuple[int, int]
    faces: list[Seen] = field(default_factory=list)  # largest first
    texts: list[Seen] = field(default_factory=list)
    codes: list[Seen] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.faces or self.texts or self.codes)

    def describe(self, detail: str = "full") -> str:
        """'your face + 2 others, readable text ('ID 4821-7730'), a QR code (https://...)'."""
        parts = []
        if self.faces:
            others = len(self.faces) - 1
            parts.append("your face" + (f" + {others} other{'s' if others > 1 else ''}" if others else ""))
        if self.texts:
            shown = ", ".join(f"'{shorten(t.text, 30)}'" for t in self.texts[:3])
            parts.append(f"readable text ({shown})" if detail == "full" else "readable text")
        for code in self.codes[:3]:
            noun = "a QR code" if code.kind.startswith("QR") else f"a {_code_name(code.kind)}"
            parts.append(f"{noun} ({shorten(code.text, 60)})" if detail == "full" else noun)
        return ", ".join(parts)

    def as_json(self) -> dict[str, Any]:
        def item(seen: Seen) -> dict[str, Any]:
            return {"kind": seen.kind, "box": [round(v) for v in seen.box], "text": seen.text}

        return {
            "size": list(self.size),
            "faces": [item(f) for f in self.faces],
            "texts": [item(t) for t in self.texts],
            "codes": [item(c) for c in self.codes],
        }


def _code_name(kind: str) -> str:
    names = {
        "DataMatrix": "Data Matrix code",
        "PDF417": "PDF417 code (as on boarding passes)",
        "Aztec": "Aztec code",
    }
    return names.get(kind, "barcode")
