"""Redaction fails closed: with `[vision] redact` set and the vision extra missing (or
broken, or turned off), nothing is published unredacted, and the user is told why.

The "missing" case runs in a real second venv that has safeshare and its core dependencies
but not the extra (its site-packages links to this venv's, minus the vision packages).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests import synth
from tests.daemon_harness import wait_until
from tests.dbus_session import notification_server
from tests.helpers import bare_venv

SITE = Path(sysconfig.get_paths()["purelib"])
CORE = ("PIL", "pillow", "_pillow_heif", "piexif", "watchdog", "platformdirs", "plyer", "jeepney")
SAFESHARE = ("__editable__", "safeshare")


def _kept(entry: str) -> bool:
    lowered = entry.lower()
    return entry.startswith(SAFESHARE) or any(lowered.startswith(name.lower()) for name in CORE)


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with safeshare and its core dependencies only; its python."""
    python, site = bare_venv(tmp_path_factory.mktemp("bare") / "venv")
    for entry in SITE.iterdir():
        if _kept(entry.name):
            (site / entry.name).symlink_to(entry)
    return python


def _env(home: Path, **more: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".state"),
        "SAFESHARE_CONFIG": str(home / "safeshare.toml"),
        **more,
    }
    env.pop("PYTHONPATH", None)
    return env


def _run(python: Path, home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "safeshare", *args],
        capture_output=True,
        text=True,
        env=_env(home, **env),
        timeout=120,
    )


def _home(tmp_path: Path, vision: str) -> Path:
    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (home / "safeshare.toml").write_text(
        f'output = "{tmp_path / "safe"}"\n[[watch]]\npath = "{home / "Pictures"}"\n{vision}\n'
    )
    (home / "Pictures" / "face.jpg").write_bytes(synth.jpeg())
    return home


def test_the_bare_venv_really_lacks_the_extra(bare: Path) -> None:
    probe = "import safeshare.vision as v, importlib.util as u; print(v.installed(), u.find_spec('numpy'))"
    got = subprocess.run([str(bare), "-c", probe], capture_output=True, text=True, check=True)
    assert got.stdout.split() == ["False", "None"]


def test_clean_without_the_extra_publishes_nothing_and_says_how_to_install(
    bare: Path, tmp_path: Path
) -> None:
    home = _home(tmp_path, '[vision]\nredact = ["faces"]')
    proc = _run(bare, home, "clean", "--output", str(tmp_path / "safe"), str(home / "Pictures" / "face.jpg"))
    assert proc.returncode == 2, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert (
        "nothing cleaned" in line and "redact = faces" in line and "pip install 'safeshare[vision]'" in line
    )
    assert "safeshare.toml" in line  # names the file that asks for it
    assert proc.stdout == ""
    assert not (tmp_path / "safe").exists() or list((tmp_path / "safe").iterdir()) == []


def test_clean_without_redaction_works_without_the_extra(bare: Path, tmp_path: Path) -> None:
    home = _home(tmp_path, "")
    proc = _run(bare, home, "clean", "--output", str(tmp_path / "safe"), str(home / "Pictures" / "face.jpg"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "safe" / "face.jpg").exists()


def test_config_shows_vision_unavailable(bare: Path, tmp_path: Path) -> None:
    home = _home(tmp_path, '[vision]\nredact = ["faces", "text"]')
    proc = _run(bare, home, "config")
    assert proc.returncode == 0, proc.stderr
    vision = proc.stdout.split("[vision]", 1)[1].split("[[watch]]", 1)[0]
    assert "enabled = true" not in vision
    assert "enabled = false  # unavailable: the vision extra is not installed" in vision
    assert "redact cannot be done (the vision extra is not installed)" in vision


def test_the_daemon_refuses_to_start_and_says_why(bare: Path, tmp_path: Path) -> None:
    home = _home(tmp_path, '[vision]\nredact = ["faces"]\n[notify]\nburst_seconds = 0.2')
    with notification_server(tmp_path) as (address, recorder):
        proc = _run(bare, home, "run", DBUS_SESSION_BUS_ADDRESS=address)
        notes = wait_until(recorder.received, timeout=10)
    assert proc.returncode == 2, proc.stderr  # a configuration problem: the service does not loop
    assert "pip install 'safeshare[vision]'" in proc.stderr
    (note,) = notes
    assert note["summary"] == "safeshare is not running"
    assert "vision extra is not installed" in note["body"] and "pip install" in note["body"]
    assert not (tmp_path / "safe").exists() or list((tmp_path / "safe").iterdir()) == []


def test_a_broken_extra_is_refused_too(bare: Path, tmp_path: Path) -> None:
    """Installed but not loading (a library missing): the import is tried before anything."""
    broken = tmp_path / "broken"
    (broken / "onnxruntime").mkdir(parents=True)
    (broken / "onnxruntime" / "__init__.py").write_text(
        'raise ImportError("libonnxruntime.so.1: cannot open shared object file")\n'
    )
    for name in ("rapidocr", "zxingcpp", "numpy"):
        (broken / name).symlink_to(SITE / name)
    home = _home(tmp_path, '[vision]\nredact = ["faces"]')
    proc = subprocess.run(
        [str(bare), "-m", "safeshare", "clean", "--output", str(tmp_path / "safe"), str(home / "Pictures")],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "PYTHONPATH": str(broken),
            "HOME": str(home),
            "SAFESHARE_CONFIG": str(home / "safeshare.toml"),
        },
    )
    assert proc.returncode == 2, proc.stderr
    assert "does not load" in proc.stderr and "libonnxruntime" in proc.stderr
    assert not (tmp_path / "safe").exists() or list((tmp_path / "safe").iterdir()) == []


