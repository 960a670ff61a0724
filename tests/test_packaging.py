"""A fresh clone runs the suite with nothing beside it, and the wheel is a proper package.

The clone test is what a new user does: `git clone` into an empty folder outside this
workspace, HOME pointed at an empty folder, then pytest's collection there. It takes the
committed tree (what a clone gets), so it proves the repository, not this work tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from tests.helpers import ROOT, manifest

GIT = shutil.which("git")


def _clone(tmp_path: Path) -> Path:
    if GIT is None:
        pytest.skip("git is not installed; the fresh-clone test needs it")
    if not (ROOT / ".git").exists():
        pytest.skip(f"{ROOT} is not a git checkout (an unpacked sdist?); nothing to clone")
    clone = tmp_path / "fresh" / "safeshare"
    clone.parent.mkdir()
    subprocess.run([GIT, "clone", "-q", str(ROOT), str(clone)], check=True, timeout=300)
    assert not (clone.parent / "shared").exists()  # nothing beside the clone
    return clone


def _in_clone(clone: Path, home: Path, *pytest_args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("XDG_", "SAFESHARE_", "PYTEST_")) and key != "PYTHONPATH"
    }
    # The clone's own code first, so nothing is imported from this work tree.
    env.update(HOME=str(home), PYTHONPATH=f"{clone / 'daemon'}{os.pathsep}{clone}")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_fresh_clone_collects_the_whole_suite_with_its_corpus(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    home = tmp_path / "empty-home"
    home.mkdir()
    proc = _in_clone(clone, home, "--collect-only", "-q")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    collected = proc.stdout.splitlines()
    corpus_tests = [line for line in collected if line.startswith("tests/test_corpus.py::test_corpus_file[")]
    assert len(corpus_tests) == len(manifest()) == 161
    assert any("test_packaging.py" in line for line in collected)
    assert list(home.iterdir()) == []  # collecting wrote nothing into the user's home


def test_a_clone_without_its_corpus_fails_instead_of_skipping(tmp_path: Path) -> None:
    clone = _clone(tmp_path)
    shutil.rmtree(clone / "tests" / "corpus")
    home = tmp_path / "empty-home"
    home.mkdir()
    collect = _in_clone(clone, home, "--collect-only", "-q", "tests/test_corpus.py")
    assert collect.returncode == 0, collect.stdout[-2000:]  # collection still works
    proc = _in_clone(clone, home, "-q", "tests/test_corpus.py::test_corpus_is_in_the_repository")
    assert proc.returncode == 1, proc.stdout[-2000:]
    assert "the test corpus is missing" in proc.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # --no-isolation: the build tools come with the test extra, so no index is needed.
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    return next(out.glob("safeshare-*.whl"))


SERVICE_FILES = [
    p
    for p in (ROOT / "service").rglob("*")
    if p.is_file() and p.suffix != ".pyc" and "__pycache__" not in p.parts
]


def test_the_wheel_holds_its_licences_and_no_build_scripts(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
        licence = next(n for n in names if n.endswith(".dist-info/licenses/LICENSE"))
        assert "MIT License" in archive.read(licence).decode()
        geonames = archive.read("safeshare/data/LICENSE-geonames.txt").decode()
        centerface = archive.read("safeshare/data/LICENSE-centerface.txt").decode()
    assert "CC BY 4.0" in geonames and "creativecommons.org/licenses/by/4.0" in geonames
    assert "MIT" in centerface and "Permission is hereby granted" in centerface
    assert not [n for n in names if n.endswith("build_places.py")]
    assert not [n for n in names if n.startswith(("tests/", "bench/", "tools/"))]
    assert {"safeshare/data/places.tsv.gz", "safeshare/data/centerface.onnx"} <= set(names)
    # every service and file-manager template ships, with the icon notifications and entries use
    shipped = {f"safeshare/templates/{p.relative_to(ROOT / 'service').as_posix()}" for p in SERVICE_FILES}
    assert shipped <= set(names), shipped - set(names)
    assert "safeshare/templates/icons/safeshare.svg" in names
    assert metadata["License-Expression"] == "MIT"
    assert metadata.get_all("Project-URL"), "project URLs"
    classifiers = metadata.get_all("Classifier") or []
    assert any(c.startswith("Operating System ::") for c in classifiers)
    assert any(re.fullmatch(r"Programming Language :: Python :: 3\.1\d", c) for c in classifiers)
