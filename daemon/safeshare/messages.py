"""What a notification says: in plain words, most sensitive first, within platform limits.

One cleaned file: "Photo cleaned: IMG_2041.jpg" / "Removed: location (near Lyon, FR), capture
time, device (Apple iPhone 13 Pro), ...". A burst: "Cleaned 48 photos" / "41 had a location,
48 named the device, ...". A failure: "Couldn't clean notes.jpg" / the reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from safeshare.disposition import Disposition
from safeshare.errors import EmptyFile, InputError, OutputError, TooLarge, Truncated
from safeshare.findings import Finding, Kind, shorten
from safeshare.pipeline import Result
from safeshare.printable import printable

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
    (frozenset({Kind.HISTORY}), "editing history", "had editing history"),
    (frozenset({Kind.SOFTWARE}), "software version", "named the software"),
    (frozenset({Kind.AI_PROMPT}), "image-generator prompt", "had a generator prompt"),
    (frozenset({Kind.PROVENANCE}), "content credentials", "had content credentials"),
    (frozenset({Kind.XATTR}), "download address", "had a download address"),
    (frozenset({Kind.TIMESTAMP}), "timestamps", "had timestamps"),
    (frozenset({Kind.FILENAME}), "revealing file name", "had a revealing name"),
    (frozenset({Kind.TEXT, Kind.CAMERA_SETTINGS, Kind.OTHER}), "other metadata", "had other metadata"),
]
FORMAT_NAMES = {"HEIF": "HEIC"}  # what phones and file managers call it
SHOWN = 3  # names listed in a sentence; the rest are counted ("+ 2 more")
PlaceLookup = Callable[[str], str | None]  # "48.8584 N, 2.2945 E" -> "near Paris, FR"


@dataclass(frozen=True)
class Message:
    title: str
    body: str
    error: bool = False
    copies: tuple[Path, ...] = ()  # the clean copies it is about (its buttons act on them)


def fit(text: str, limit: int) -> str:
    """At most `limit` characters, cut at a word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,;:") + "…"


def name_of(path: Path) -> str:
    """A file name as one line of at most 80 characters that shows what the name holds:
    newlines, control and bidi characters escaped ('\\n', '\\x1b'), bytes that are not UTF-8
    as '\\xff' (see printable), so no name can add a line or pose as another text."""
    return printable(path.name, 80, "…")


def path_of(path: Path) -> str:
    """A whole path as one line, escaped as names are."""
    return printable(str(path), 400, "…")


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
    if Kind.SERIAL in group and any(f.what == "Live Photo pairing identifier" for f in findings):
        return " (with the Live Photo pairing identifier)"
    track = next((f.value for f in findings if f.what == "location track" and f.value), "")
    if Kind.GPS in group and track:
        return f" track ({track})"  # "location track (GPS every 0.05 s)"
    if Kind.GPS in group and place is not None:
        position = next((f.value for f in findings if f.kind is Kind.GPS and f.what == "GPS position"), "")
        where = place(position) if position else None
        return f" ({where})" if where else ""
    if Kind.DEVICE in group:
        camera = next((f.value for f in findings if f.kind is Kind.DEVICE and f.what == "camera"), "")
        if not camera:  # a video's keys name make and model apart: "Apple" "iPhone 6"
            parts = [_value(findings, "camera make"), _value(findings, "camera model")]
            camera = " ".join(p for p in parts if p) if parts[1] else ""
            camera = parts[1] if parts[0] and parts[1].startswith(parts[0]) else camera
        if camera:
            return f" ({printable(shorten(camera, 40))})"
        devices = [f for f in findings if f.kind in group]
        # A stock colour profile names its vendor (IEC, Apple): said as such, not as a camera.
        return " (in the colour profile)" if all("colour profile" in f.what for f in devices) else ""
    return ""


def _value(findings: Sequence[Finding], what: str) -> str:
    return next((f.value for f in findings if f.kind is Kind.DEVICE and f.what == what), "")


