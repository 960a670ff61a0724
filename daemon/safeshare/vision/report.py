"""What a picture shows, and how to say it: "3 faces, readable text ('ID 4821-7730',
'Password'), a QR code (https://...)"; in a selfie "your face + 2 others" (whose.py)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from safeshare.findings import shorten
from safeshare.printable import printable

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in the upright picture's pixels
SHOWN = 3  # texts and codes named in a sentence; the rest are counted


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
    """What a picture of `size` shows: faces, texts and codes, and what may have been missed."""

    size: tuple[int, int]
    faces: list[Seen] = field(default_factory=list)  # largest first
    texts: list[Seen] = field(default_factory=list)
    codes: list[Seen] = field(default_factory=list)
    limits: tuple[str, ...] = ()  # what may have been missed ("small text"), said with the result
    selfie: str = ""  # the evidence that it came from a front camera: its largest face is yours

    def __bool__(self) -> bool:
        return bool(self.faces or self.texts or self.codes)

    def describe(self, detail: str = "full") -> str:
        """'your face + 2 others, readable text ('ID 4821-7730', 'Password') + 1 more, a QR code
        (Wi-Fi network 'home', with its password)': nothing cut without saying so, and what a
        code protects left out (see payload.py)."""
        from safeshare.vision.payload import described, hide_secrets  # only when something is seen

        parts = []
        if self.faces:
            parts.append(self._faces())
        if self.texts:
            shown = ", ".join(f"'{printable(shorten(hide_secrets(t.text), 30))}'" for t in self.texts[:SHOWN])
            more = _more(len(self.texts))
            parts.append(f"readable text ({shown}){more}" if detail == "full" else "readable text")
        for code in self.codes[:SHOWN]:
            noun = "a QR code" if code.kind.startswith("QR") else f"a {_code_name(code.kind)}"
            words = described(code.text) if detail == "full" else ""
            parts.append(f"{noun} ({words})" if words else noun)
        if len(self.codes) > SHOWN:
            parts[-1] += f" + {len(self.codes) - SHOWN} more code{'s' if len(self.codes) - SHOWN > 1 else ''}"
        return ", ".join(parts)

    def _faces(self) -> str:
        count = len(self.faces)
        if not self.selfie:
            return "a face" if count == 1 else f"{count} faces"
        others = count - 1
        return "your face" + (f" + {others} other{'s' if others > 1 else ''}" if others else "")

    def checked(self) -> str:
        """'checked faces, text and codes; may miss small text' when parts of the picture
        could not be looked at well ('' otherwise: nothing to add to what was found)."""
        if not self.limits:
            return ""
        *first, last = self.limits
        missed = f"{', '.join(first)} or {last}" if first else last
        return f"checked faces, text and codes; may miss {missed}"

    def without(self, hidden: Visible) -> Visible:
        """What is still visible once `hidden` is filled in."""
        gone = {id(seen) for seen in (*hidden.faces, *hidden.texts, *hidden.codes)}
        return replace(
            self,
            faces=[f for f in self.faces if id(f) not in gone],
            texts=[t for t in self.texts if id(t) not in gone],
            codes=[c for c in self.codes if id(c) not in gone],
        )

    def boxes(self) -> list[Box]:
        return [seen.box for seen in (*self.faces, *self.texts, *self.codes)]

    def filled_in(self) -> str:
        """'3 faces and 2 texts filled in' (what redaction covered; '' when nothing)."""
        counts = [
            _count(len(self.faces), "face"),
            _count(len(self.texts), "text"),
            _count(len(self.codes), "code"),
        ]
        said = [c for c in counts if c]
        if not said:
            return ""
        joined = ", ".join(said[:-1]) + " and " + said[-1] if len(said) > 1 else said[0]
        return f"{joined} filled in"

    def as_json(self) -> dict[str, Any]:
        def item(seen: Seen) -> dict[str, Any]:
            return {"kind": seen.kind, "box": [round(v) for v in seen.box], "text": seen.text}

        return {
            "size": list(self.size),
            "faces": [item(f) for f in self.faces],
            "texts": [item(t) for t in self.texts],
            "codes": [item(c) for c in self.codes],
            "may_miss": list(self.limits),
            "selfie": self.selfie,
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'s' if n > 1 else ''}" if n else ""


def _more(n: int) -> str:
    return f" + {n - SHOWN} more" if n > SHOWN else ""


def _code_name(kind: str) -> str:
    names = {
        "DataMatrix": "Data Matrix code",
        "PDF417": "PDF417 code (as on boarding passes)",
        "Aztec": "Aztec code",
    }
    return names.get(kind, "barcode")
