"""How results are shown: one line per file (or one JSON object per line), a progress bar."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from safeshare.findings import shorten
from safeshare.pipeline import Result, Status
from safeshare.printable import printable

if TYPE_CHECKING:
    from safeshare.inspector import Report


def shown(path: Path) -> str:
    """A path as one line that shows what its names hold: newlines, control characters
    (ESC, BEL, CR, backspace) and bidi overrides escaped, bytes that are not UTF-8 as '\\xff'
    (see printable), so that no name can move the cursor or pose as another line."""
    return printable(str(path), 400)


def clean_line(result: Result) -> str:
    if result.status is not Status.CLEANED:
        return f"{result.status.value}: {shown(result.source)}: {shorten(result.reason, 400)}"
    how = "re-encoded" if result.reencoded else "lossless"
    fmt = (
        result.format
        if result.format == result.output_format
        else f"{result.format} -> {result.output_format}"
    )
    removed = result.findings.short_summary() or "no metadata found"
    notes = "".join(f"; {shorten(note, 400)}" for note in result.notes)
    if result.visible:
        notes += f"; {'still' if result.filled else 'also'} visible: {result.visible.describe()}"
    if result.visible is not None and result.visible.checked():
        notes += f"; {result.visible.checked()}"
    assert result.output is not None
    return (
        f"cleaned: {shown(result.source)} -> {shown(result.output)} ({fmt}, {how}; removed: {removed}{notes})"
    )


def clean_json(result: Result) -> str:
    import json  # imported here: only --json needs it

    record: dict[str, Any] = {
        "input": shown(result.source),
        "status": result.status.value,
        "output": shown(result.output) if result.output else None,
        "format": result.format or None,
        "output_format": result.output_format or None,
        "mode": ("re-encoded" if result.reencoded else "lossless") if result.ok else None,
        "removed": [f.as_json() for f in result.findings],
        "notes": result.notes,
        "visible": result.visible.as_json() if result.visible is not None else None,
        "filled_in": result.filled.as_json() if result.filled is not None else None,
    }
    if not result.ok:
        record["reason"] = result.reason
    return json.dumps(record, ensure_ascii=False)


def inspect_lines(report: Report) -> list[str]:
    if report.error:
        return [f"error: {shown(report.source)}: {shorten(report.error, 400)}"]
    head = f"{shown(report.source)} ({report.format})"
    if report.orientation != 1:
        head += f", orientation {report.orientation}"
    body = report.findings.summary_lines(per_class=12) or ["carries no metadata beyond the picture"]
    if report.visible:
        body.append(f"visible in the picture: {report.visible.describe()}")
    if report.visible is not None and report.visible.checked():
        body.append(report.visible.checked())
    if report.visible is not None and report.visible.selfie:
        body.append(f"a selfie ({report.visible.selfie}): its largest face is said to be yours")
    return [head, *(f"  {line}" for line in body)]


def inspect_json(report: Report) -> str:
    import json  # imported here: only --json needs it

    record: dict[str, Any] = {
        "input": shown(report.source),
        "format": report.format or None,
        "orientation": report.orientation,
        "carries": [f.as_json() for f in report.findings],
        "visible": report.visible.as_json() if report.visible is not None else None,
    }
    if report.error:
        record["error"] = report.error
    return json.dumps(record, ensure_ascii=False)


class Progress:
    """'[#####-----] 12/48' redrawn on stderr, only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr, minimum: int = 10) -> None:
        self.total = total
        self.stream = stream
        self.active = total >= minimum and stream.isatty()
        self.done = 0

    def clear(self) -> None:
        if self.active:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def step(self) -> None:
        self.done += 1
        if not self.active:
            return
        width = max(10, min(40, shutil.get_terminal_size().columns - 20))
        filled = width * self.done // self.total
        self.stream.write(f"\r[{'#' * filled}{'-' * (width - filled)}] {self.done}/{self.total}")
        self.stream.flush()