def for_file(result: Result, detail: str = "full", place: PlaceLookup | None = None) -> Message:
    if not result.ok:
        return for_failure(result)
    noun = _noun(result)
    if result.already is not None:
        return Message(
            f"{noun} already cleaned: {name_of(result.source)}",
            f"The same {'picture' if result.picture else 'video'} is already in "
            f"{name_of(result.already.parent)} as {name_of(result.already)}.",
        )
    title = f"{noun} {'updated' if result.updated else 'cleaned'}: {name_of(result.source)}"
    phrases = removed_phrases(result.findings.items, detail, place)
    if not result.picture:
        phrases = [p.replace("after the image", "after the video") for p in phrases]
    lines = [f"Removed: {', '.join(phrases)}." if phrases else "It carried no metadata."]
    if result.filled:
        lines.append(f"{_first_upper(result.filled.filled_in())}.")
    if result.visible:
        still = "Still visible" if result.filled else "Also visible"
        lines.append(f"{still}: {result.visible.describe(detail)}.")
    elif result.looking and result.visible is None:
        lines.append("What it shows could not be checked.")
    elif not result.picture:
        lines.append("What the video shows (faces, text) is not checked.")
    if result.visible is not None and result.visible.checked():  # said even when nothing was found
        lines.append(f"{_first_upper(result.visible.checked())}.")
    converted = _converted(result)
    if converted:
        lines.append(f"{converted}.")
    said = result.filled.filled_in() if result.filled else ""
    lines += [f"{_first_upper(note)}." for note in result.notes if note != said]  # frames, HDR, name
    if detail == "full" and result.output:
        lines.append(f"{'New clean copy' if result.updated else 'Clean copy'}: {path_of(result.output)}")
    else:
        lines.append("The clean copy is ready.")
    return Message(title, "\n".join(lines))


def for_failure(result: Result) -> Message:
    """What went wrong and what happens next, at normal urgency: a file that could not be
    cleaned is not an emergency, and nothing unclean was published."""
    return Message(f"Couldn't clean {name_of(result.source)}", f"{_first_upper(reason_and_next(result))}.")


# What happens next to a file that was not cleaned, by kind: (in a notification of its own,
# in a burst's list). One classification (`_failure`) serves both.
NEXT = {
    "output": (
        "could not write the clean copy ({}); it will be tried again",
        "could not write the copy: {}; will retry",
    ),
    "unfinished": (
        "the file looks unfinished ({}); it will be tried again when it changes",
        "{}; looks unfinished, tried again when it changes",
    ),
    "limits": ("{}; nothing was published (the limits are in the [clean] settings)", "{}; not published"),
    "input": ("{}; nothing was published", "{}; not published"),
    "ours": ("{}; nothing was published, and it will be tried again when it changes", "{}; not published"),
}


def _failure(result: Result) -> str:
    problem = result.problem
    if result.disposition is Disposition.RETRY_OUTPUT or (problem and issubclass(problem, OutputError)):
        return "output"
    if problem and issubclass(problem, Truncated | EmptyFile):
        return "unfinished"
    if problem and issubclass(problem, TooLarge):
        return "limits"
    return "input" if problem and issubclass(problem, InputError) else "ours"


def reason_and_next(result: Result) -> str:
    """'could not write the clean copy (no space left on device); it will be tried again'."""
    reason = (result.reason or result.status.value).rstrip(".")
    return NEXT[_failure(result)][0].format(reason)


def for_burst(results: Sequence[Result], output: Path | None = None) -> Message:
    already = [r for r in results if r.ok and r.already is not None]
    cleaned = [r for r in results if r.ok and r.already is None]
    failed = [r for r in results if not r.ok]
    title = f"Cleaned {_counted(cleaned)}"
    if failed:
        title += f", {len(failed)} couldn't be cleaned"
    counts = []
    for group, _, counted in GROUPS[:-1]:
        n = sum(1 for r in cleaned if r.findings.kinds() & group)
        if n:
            counts.append(f"{n} {counted}")
    lines = [", ".join(counts) + "." if counts else ("They carried no metadata." if cleaned else "")]
    filled = sum(1 for r in cleaned if r.filled)
    if filled:
        lines.append(f"{filled} had what you asked to hide filled in.")
    shown = _visible_counts([r for r in cleaned if not r.looking])  # looked at: said next
    if shown:
        lines.append(f"{'Still' if filled else 'Also'} visible: {shown}.")
    updated = sum(1 for r in cleaned if r.updated)
    if updated:
        lines.append(
            f"{updated} {'was' if updated == 1 else 'were'} updated (changed since their last copy)."
        )
    converted = Counter(r.output_format for r in cleaned if _converted(r))
    for fmt, n in sorted(converted.items()):
        lines.append(f"{n} {'was' if n == 1 else 'were'} converted to {fmt}.")
    animations = sum(1 for r in cleaned if any("only the first frame kept" in n for n in r.notes))
    if animations:
        were = "was an animation" if animations == 1 else "were animations"
        lines.append(f"{animations} {were}: only the first frame kept.")
    hdr = sum(1 for r in cleaned if any("tone-mapped to sRGB" in n for n in r.notes))
    if hdr:
        lines.append(f"{hdr} HDR {'photo was' if hdr == 1 else 'photos were'} tone-mapped to sRGB.")
    if failed:
        named = ", ".join(f"{name_of(r.source)} ({_short(r)})" for r in failed[:SHOWN])
        lines.append(f"Couldn't clean: {named}{more(len(failed))}.")
    if already:
        where = f" in {output.name}" if output is not None else ""
        lines.append(
            f"{len(already)} {'was' if len(already) == 1 else 'were'} already{where}, not copied again."
        )
    if cleaned and output is not None:
        lines.append(f"Copies in {output.name}.")
    return Message(title, "\n".join(line for line in lines if line))


