"""The code stays ruff- and mypy --strict-clean (run as tests so CI enforces them)."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _tool(name: str) -> list[str]:
    if shutil.which(name, path=str(ROOT / ".venv" / "bin")) or shutil.which(name):
        return [sys.executable, "-m", name]
    pytest.skip(f"{name} is not installed (pip install -e '.[test]')")


def test_ruff_lint() -> None:
    proc = subprocess.run(
        [*_tool("ruff"), "check", "daemon", "tests", "bench", "tools"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format() -> None:
    proc = subprocess.run(
        [*_tool("ruff"), "format", "--check", "daemon", "tests", "bench", "tools"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy_strict() -> None:
    proc = subprocess.run([*_tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
