"""Configuration: the example documents every key with its default; errors name file and key."""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

import pytest

from safeshare import config as config_mod
from safeshare.config import CleanConfig, DaemonConfig, NotifyConfig, VisionConfig, WatchConfig
from safeshare.errors import ConfigError
from tests.helpers import ROOT

EXAMPLE = ROOT / "config.example.toml"


def test_example_documents_every_key_with_its_default() -> None:
    table = tomllib.loads(EXAMPLE.read_text())
    assert set(table) == {"output", "clean", "daemon", "notify", "vision", "watch"}
    sections = (
        ("clean", CleanConfig),
        ("daemon", DaemonConfig),
        ("notify", NotifyConfig),
        ("vision", VisionConfig),
    )
    for name, cls in sections:
        defaults = cls()
        assert set(table[name]) == {f.name for f in dataclasses.fields(cls)}
        for key, value in table[name].items():
            expected = getattr(defaults, key)
            assert (list(expected) if isinstance(expected, tuple) else expected) == value, f"{name}.{key}"
    for watch in table["watch"]:
        assert set(watch) == {f.name for f in dataclasses.fields(WatchConfig)}
    loaded = config_mod.load(EXAMPLE)
    assert loaded.output == Path("~/Pictures/Safe to share").expanduser()
    assert [(w.path, w.recursive) for w in loaded.watch] == [(Path("~/Pictures").expanduser(), True)]


def test_the_example_offers_downloads(tmp_path: Path) -> None:
    """Its commented [[watch]] for ~/Downloads, once the # signs are removed, is valid."""
    text = EXAMPLE.read_text()
    start = text.index("# [[watch]]")
    offered = "\n".join(line.removeprefix("# ") for line in text[start:].splitlines())
    (tmp_path / "c.toml").write_text(text[:start] + offered + "\n")
    watches = config_mod.load(tmp_path / "c.toml").watch
    assert [(w.path, w.recursive, w.label) for w in watches][1] == (
        Path("~/Downloads").expanduser(),
        False,
        "Downloads",
    )


@pytest.mark.parametrize(
    "text,message",
    [
        ("outptu = '/x'", "unknown key 'outptu'"),
        ("[clean]\njpeg_quality = 101", "'clean.jpeg_quality' must be between 50 and 100, not 101"),
        ("[clean]\nconvert_to = 'gif'", "'clean.convert_to' must be 'jpeg' or 'png', not 'gif'"),
        ("[daemon]\nsettle_seconds = 'slow'", "'daemon.settle_seconds' must be a number"),
        ("[[watch]]\nrecursive = true", "missing key 'watch[0].path'"),
        ("[[watch]]\npath = '/x'\nlabel = '../up'", "'watch[0].label' must be a plain folder name"),
        ("watch = 3", "'watch' must be a list"),
        ("output = 5", "'output' must be a folder path"),
        ("[vision]\nredact = ['blur']", "'vision.redact' may hold 'faces-except-yours', 'faces-except-"),
        ("[vision]\nredact = 'faces'", "'vision.redact' must be a list of strings"),
        ("[clean\n", "invalid TOML"),
    ],
)
def test_invalid_config_names_file_key_and_expectation(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        config_mod.load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)


def test_missing_explicit_config_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SAFESHARE_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match="not found"):
        config_mod.load()


def test_defaults_without_a_config_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".config"))
    config = config_mod.load()
    assert config.source is None
    pictures = config.output.parent
    assert config.output.name == "Safe to share"
    # Pictures and every folder in it (an import into Pictures/2026/12/01 is cleaned); its
    # Screenshots folder is inside, so it is not listed twice.
    assert [(w.path, w.recursive) for w in config.watch] == [(pictures, True)]


def test_default_folders_on_macos(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """macOS: the screenshot location from `defaults`, else the Desktop (mocked at the OS edge)."""
    from safeshare import paths

    monkeypatch.setattr(paths.sys, "platform", "darwin")
    monkeypatch.setenv("HOME", str(tmp_path))
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    defaults = fake_bin / "defaults"
    defaults.write_text("#!/bin/sh\n[ \"$*\" = 'read com.apple.screencapture location' ] && echo ~/Shots\n")
    defaults.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}:/usr/bin:/bin")
    pictures = paths.pictures_dir()
    assert paths.default_watches() == [(tmp_path / "Shots", False), (pictures, True)]
    defaults.write_text("#!/bin/sh\nexit 1\n")
    assert paths.default_watch_folders() == [tmp_path / "Desktop", pictures]
    defaults.write_text("#!/bin/sh\necho ~/Pictures/Shots\n")  # inside Pictures: watched with it
    assert paths.default_watches() == [(pictures, True)]


def test_default_folders_on_windows_fall_back_without_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    from safeshare import paths

    monkeypatch.setattr(paths.sys, "platform", "win32")
    # Screenshots falls back to Pictures\\Screenshots: inside Pictures, which is watched with
    # its folders (Camera Roll, Saved Pictures, Screenshots) and listed once.
    assert paths.default_watches() == [(paths.pictures_dir(), True)]
