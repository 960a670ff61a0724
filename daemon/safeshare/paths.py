"""Where things live: config, state and log folders (platformdirs), watched folders per OS,
and how private things are created there.

platformdirs is imported by the functions that use it (it costs ~6 ms, most of it the
`tempfile` it imports): `clean -o FOLDER` needs none of them, only the configuration file's
place, which on Linux and the BSDs is the XDG rule itself (`config_dir`).

The state folder holds what safeshare knows about the user's pictures (the ledger names
every file it handled, the log names files too), so it is private at rest whatever the
umask: folders 0700 (`private_dir`), files 0600 (`private_open`, `tighten`). On Windows
the folders inherit the profile's ACL, which is already private, and these change nothing.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from pathlib import Path

APP = "safeshare"
OUTPUT_NAME = "Safe to share"


def config_dir() -> Path:
    """`$XDG_CONFIG_HOME/safeshare` (an absolute XDG_CONFIG_HOME, else ~/.config), as
    platformdirs has it on Linux and the BSDs, worked out here: every command looks for the
    configuration file, and most need nothing else from platformdirs. Elsewhere its answer."""
    if sys.platform not in ("darwin", "win32"):
        base = Path(os.environ.get("XDG_CONFIG_HOME", ""))
        return (base if base.is_absolute() else Path.home() / ".config") / APP
    import platformdirs

    return platformdirs.user_config_path(APP, appauthor=False)


def state_dir() -> Path:
    import platformdirs

    return platformdirs.user_state_path(APP, appauthor=False)


def log_dir() -> Path:
    import platformdirs

    return platformdirs.user_log_path(APP, appauthor=False)


def pictures_dir() -> Path:
    import platformdirs

    return platformdirs.user_pictures_path()


def default_output() -> Path:
    return pictures_dir() / OUTPUT_NAME


def default_watches(platform: str | None = None) -> list[tuple[Path, bool]]:
    """Where new screenshots and photos land on this OS (they may not exist yet), each with
    whether its subfolders are watched: the Pictures folder is, so that an import into
    Pictures/2026/12/01 (Shotwell, digiKam, a phone's Camera Roll) is cleaned. A default folder
    inside another that is watched with its subfolders is not listed twice."""
    pictures, platform = pictures_dir(), platform or sys.platform
    if platform == "darwin":
        screenshots = _macos_screenshot_folder()
    elif platform == "win32":
        screenshots = _windows_screenshots(pictures)
    else:
        screenshots = pictures / "Screenshots"
    inside = screenshots == pictures or screenshots.is_relative_to(pictures)
    return ([] if inside else [(screenshots, False)]) + [(pictures, True)]


def default_watch_folders() -> list[Path]:
    return [path for path, _ in default_watches()]


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


# -- private folders and files ------------------------------------------------------------------
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
_POSIX = os.name == "posix"


def _ours(st: os.stat_result) -> bool:
    return st.st_uid == os.getuid()


def private_dir(path: Path) -> Path:
    """`path` as a folder only we can enter: created 0700 whatever the umask, with any missing
    parents also created 0700 (as the XDG spec asks); an existing folder that we own and that
    is open to others is tightened to 0700. Existing parents are left as they are. Returns
    `path`; raises OSError (FileExistsError when `path` is not a folder)."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(PRIVATE_DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # created meanwhile by someone else: tightened below if it is `path`
        if _POSIX:
            folder.chmod(PRIVATE_DIR_MODE)  # the umask may have taken owner bits away too
    if _POSIX:
        st = path.stat()
        if _ours(st) and stat.S_IMODE(st.st_mode) & 0o077:
            path.chmod(stat.S_IMODE(st.st_mode) & ~0o077)
    return path


def private_open(path: Path, flags: int = os.O_WRONLY | os.O_CREAT | os.O_APPEND) -> int:
    """`os.open(path, flags)` for a file only we can read: created 0600 whatever the umask,
    and an existing file that we own and that others can read is tightened to 0600 (group and
    other bits removed). Returns the file descriptor (not inherited by child processes);
    wrap it with `open(fd, mode, ...)`. Raises OSError."""
    fd = os.open(path, flags, PRIVATE_FILE_MODE)
    if _POSIX:
        try:
            st = os.fstat(fd)
            if _ours(st) and stat.S_IMODE(st.st_mode) & 0o077:
                os.fchmod(fd, stat.S_IMODE(st.st_mode) & ~0o077)
        except OSError:
            os.close(fd)
            raise
    return fd


def tighten(path: Path) -> None:
    """An existing file (0600) or folder (0700) that we own is made private; a missing one or one
    we cannot change is left as it is (this never fails). Symlinks are not followed."""
    if not _POSIX:
        return
    with contextlib.suppress(OSError):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode) or not _ours(st) or not stat.S_IMODE(st.st_mode) & 0o077:
            return
        path.chmod(stat.S_IMODE(st.st_mode) & ~0o077)
