"""What a notification says: in plain words, most sensitive first, within platform limits.

One cleaned file: "Photo cleaned: IMG_2041.jpg" / "Removed: location (near Lyon, FR), capture
time, device (Apple iPhone 13 Pro), ...". A burst: "Cleaned 48 photos" / "41 had a location,
48 named the device, ...". A failure: "Couldn't clean notes.jpg" / the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from safeshare.findings import Finding, Kind, shorten
from safeshare.pipeline import Result

# Phrase groups, most sensitive first: (kinds, phrase for one file, phrase for a count).
GROUPS: list[tuple[frozenset[Kind], str, str]] = [
    (frozenset({Kind.GPS, Kind.PLACE}), "location", "had a location"),
    (frozenset({Kind.CAPTURE_TIME}), "capture time", "had the capture time"),
    (frozenset({Kind.DEVICE, Kind.MAKER_NOTES}), "device", "named the device"),
    (frozenset({Kind.SERIAL}), "serial numbers", "had serial numbers"),
    (frozenset({Kind.NAME}), "names", "had names"),
    (frozenset({Kind.FACES}), "tagged faces", "had tagged faces"),
    (frozenset({Kind.THUMBNAIL, Kind.SECONDARY_IMAGE}), "hidden pictures", "hid extra pictures"),
    (frozenset({Kind.VIDEO}), "motion-photo video", "carried a motion video"),
    (frozenset({Kind.TRAILER}), "data after the image", "had data after the image"),
    (frozenset({Kind.HISTORY, Kind.SOFTWARE}), "editing history", "had editing history"),
    (frozenset({Kind.AI_PROMPT}), "image-generator prompt", "had a generator prompt"),
    (frozenset({Kind.PROVENANCE}), "content credentials", "had content credentials"),
    (frozenset({Kind.XATTR}), "download address", "had a download address"),
    (frozenset({Kind.TIMESTAMP}), "timestamps", "had timestamps"),
    (frozenset({Kind.FILENAME}), "revealing file name", "had a revealing name"),
    (frozenset({Kind.TEXT, Kind.CAMERA_SETTINGS, Kind.OTHER}), "other metadata", "had other metadata"),
]
PlaceLookup = Callable[[str], str | None]  # "48.8584 N, 2.2945 E" -> "near Paris, FR"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    error: bool = False


def fit(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def name_of(path: Path) -> str:
    """A file name as one printable line (newlines and control characters become spaces)."""
    flat = shorten(path.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace"), 10_000)
    return fit(flat, 80)


def removed_phrases(findings: Sequence[Finding], detail: str, place: PlaceLookup | None) -> list[str]:
    kinds = {f.kind for f in findings}
    phrases = []
    for group, phrase, _ in GROUPS:
        if not kinds & group:
            continue
        if detail == "full":
            phrase += _detail(group, findings, place)
        phrases.append(phrase)
    if len(phrases) > 1 and phrases[-1] == "other metadata":
        phrases[-1] = "and other metadata"
    return phrases


def _detail(group: frozenset[Kind], findings: Sequence[Finding], place: PlaceLookup | None) -> str:
    """A coarse, safe-to-show detail: the town near the position, the camera model."""
    if Kind.GPS in group and place is not None:
        position = next((f.value for f in findings if f.kind is Kind.GPS and f.what == "GPS position"), "")
        where = place(position) if position else None
        return f" ({where})" if where else ""
    if Kind.DEVICE in group:
        camera = next((f.value for f in findings if f.kind is Kind.DEVICE and f.what == "camera"), "")
        return f" ({shorten(camera, 40)})" if camera else ""
    return ""


def for_file(result: Result, detail: str = "full", place: PlaceLookup | None = None) -> Message:
    if not result.ok:
        return for_failure(result)
    noun = "Screenshot" if "screenshot" in result.source.name.lower() else "Photo"
    if result.already is not None:
        return Message(
            f"{noun} already cleaned: {name_of(result.source)}",
            f"The same picture is already in {result.already.parent.name} as {name_of(result.already)}.",
        )
    title = f"{noun} cleaned: {name_of(result.source)}"
    phrases = removed_phrases(result.findings.items, detail, place)
    where = (
        f"Clean copy: {result.output}" if detail == "full" and result.output else "The clean copy is ready."
    )
    visible = f"\nAlso visible: {result.visible.describe(detail)}." if result.visible else ""
    if not phrases:
        return Message(title, f"It carried no metadata.{visible}\n{where}")
    return Message(title, f"Removed: {', '.join(phrases)}.{visible}\n{where}")


def for_failure(result: Result) -> Message:
    return Message(
        f"Couldn't clean {name_of(result.source)}", result.reason or result.status.value, error=True
    )


def for_burst(results: Sequence[Result], output: Path | None = None) -> Message:
    already = [r for r in results if r.ok and r.already is not None]
    cleaned = [r for r in results if r.ok and r.already is None]
    failed = [r for r in results if not r.ok]
    title = f"Cleaned {len(cleaned)} {'photo' if len(cleaned) == 1 else 'photos'}"
    if failed:
        title += f", {len(failed)} couldn't be cleaned"
    counts = []
    for group, _, counted in GROUPS[:-1]:
        n = sum(1 for r in cleaned if r.findings.kinds() & group)
        if n:
            counts.append(f"{n} {counted}")
    lines = [", ".join(counts) + "." if counts else ("They carried no metadata." if cleaned else "")]
    shown = _visible_counts(cleaned)
    if shown:
        lines.append(f"Also visible: {shown}.")
    if failed:
        shown = ", ".join(f"{name_of(r.source)} ({r.reason})" for r in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        lines.append(f"Couldn't clean: {shown}{more}.")
    if already:
        where = f" in {output.name}" if output is not None else ""
        lines.append(
            f"{len(already)} {'was' if len(already) == 1 else 'were'} already{where}, not copied again."
        )
    if cleaned and output is not None:
        lines.append(f"Copies in {output.name}.")
    return Message(title, "\n".join(line for line in lines if line), error=bool(failed) and not cleaned)


def _visible_counts(cleaned: Sequence[Result]) -> str:
    """'5 showed faces, 2 showed readable text, 1 showed a code', for a burst."""
    pictures = [r.visible for r in cleaned if r.visible]
    counts = [
        (sum(1 for v in pictures if v.faces), "showed faces"),
        (sum(1 for v in pictures if v.texts), "showed readable text"),
        (sum(1 for v in pictures if v.codes), "showed a QR code or barcode"),
    ]
    return ", ".join(f"{n} {words}" for n, words in counts if n)