def _short(result: Result) -> str:
    """A failure in a burst: its reason, and what happens next in a few words."""
    reason = printable(shorten(result.reason or result.status.value, 120)).rstrip(".")
    return NEXT[_failure(result)][1].format(reason)


def for_visible(results: Sequence[Result]) -> Message | None:
    """The one notification that follows a burst once its photos were looked at: which
    show faces, readable text or codes, and how many could not be looked at (None when
    nothing is to be said)."""
    showing = [r for r in results if r.visible]
    unseen = sum(1 for r in results if r.visible is None)
    total = len(results)
    photos = "the photo just cleaned" if total == 1 else f"the {total} photos just cleaned"
    if not showing:
        if not unseen:
            unsure = _unsure(results)  # nothing found, but not everywhere could be looked at well
            return Message(f"Nothing found in {photos}", "\n".join(unsure)) if unsure else None
        return Message(
            f"Could not look at {photos}" if total == 1 else f"Could not look at {unseen} of {photos}",
            "What they show (faces, text, codes) is not known.",
        )
    lines = []
    for what, names in (
        ("faces", [name_of(r.source) for r in showing if r.visible and r.visible.faces]),
        ("readable text", [name_of(r.source) for r in showing if r.visible and r.visible.texts]),
        ("a QR code or barcode", [name_of(r.source) for r in showing if r.visible and r.visible.codes]),
    ):
        if names:
            verb = "shows" if len(names) == 1 else "show"
            lines.append(f"{len(names)} {verb} {what}: {', '.join(names[:SHOWN])}{more(len(names))}.")
    if unseen:
        lines.append(f"{unseen} could not be looked at.")
    lines += _unsure(results)
    title = f"Visible in {photos}" if total == 1 else f"Visible in {len(showing)} of {photos}"
    return Message(title, "\n".join(lines))


def _unsure(results: Sequence[Result]) -> list[str]:
    """'In 3 of them faces, text and codes may be missed: small text.' (or [])."""
    missed = sorted({limit for r in results if r.visible is not None for limit in r.visible.limits})
    count = sum(1 for r in results if r.visible is not None and r.visible.limits)
    if not count:
        return []
    which = "it" if len(results) == 1 else f"{count} of them"
    return [f"In {which}, safeshare may have missed {', '.join(missed)}."]


def more(n: int) -> str:
    """' + 2 more' after the first SHOWN of n items: nothing is cut silently."""
    return f" + {n - SHOWN} more" if n > SHOWN else ""


def _visible_counts(cleaned: Sequence[Result]) -> str:
    """'5 showed faces, 2 showed readable text, 1 showed a code', for a burst."""
    pictures = [r.visible for r in cleaned if r.visible]
    counts = [
        (sum(1 for v in pictures if v.faces), "showed faces"),
        (sum(1 for v in pictures if v.texts), "showed readable text"),
        (sum(1 for v in pictures if v.codes), "showed a QR code or barcode"),
    ]
    return ", ".join(f"{n} {words}" for n, words in counts if n)


def _noun(result: Result) -> str:
    if not result.picture:
        return "Video"
    return "Screenshot" if "screenshot" in result.source.name.lower() else "Photo"


def _counted(cleaned: Sequence[Result]) -> str:
    """'48 photos', '1 video', '3 photos and 2 videos'."""
    videos = sum(1 for r in cleaned if not r.picture)
    photos = len(cleaned) - videos
    said = [f"{n} {word}{'' if n == 1 else 's'}" for n, word in ((photos, "photo"), (videos, "video")) if n]
    return " and ".join(said) or "0 photos"


def _converted(result: Result) -> str:
    """'Converted from HEIC to JPEG' when the copy is in another format than the original."""
    if not result.format or not result.output_format or result.format == result.output_format:
        return ""
    return f"Converted from {FORMAT_NAMES.get(result.format, result.format)} to {result.output_format}"


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]
