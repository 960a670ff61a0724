"""Start-up stays light: cleaning one JPEG imports neither pillow-heif, the decoder worker's
machinery, nor the XML parser; a HEIC loads pillow-heif in the worker only. Nor does it
import what only other commands, other formats or a configuration file need (issue 17:
`clean` of one JPEG costs under 80 ms of imports; `python -m bench.stages_bench` measures it)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import synth

PROBE = """
import sys
from safeshare.cli import main
code = main(sys.argv[1:])
print("MODULES:" + ",".join(sorted(sys.modules)))
sys.exit(code)
"""
HEAVY = (
    "pillow_heif",
    "multiprocessing",
    "xml.etree",
    "tomllib",
    "logging.handlers",
    "hashlib",
    "piexif",
    "onnxruntime",
    "rapidocr",
    "zxingcpp",
    "numpy",
)
# Needed by other commands, by a configuration file, by the platform's default folders
# (platformdirs), by a JPEG with XMP, or only when something is seen (payload).
UNUSED_BY_CLEAN = (
    "platformdirs",
    "safeshare.metadata.xmp",
    "json",
    "safeshare.inspector",
    "safeshare.cli_desktop",
    "safeshare.notify",
    "safeshare.status",
    "safeshare.vision.payload",
    # Pillow's other plugins: the file is read by the plugin of the format it was found to be
    "PIL.PngImagePlugin",
    "PIL.GifImagePlugin",
    "PIL.BmpImagePlugin",
    "PIL.PpmImagePlugin",
)
JPEG_MODULES = {
    "safeshare.formats",
    "safeshare.formats.base",
    "safeshare.formats.jpeg",
    "safeshare.formats.jpeg_app",
}


def _all_loaded(tmp_path: Path, name: str, data: bytes, *flags: str) -> list[str]:
    (tmp_path / name).write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, "clean", *flags, str(tmp_path / name), "--output", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(line for line in proc.stdout.splitlines() if line.startswith("MODULES:"))
    return [m for m in line.removeprefix("MODULES:").split(",") if m]


def _loaded(tmp_path: Path, name: str, data: bytes, *flags: str) -> list[str]:
    return [m for m in _all_loaded(tmp_path, name, data, *flags) if m.startswith(HEAVY)]


def test_cleaning_one_plain_jpeg_imports_nothing_heavy(tmp_path: Path) -> None:
    plain = synth.jpeg(extras=False)  # EXIF, no XMP, orientation 1
    assert _loaded(tmp_path, "a.jpg", plain, "--no-vision") == []


@pytest.mark.parametrize("flags", [("--no-vision",), ()], ids=["no-vision", "vision"])
def test_cleaning_a_jpeg_imports_no_other_format_nor_other_commands(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    loaded = _all_loaded(tmp_path, "a.jpg", synth.jpeg(extras=False), *flags)
    # tempfile (~4 ms) came with platformdirs; the vision worker's pipe needs it (multiprocessing),
    # and only vision needs its step
    unused = UNUSED_BY_CLEAN + (("tempfile", "safeshare.vision.step") if flags else ())
    assert [m for m in loaded if m.startswith(unused)] == []
    assert {m for m in loaded if m.startswith("safeshare.formats")} == JPEG_MODULES


def test_vision_models_load_only_in_their_worker(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "a.jpg", synth.jpeg(extras=False))
    assert not {"onnxruntime", "rapidocr", "zxingcpp", "numpy"} & set(loaded)


def test_heif_decoding_happens_in_the_worker_not_here(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "a.heic", synth.heic(with_video=False), "--no-vision")
    assert "pillow_heif" not in loaded and "multiprocessing" in loaded


def test_each_registry_line_names_its_format() -> None:
    """A format is one module plus one line in the registry, which says its name, extensions
    and magic without importing it: the line and the class must agree."""
    from safeshare.formats import FORMATS, by_name

    for line in FORMATS:
        fmt = line.load()
        assert fmt.name == line.name and by_name(line.name) is fmt
        assert fmt.canonical_suffix in line.extensions


@pytest.mark.parametrize("xdg", ["/elsewhere/conf", "relative/conf", ""])
def test_the_configuration_folder_is_where_platformdirs_puts_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, xdg: str
) -> None:
    """Found without platformdirs on Linux and the BSDs (every command looks for the file)."""
    import platformdirs

    from safeshare import paths

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", xdg)
    assert paths.config_dir() == platformdirs.user_config_path("safeshare", appauthor=False)


def test_default_folders_are_looked_up_when_asked_for(tmp_path: Path) -> None:
    """No configuration file: `clean -o` asks for neither default, so platformdirs (and, on
    macOS, `defaults`) is not needed; the daemon's first use looks them up."""
    probe = (
        "import sys; from safeshare import config; c = config.load(); "
        "before = 'platformdirs' in sys.modules; c.output, c.watch; "
        "print(before, 'platformdirs' in sys.modules, c.output.name)"
    )
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / ".config")}
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, env=env)
    assert out.stdout.split() == ["False", "True", "Safe", "to", "share"]


def test_a_batch_imports_its_formats_before_forking_its_workers() -> None:
    """The modules of the formats the files' names point to are imported once, in the
    parent, before it forks: not again in every worker; other formats' modules are not."""
    probe = (
        "import sys; from safeshare.staging import _preload; _preload({'.png', '.txt'}); "
        "print(sorted(m for m in sys.modules if m.startswith(('safeshare.formats.', 'PIL.')) "
        "and m.endswith(('png', 'jpeg', 'PngImagePlugin', 'JpegImagePlugin'))))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['PIL.PngImagePlugin', 'safeshare.formats.png']"
