"""Where things live: config, state and log folders (platformdirs), watched folders per OS."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP = "safeshare"
OUTPUT_NAME = "Safe to share"


def config_dir() -> Path:
    return platformdirs.user_config_path(APP, appauthor=False)


def state_dir() -> Path:
    return platformdirs.user_state_path(APP, appauthor=False)


def log_dir() -> Path:
    return platformdirs.user_log_path(APP, appauthor=False)


def pictures_dir() -> Path:
    return platformdirs.user_pictures_path()


def default_output() -> Path:
    return pictures_dir() / OUTPUT_NAME


def default_watch_folders() -> list[Path]:
    """Where new screenshots and photos land on this OS (they may not exist yet)."""
    pictures = pictures_dir()
    if sys.platform == "darwin":
        return [_macos_screenshot_folder(), pictures]
    if sys.platform == "win32":
        return [_windows_screenshots(pictures), pictures / "Camera Roll"]
    return [pictures / "Screenshots", pictures]


def _macos_screenshot_folder() -> Path:
    """The `com.apple.screencapture location` default, else the Desktop."""
    import subprocess

    try:
        out = subprocess.run(
            ["defaults", "read", "com.apple.screencapture", "location"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        out = None
    if out is not None and out.returncode == 0 and out.stdout.strip():
        return Path(out.stdout.strip()).expanduser()
    return Path.home() / "Desktop"


def _windows_screenshots(pictures: Path) -> Path:
    """The Screenshots known folder (FOLDERID_Screenshots), else Pictures\\Screenshots."""
    try:
        import ctypes
        import uuid
        from ctypes import wintypes

        folder_id = uuid.UUID("{b7bede81-df94-4682-a7d8-57a52620b86f}")
        guid = (ctypes.c_byte * 16).from_buffer_copy(folder_id.bytes_le)
        out = ctypes.c_wchar_p()
        shell32 = ctypes.windll.shell32  # type: ignore[attr-defined]
        if shell32.SHGetKnownFolderPath(ctypes.byref(guid), 0, wintypes.HANDLE(0), ctypes.byref(out)) == 0:
            path = Path(out.value or "")
            ctypes.windll.ole32.CoTaskMemFree(out)  # type: ignore[attr-defined]
            if str(path) not in ("", "."):
                return path
    except (AttributeError, OSError, ImportError):
        pass  # not on Windows (ctypes.windll is missing), or the shell call failed
    return pictures / "Screenshots"


def expand(path: str) -> Path:
    return Path(os.path.expandvars(path)).expanduser()
