"""Ways to put a notification on screen, each one able to say when it failed, and the order
in which each OS tries them (`backends_for_this_os`).

On Linux the freedesktop service over D-Bus (jeepney, see notify_dbus) comes first: it
confirms delivery and is the only way whose buttons reach safeshare. plyer is the cross-
platform API, but plyer 2.1 fails silently in known ways (it takes any machine with /app for
a Flatpak and calls gdbus unchecked; without dbus-python it calls notify-send without
checking it; on macOS it needs pyobjus; on Windows its balloon thread swallows errors). So
plyer is used where its delivery can be confirmed, and each OS has a checked fallback:
notify-send on Linux, osascript on macOS, a PowerShell toast on Windows (notify_windows).
OS-specific imports stay inside the backends. Whichever way it travels, a Linux body is
markup-escaped for servers that read markup in it (see notify_dbus).
"""

from __future__ import annotations

import shutil
import sys
import warnings
from pathlib import Path

from safeshare.notify_base import APP_NAME as APP_NAME
from safeshare.notify_base import TIMEOUT as TIMEOUT
from safeshare.notify_base import Backend as Backend
from safeshare.notify_base import DeliveryError as DeliveryError
from safeshare.notify_base import markup_escaped as markup_escaped
from safeshare.notify_base import run_helper
from safeshare.notify_dbus import FreedesktopBackend as FreedesktopBackend
from safeshare.notify_session import body_for_server
from safeshare.notify_windows import WindowsToastBackend as WindowsToastBackend


class NotifySendBackend(Backend):
    name = "notify-send"

    def show(self, title: str, body: str, error: bool) -> None:
        urgency = "critical" if error else "normal"
        run_helper(
            [
                "notify-send",
                f"--app-name={APP_NAME}",
                f"--urgency={urgency}",
                "--",
                title,
                body_for_server(body),
            ],
            "notify-send",
        )


class OsascriptBackend(Backend):
    """macOS `display notification`; the texts go in as arguments, never into the script."""

    name = "osascript"
    SCRIPT = "on run argv\ndisplay notification (item 2 of argv) with title (item 1 of argv)\nend run"

    def command(self, title: str, body: str) -> list[str]:
        return ["osascript", "-e", self.SCRIPT, title, body]

    def show(self, title: str, body: str, error: bool) -> None:
        run_helper(self.command(title, body), "osascript")


class PlyerBackend(Backend):
    """plyer, used only where its delivery can be confirmed (see the module docstring)."""

    name = "plyer"

    def __init__(self, platform: str = sys.platform) -> None:
        self.platform = platform
        if platform == "win32":
            self.title_max, self.body_max = 64, 256

    def unusable_reason(self) -> str | None:
        if self.platform.startswith("linux"):
            if Path("/app").is_dir() and not Path("/.flatpak-info").exists():
                return "plyer would take this machine for a Flatpak (it has /app) and call gdbus unchecked"
            try:
                import dbus  # type: ignore[import-not-found]  # noqa: F401
            except ImportError:
                return (
                    "plyer cannot confirm delivery without dbus-python (it would run notify-send unchecked)"
                )
        return None

    def show(self, title: str, body: str, error: bool) -> None:
        reason = self.unusable_reason()
        if reason:
            raise DeliveryError(reason)
        if self.platform.startswith("linux"):  # plyer calls Notify through dbus-python, as is
            body = body_for_server(body)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                from plyer import notification

                notification.notify(title=title, message=body, app_name=APP_NAME, timeout=10)
        except NotImplementedError as exc:
            raise DeliveryError("plyer has no notification support here (macOS needs pyobjus)") from exc
        except Exception as exc:  # plyer raises whatever its platform code raises
            raise DeliveryError(f"plyer failed: {type(exc).__name__}: {str(exc)[:160]}") from exc


def backends_for_this_os(platform: str = sys.platform) -> list[Backend]:
    """Ordered: the first that delivers is used."""
    if platform.startswith("linux"):
        chain: list[Backend] = [FreedesktopBackend(), PlyerBackend(platform)]
        if shutil.which("notify-send"):
            chain.append(NotifySendBackend())
        return chain
    if platform == "darwin":
        return [PlyerBackend(platform), OsascriptBackend()]
    if platform == "win32":
        return [WindowsToastBackend(), PlyerBackend(platform)]  # plyer's balloon cannot report errors
    return [PlyerBackend(platform)]
