"""The vision step as the pipeline, `clean`, `inspect` and the daemon use it.

It never holds up or breaks cleaning: detection runs in its own worker process (niced, with
its own memory limit, stopped when idle), and a detector that fails is logged and reported
as "nothing known" rather than failing the file. Only redaction, which is asked for, comes
before publishing; otherwise the clean copy is published first and looked at afterwards.
"""

from __future__ import annotations

import logging
import os
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare.config import VisionConfig
from safeshare.errors import SafeshareError, VisionUnavailable
from safeshare.findings import Findings
from safeshare.isolation import DecoderPool
from safeshare.vision import INSTALL, REQUIRED, installed
from safeshare.vision.whose import front_camera, is_selfie

if TYPE_CHECKING:
    from safeshare.formats.reencode import Reencoded
    from safeshare.vision.report import Box, Visible  # what the worker sends back imports it

log = logging.getLogger(__name__)
TIMEOUT = 120.0
_SOME_FACES = {"faces-except-largest", "faces-except-yours"}


class VisionStep:
    def __init__(self, config: VisionConfig, max_pixels: int) -> None:
        os.environ["ORT_DISABLE_TELEMETRY"] = "1"  # the worker inherits it before any import
        self.config = config
        self.max_pixels = max_pixels
        self.pool = DecoderPool(TIMEOUT, config.memory_mb, size=1, nice=10)

    @classmethod
    def if_available(cls, config: VisionConfig, max_pixels: int, wanted: bool = True) -> VisionStep | None:
        """A step when the extra is installed and the user has not turned it off. With
        redaction configured there must be one: VisionUnavailable says why there is not
        (a copy that keeps what the user asked to hide is never published)."""
        if not config.redact:
            return cls(config, max_pixels) if wanted and config.enabled and installed() else None
        asked = ", ".join(config.redact)
        if not wanted:
            raise VisionUnavailable(
                f"redaction is configured (redact = {asked}): it cannot be turned off for one run"
            )
        if not installed():
            raise VisionUnavailable(
                f"redaction is configured (redact = {asked}), "
                f"but the vision extra is not installed: {INSTALL}"
            )
        step = cls(config, max_pixels)
        try:
            step.pool.call(_load_in_worker)
        except (SafeshareError, OSError) as exc:
            step.close()
            raise VisionUnavailable(
                f"redaction is configured (redact = {asked}), but the vision extra does not load "
                f"({exc}); reinstall it: {INSTALL}"
            ) from exc
        return step

    @property
    def redacts(self) -> bool:
        return bool(self.config.redact)

    def analyze(
        self,
        source: Path | bytes | bytearray,
        name: str = "",
        thorough: bool = False,
        findings: Findings | None = None,
    ) -> Visible | None:
        """What `source` (a path, or the file's bytes, named `name`) shows; None if unknown.
        `findings`: the metadata the original carried, which says whether it is a selfie."""
        readable = str(source) if isinstance(source, Path) else source
        try:
            visible: Visible = self.pool.call(_analyze_in_worker, readable, self.max_pixels, thorough)
        except (SafeshareError, OSError) as exc:  # OSError: the worker could not be started
            shown = source.name if isinstance(source, Path) else name
            log.warning("could not look at what %s shows: %s", shown, exc)
            return None
        evidence = front_camera(findings)
        faces = [face.box for face in visible.faces]
        return replace(visible, selfie=evidence if is_selfie(evidence, faces, visible.size[1]) else "")

    def to_hide(self, visible: Visible) -> Visible:
        """What the user asked to have filled in, of what `visible` holds. "faces-except-yours"
        keeps the largest face only in a selfie; "faces-except-largest" keeps it always."""
        wanted = set(self.config.redact)
        yours = "faces-except-yours" in wanted and bool(visible.selfie)
        kept = 1 if "faces-except-largest" in wanted or yours else 0
        faces = visible.faces if "faces" in wanted else visible.faces[kept:] if _SOME_FACES & wanted else []
        return replace(
            visible,
            faces=list(faces),
            texts=visible.texts if "text" in wanted else [],
            codes=visible.codes if "codes" in wanted else [],
        )

    def redact(
        self, source: Path | bytes | bytearray, boxes: list[Box], as_png: bool, quality: int
    ) -> Reencoded:
        """The picture with `boxes` filled solid; raises SafeshareError when it cannot be done."""
        readable = str(source) if isinstance(source, Path) else source
        return self.pool.call(_redact_in_worker, readable, boxes, as_png, quality, self.max_pixels)

    def close(self) -> None:
        self.pool.close()


# The worker runs these. They import the detectors themselves so that the process that asks
# (the daemon) never loads numpy or onnxruntime: pickling `detect.analyze` would import it here.
def _load_in_worker() -> bool:
    import importlib

    try:
        for name in ("numpy", *REQUIRED):
            importlib.import_module(name)
    except Exception as exc:  # whatever a broken install raises, said in words
        raise VisionUnavailable(f"{type(exc).__name__}: {str(exc)[:160]}") from exc
    return True


def _analyze_in_worker(source: str | bytes | bytearray, max_pixels: int, thorough: bool) -> Visible:
    from safeshare.vision import detect

    return detect.analyze(source, max_pixels, thorough)


def _redact_in_worker(
    source: str | bytes | bytearray, boxes: list[Box], as_png: bool, quality: int, max_pixels: int
) -> Reencoded:
    from safeshare.vision import redact

    return redact.redact(source, boxes, as_png, quality, max_pixels)
