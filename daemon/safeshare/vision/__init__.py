"""What the picture itself shows: faces, readable text and codes (the optional `vision` extra).

Everything here runs offline: the models ship inside installed packages (the CenterFace
face model inside safeshare, the OCR models inside rapidocr), nothing is downloaded and
onnxruntime's telemetry is switched off before it is imported. Detection and redaction run
in their own worker process (see isolation.py), which exits when idle.
"""

from __future__ import annotations

from importlib.util import find_spec

REQUIRED = ("onnxruntime", "rapidocr", "zxingcpp")
INSTALL = "pip install 'safeshare[vision]' (or `make run` in a clone)"


def installed() -> bool:
    """True when `pip install safeshare[vision]` brought the detectors (nothing is imported)."""
    return all(find_spec(name) is not None for name in REQUIRED)