def test_no_vision_flag_cannot_skip_redaction(tmp_path: Path) -> None:
    home = _home(tmp_path, '[vision]\nredact = ["faces"]')
    proc = _run(
        Path(sys.executable),
        home,
        "clean",
        "--no-vision",
        "--output",
        str(tmp_path / "safe"),
        str(home / "Pictures"),
    )
    assert proc.returncode == 2 and "cannot be turned off for one run" in proc.stderr
    assert not (tmp_path / "safe").exists() or list((tmp_path / "safe").iterdir()) == []


def test_redaction_with_vision_turned_off_is_a_configuration_error(tmp_path: Path) -> None:
    home = _home(tmp_path, '[vision]\nenabled = false\nredact = ["faces"]')
    proc = _run(
        Path(sys.executable), home, "clean", "--output", str(tmp_path / "safe"), str(home / "Pictures")
    )
    assert proc.returncode == 2 and "vision.redact needs vision.enabled = true" in proc.stderr


# -- a daemon that cannot start says so, once per reason ------------------------------------------
def _start(home: Path, address: str) -> subprocess.CompletedProcess[str]:
    return _run(Path(sys.executable), home, "run", DBUS_SESSION_BUS_ADDRESS=address)


def test_an_invalid_configuration_is_said_once_not_at_every_restart(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "safeshare.toml").write_text("output = 3\n")
    with notification_server(tmp_path) as (address, recorder):
        for _ in range(3):  # as launchd or the Windows task would restart it
            assert _start(home, address).returncode == 2
        (home / "safeshare.toml").write_text("[clean]\njpeg_quality = 7\n")  # another reason
        assert _start(home, address).returncode == 2
        notes = wait_until(lambda: recorder.received()[1:] and recorder.received(), timeout=10)
    assert [n["summary"] for n in notes] == ["safeshare is not running"] * 2
    assert "output" in notes[0]["body"] and "jpeg_quality" in notes[1]["body"]


def test_the_same_reason_is_said_again_after_six_hours(tmp_path: Path) -> None:
    from safeshare.cli import REPEAT_NOTICE, not_running_is_news

    assert not_running_is_news(tmp_path, "no ledger", now=1000.0)
    assert not not_running_is_news(tmp_path, "no ledger", now=1000.0 + REPEAT_NOTICE - 1)
    assert not_running_is_news(tmp_path, "no ledger", now=1000.0 + REPEAT_NOTICE + 1)


def test_config_shows_a_broken_extra_as_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken" / "onnxruntime"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text(
        'raise ImportError("libonnxruntime.so.1: cannot open shared object")\n'
    )
    home = _home(tmp_path, '[vision]\nredact = ["faces"]')
    env = {**os.environ, "PYTHONPATH": str(broken.parent), "SAFESHARE_CONFIG": str(home / "safeshare.toml")}
    proc = subprocess.run(
        [sys.executable, "-m", "safeshare", "config"], capture_output=True, text=True, env=env, timeout=120
    )
    vision = proc.stdout.split("[vision]", 1)[1].split("[[watch]]", 1)[0]
    assert "enabled = true" not in vision
    assert (
        "enabled = false  # unavailable: the vision extra does not load (ImportError: libonnxruntime"
        in vision
    )


def test_config_prints_what_it_holds_escaped_and_reads_back_the_same(tmp_path: Path) -> None:
    import tomllib

    odd = str(tmp_path / "o\x1b[31mRED\x07\nline\u202e")
    (tmp_path / "c.toml").write_text(f"output = {json.dumps(odd)}\n[vision]\nenabled = false\n")
    env = {**os.environ, "SAFESHARE_CONFIG": str(tmp_path / "c.toml")}
    proc = subprocess.run(
        [sys.executable, "-m", "safeshare", "config"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert not any(ch in proc.stdout for ch in "\x1b\x07\u202e")
    assert tomllib.loads(proc.stdout)["output"] == odd


def test_an_unusable_state_folder_is_said_not_a_traceback(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "Pictures").mkdir(parents=True)
    (home / "safeshare.toml").write_text(
        f'[[watch]]\npath = "{home / "Pictures"}"\n[vision]\nenabled = false\n'
    )
    (home / ".state").write_text("not a folder")  # XDG_STATE_HOME is a file
    with notification_server(tmp_path) as (address, recorder):
        proc = _start(home, address)
        (note,) = wait_until(recorder.received, timeout=10)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "state or log folder cannot be used" in proc.stderr
    assert note["summary"] == "safeshare is not running"
