"""What a notification's buttons do with the clean copies it is about: show them in the file
manager, open one, put one on the clipboard as image data.

One backend per OS, chosen by `desktop_for_this_os`. Only the freedesktop notification
service sends button replies to a running program, so only Linux (and the BSDs) has one that
acts: "Show in folder" asks the file manager over D-Bus (`org.freedesktop.FileManager1`,
which selects the files; `xdg-open` on their folder where no file manager answers), "Open"
runs `xdg-open`, "Copy image" gives PNG data to `wl-copy` (Wayland) or `xclip` (X11). A
button is offered only when what it needs is there (`offered`), so none does nothing. A
Windows toast opens folders and files by itself (see notify_windows); macOS notifications
from a background program carry no buttons.

"Copy image" decodes the copy in the decoder worker (isolation): a copy's compressed data is
the original's, which came from anywhere.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safeshare.errors import SafeshareError

LABELS = {"default": "Show in folder", "show": "Show in folder", "open": "Open", "copy": "Copy image"}
FILE_MANAGER = "org.freedesktop.FileManager1"
TIMEOUT = 10  # seconds a file manager or a clipboard tool may take to take the request
SHOWN_MAX = 200  # "Show in folder" for a burst selects at most this many copies


class DesktopError(SafeshareError):
    """An action could not be done (the reason says why)."""


class Desktop(ABC):
    @abstractmethod
    def offered(self, copies: tuple[Path, ...]) -> list[str]:
        """The action keys that can work here for these copies, in the order shown."""

    @abstractmethod
    def perform(self, key: str, copies: tuple[Path, ...]) -> None:
        """Do the action, or raise DesktopError."""


class NoDesktop(Desktop):
    """Where notifications cannot carry buttons that reach safeshare."""

    def offered(self, copies: tuple[Path, ...]) -> list[str]:
        return []

    def perform(self, key: str, copies: tuple[Path, ...]) -> None:
        raise DesktopError("this system's notifications carry no buttons")


class FreedesktopDesktop(Desktop):
    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env = dict(os.environ if env is None else env)

    def _tool(self, name: str) -> str | None:
        return shutil.which(name, path=self.env.get("PATH"))

    def clipboard(self) -> list[str] | None:
        """The command that takes PNG data on stdin, for the display this session has."""
        if self.env.get("WAYLAND_DISPLAY") and self._tool("wl-copy"):
            return ["wl-copy", "--type", "image/png"]
        if self.env.get("DISPLAY") and self._tool("xclip"):
            return ["xclip", "-selection", "clipboard", "-t", "image/png", "-i"]
        return None

    def offered(self, copies: tuple[Path, ...]) -> list[str]:
        if not copies:
            return []
        keys = ["default", "show"] if self._tool("xdg-open") or _file_manager_on_bus() else []
        if len(copies) == 1:
            keys += ["open"] if self._tool("xdg-open") else []
            keys += ["copy"] if self.clipboard() else []
        return keys

    def perform(self, key: str, copies: tuple[Path, ...]) -> None:
        present = tuple(p for p in copies if p.is_file())
        if not present:
            raise DesktopError(f"the clean copy {copies[0]} is no longer there" if copies else "no copy")
        if key in ("default", "show"):
            self.reveal(present[:SHOWN_MAX])
        elif key == "open":
            self._spawn(["xdg-open", str(present[0])], "xdg-open")
        elif key == "copy":
            self.copy_image(present[0])
        else:
            raise DesktopError(f"unknown action {key!r}")

    def reveal(self, copies: tuple[Path, ...]) -> None:
        """Selected in the file manager; else their folder opened."""
        try:
            _show_items([p.absolute().as_uri() for p in copies])
        except DesktopError:
            if not self._tool("xdg-open"):
                raise
            self._spawn(["xdg-open", str(copies[0].parent)], "xdg-open")

    def copy_image(self, copy: Path) -> None:
        from safeshare import isolation

        command = self.clipboard()
        if command is None:
            raise DesktopError("no clipboard tool for this display (wl-copy or xclip)")
        data = isolation.pool().call(png_of, str(copy))
        try:  # the tool stays behind to serve the clipboard: its output is not waited for
            proc = subprocess.run(
                command,
                input=data,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env,
                timeout=TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DesktopError(f"{command[0]} did not take the image ({type(exc).__name__})") from exc
        if proc.returncode != 0:
            raise DesktopError(f"{command[0]} did not take the image (exit {proc.returncode})")

    def _spawn(self, command: list[str], what: str) -> None:
        """Started; a failure within a few seconds is an error, a program still open is not."""
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=self.env,
                start_new_session=True,
            )
        except OSError as exc:
            raise DesktopError(f"{what} could not be started: {exc.strerror}") from exc
        try:
            code = proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:  # still open: reaped whenever it ends (no zombie)
            threading.Thread(target=proc.wait, name="opened", daemon=True).start()
            return
        if code != 0:
            raise DesktopError(f"{what} failed (exit {code})")


def png_of(path: str) -> bytes:
    """The picture of a clean copy as PNG, upright, with its colour profile and nothing else
    (run in the decoder worker)."""
    from PIL import Image, ImageOps

    with Image.open(path) as image:
        upright = ImageOps.exif_transpose(image)
        profile = image.info.get("icc_profile")
        if upright.mode not in ("RGB", "RGBA", "L", "LA"):
            upright = upright.convert("RGBA" if "A" in upright.getbands() else "RGB")
        out = io.BytesIO()
        options: dict[str, Any] = {"icc_profile": profile} if profile else {}
        upright.save(out, "PNG", compress_level=1, **options)
    return out.getvalue()


def _connection() -> Any:
    from jeepney.io.blocking import open_dbus_connection

    return open_dbus_connection(bus="SESSION")


def _file_manager_on_bus() -> bool:
    """A file manager answers (or can be started) on the session bus."""
    from jeepney import DBusErrorResponse
    from jeepney.bus_messages import message_bus
    from jeepney.wrappers import unwrap_msg

    try:
        with _connection() as connection:
            ask = connection.send_and_get_reply
            (owned,) = unwrap_msg(ask(message_bus.NameHasOwner(FILE_MANAGER), timeout=5))
            if owned:
                return True
            (names,) = unwrap_msg(ask(message_bus.ListActivatableNames(), timeout=5))
            return FILE_MANAGER in names
    except (ImportError, OSError, ValueError, TimeoutError, DBusErrorResponse):
        return False


def _show_items(uris: list[str]) -> None:
    from jeepney import DBusAddress, DBusErrorResponse, new_method_call
    from jeepney.wrappers import unwrap_msg

    address = DBusAddress("/org/freedesktop/FileManager1", FILE_MANAGER, FILE_MANAGER)
    try:
        with _connection() as connection:
            call = new_method_call(address, "ShowItems", "ass", (uris, ""))
            unwrap_msg(connection.send_and_get_reply(call, timeout=TIMEOUT))
    except DBusErrorResponse as exc:
        raise DesktopError(f"no file manager answered ({exc.name})") from exc
    except (ImportError, OSError, ValueError, TimeoutError) as exc:
        raise DesktopError(f"no D-Bus session ({type(exc).__name__})") from exc


def desktop_for_this_os(platform: str | None = None) -> Desktop:
    import sys

    platform = platform or sys.platform
    if platform in ("darwin", "win32"):
        return NoDesktop()
    return FreedesktopDesktop()
