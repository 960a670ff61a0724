"""`safeshare inspect`: what a file carries, by leak class. Reads; changes nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from safeshare.errors import InputError
from safeshare.fileio import read_input
from safeshare.findings import Findings
from safeshare.formats import HEAD_SIZE, detect, streamed_loader
from safeshare.fsleaks import name_findings, xattr_findings
from safeshare.vision.report import Visible
from safeshare.vision.step import VisionStep


@dataclass
class Report:
    source: Path
    format: str = ""
    findings: Findings = field(default_factory=Findings)
    orientation: int = 1
    error: str = ""
    visible: Visible | None = None


def inspect_file(source: Path, max_bytes: int, vision: VisionStep | None = None) -> Report:
    try:
        src = read_input(source, max_bytes, loader=streamed_loader)
        fmt = detect(bytes(src.data[:HEAD_SIZE]))
        seen = fmt.inspect(src.data)
    except InputError as exc:
        return Report(source, error=str(exc))
    findings = Findings()
    findings.extend(seen.findings)
    xattr_findings(source, findings)
    name_findings(source.name, findings)
    looks = vision is not None and fmt.picture
    visible = vision.analyze(source, findings=findings) if vision is not None and looks else None
    return Report(source, fmt.name, findings, seen.orientation, visible=visible)
