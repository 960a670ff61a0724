"""Nothing sensitive at rest: after the daemon has cleaned the whole corpus, its
ledger, logs and state folder hold none of the removed coordinates, serials or names."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from tests.daemon_harness import DaemonRun, wait_until
from tests.helpers import CORPUS, manifest, require_corpus

SERIAL_KEYS = (
    "SerialNumber",
    "ImageUniqueID",
    "OwnerName",
    "Artist",
    "Copyright",
    "Creator",
    "By-line",
    "Author",
    "CameraOwnerName",
    "Contact",
)


def sensitive_values() -> set[str]:
    """Coordinates (in the forms a careless log would write them), serials and names that
    ExifTool read from the corpus originals."""
    values: set[str] = set()
    for record in (json.loads(p.read_text())[0] for p in (CORPUS / "exiftool").rglob("*.json")):
        values |= _coordinates(record) | _identities(record)
    return values


def _coordinates(record: dict[str, Any]) -> set[str]:
    found = set()
    for key, value in record.items():
        if (
            key.endswith(("GPSLatitude", "GPSLongitude"))
            and isinstance(value, int | float)
            and abs(value) > 0.01
        ):
            found |= {f"{abs(value):.4f}", f"{abs(value):.5f}", f"{value}"}
    return found


def _identities(record: dict[str, Any]) -> set[str]:
    found = set()
    for key, value in record.items():
        if key.split(":")[-1].endswith(SERIAL_KEYS) and isinstance(value, str | int):
            text = str(value).strip()
            if (
                len(text) >= 6
                and text.strip("0")
                and not text.lower().startswith(("copyright", "(c)", "none"))
            ):
                found.add(text)
    return found


def test_ledger_logs_and_state_hold_no_removed_values(tmp_path: Path) -> None:
    require_corpus()
    secrets = sensitive_values()
    assert len(secrets) > 30  # the corpus really carries such values
    run = DaemonRun(tmp_path, watches=[{"path": str(tmp_path / "home" / "Pictures"), "recursive": True}])
    run.config.write_text(run.config.read_text().replace("[daemon]", '[daemon]\nfirst_start = "clean"'))
    run.home.mkdir(parents=True)
    shutil.copytree(CORPUS, run.pictures, ignore=shutil.ignore_patterns("exiftool", "*.tsv", "*.md"))
    with run:
        wait_until(lambda: len(run.outcomes()) >= len(manifest()), timeout=600, step=0.5)
        time.sleep(1)
    stored = b"".join(p.read_bytes() for p in run.state.rglob("*") if p.is_file())
    stored += (run.root / "stderr.txt").read_bytes()
    leaked = sorted(s for s in secrets if s.encode() in stored)
    assert leaked == []
    assert b"gps" in stored and b"serial" in stored  # categories are recorded
