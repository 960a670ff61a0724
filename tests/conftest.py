"""Shared fixtures. Tests read the corpus (tests/corpus) in place and write only to temp folders."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import ROOT, require_corpus

# numpy's OpenBLAS starts a thread per core when it is imported (some tests use numpy in this
# process); a process with a second thread spawns its decoders instead of forking them, and
# the tests of the forked decoder would be skipped. `clean` itself never imports numpy.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """No test reads or writes the real user's config, state or pictures."""
    home = tmp_path_factory.mktemp("home")
    for var, sub in (
        ("HOME", ""),
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_DATA_HOME", ".local/share"),
        ("XDG_CACHE_HOME", ".cache"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    monkeypatch.delenv("SAFESHARE_CONFIG", raising=False)
    yield


def fingerprint(path: Path) -> tuple[str, int]:
    return hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns


def run_cli(
    *args: str,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    vision: bool = False,
) -> subprocess.CompletedProcess[str]:
    """The real command, as a user runs it (`python -m safeshare`). Picture analysis is off
    unless a test asks for it: it is optional, slow, and tested on its own."""
    full_env = {**os.environ, **(env or {})}
    if not vision and args and args[0] in ("clean", "inspect"):
        args = (args[0], "--no-vision", *args[1:])
    return subprocess.run(
        [sys.executable, "-m", "safeshare", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=full_env,
        check=False,
        timeout=600,
    )


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture(scope="session")
def corpus_clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The whole corpus cleaned once with `safeshare clean --json`."""
    corpus = require_corpus()
    out = tmp_path_factory.mktemp("corpus-out")
    images = [
        p
        for p in corpus.rglob("*")
        if p.is_file() and "exiftool" not in p.parts and p.suffix not in (".tsv", ".md")
    ]
    before = {str(p): fingerprint(p) for p in images}
    proc = run_cli("clean", str(corpus), "--output", str(out), "--json", cwd=ROOT)
    results = {r["input"]: r for r in json_lines(proc.stdout)}
    after = {str(p): fingerprint(p) for p in images}
    return {"out": out, "results": results, "proc": proc, "before": before, "after": after}
