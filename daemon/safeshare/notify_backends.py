"""Ways to put a notification on screen, each one able to say when it failed.

plyer is the cross-platform API, but plyer 2.1 fails silently in known ways (it takes any
machine with /app for a Flatpak and calls gdbus unchecked; without dbus-python it calls
notify-send without checking it; on macOS it needs pyobjus; on Windows its balloon thread
swallows errors). So plyer is used where its delivery can be confirmed, and each OS has a
checked fallback: the freedesktop service over D-Bus (jeepney) or notify-send on Linux,
osascript on macOS, a PowerShell toast on Windows. `backends_for_this_os` picks the order.
OS-specific imports stay inside the backends.

Texts come from file names and metadata, so every backend gets them made safe first (see
`Backend.send`): the title one line, no control characters or bytes that are not UTF-8. On
Linux the body is markup-escaped for every server that reads markup in it (the spec's
"body-markup" capability: dunst, GNOME, KDE...), whichever way it travels, so a camera model
'<a href="http://ev.il">Tap to undo</a>' stays text. The summary is plain text by the spec,
and servers show it so (dunst escapes it itself): it is not escaped, or '&' would show as '&amp;'.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import warnings
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

from safeshare.errors import SafeshareError
from safeshare.printable import printable

APP_NAME = "safeshare"
TIMEOUT = 5  # seconds a helper or the D-Bus service may take to take a notification


class DeliveryError(SafeshareError):
    """This backend could not show the notification (the reason says why)."""


class Backend(ABC):
    name: str
    title_max = 100
    body_max = 500

    def send(self, title: str, body: str, error: bool = False) -> None:
        """Show it, or raise DeliveryError. The title goes as one line and the body as its
        lines, each with control and bidi characters escaped and bytes that are not UTF-8
        shown as '\\xff' (see printable): nothing in a name adds a line or breaks the call."""
        self.show(printable(title, self.title_max, "…"), printable(body, self.body_max, "…", "\n"), error)

    @abstractmethod
    def show(self, title: str, body: str, error: bool) -> None:
        """Show texts already made safe by `send`, or raise DeliveryError."""


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    except FileNotFoundError as exc:
        raise DeliveryError(f"{what} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise DeliveryError(f"{what} did not answer within {TIMEOUT} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DeliveryError(f"{what} failed (exit {proc.returncode}): {detail[0][:200] if detail else ''}")


def markup_escaped(text: str) -> str:
    """Freedesktop servers may read the body as markup: '<', '>' and '&' must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _notifications() -> Any:
    from jeepney import DBusAddress

    return DBusAddress(
        "/org/freedesktop/Notifications",
        bus_name="org.freedesktop.Notifications",
        interface="org.freedesktop.Notifications",
    )


def _capabilities(connection: Any) -> list[str]:
    """What the notification server says it can do ('body', 'body-markup', ...)."""
    from jeepney import MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    ask = new_method_call(_notifications(), "GetCapabilities")
    if connection is None:
        with open_dbus_connection(bus="SESSION") as own:
            reply = own.send_and_get_reply(ask, timeout=TIMEOUT)
    else:
        reply = connection.send_and_get_reply(ask, timeout=TIMEOUT)
    if reply.header.message_type == MessageType.error:
        raise ValueError("the server did not say what it can do")
    return [str(c) for c in reply.body[0]]


def body_for_server(body: str, connection: Any = None) -> str:
    """The body escaped, unless the server says it shows the body as plain text (no
    "body-markup" capability: it would show '&amp;'). A server that cannot be asked gets it
    escaped: a link shown as text is better than a name shown as a link."""
    try:
        plain = "body-markup" not in _capabilities(connection)
    except (ImportError, OSError, ValueError, KeyError, IndexError, TypeError, TimeoutError):
        plain = False
    return body if plain else markup_escaped(body)


class FreedesktopBackend(Backend):
    """org.freedesktop.Notifications.Notify on the session bus; the server's reply confirms it."""

    name = "D-Bus notification service"

    def show(self, title: str, body: str, error: bool) -> None:
        from jeepney import DBusErrorResponse, new_method_call
        from jeepney.io.blocking import open_dbus_connection
        from jeepney.wrappers import unwrap_msg

        hints = {"urgency": ("y", 2 if error else 1)}
        try:
            with open_dbus_connection(bus="SESSION") as connection:
                texts = (title, body_for_server(body, connection))
                call = new_method_call(
                    _notifications(), "Notify", "susssasa{sv}i", (APP_NAME, 0, "", *texts, [], hints, -1)
                )
                # The reply is an id from the server, or an error (no server: ServiceUnknown).
                unwrap_msg(connection.send_and_get_reply(call, timeout=TIMEOUT))
        except DBusErrorResponse as exc:
            raise DeliveryError(f"the notification service refused it: {exc.name}") from exc
        except (OSError, KeyError, ValueError, TimeoutError) as exc:
            raise DeliveryError(f"no D-Bus session or notification service ({type(exc).__name__})") from exc


class NotifySendBackend(Backend):
    name = "notify-send"

    def show(self, title: str, body: str, error: bool) -> None:
        urgency = "critical" if error else "normal"
        _run(
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
        _run(self.command(title, body), "osascript")


class WindowsToastBackend(Backend):
    """A toast through PowerShell and WinRT, falling back to a tray balloon; the texts travel
    base64-encoded in the environment, so no quoting can break the script."""

    name = "Windows toast"
    title_max, body_max = 64, 256  # the balloon's limits, which the toast respects too
    SCRIPT = "\n".join(
        [
            "$ErrorActionPreference = 'Stop'",
            "$t = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($env:SAFESHARE_TITLE))",
            "$b = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($env:SAFESHARE_BODY))",
            "try {",
            "  $null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications,"
            " ContentType = WindowsRuntime]",
            "  $x = [Windows.UI.Notifications.ToastNotificationManager]::GetTemplateContent(1)",
            "  $n = $x.GetElementsByTagName('text'); $n.Item(0).InnerText = $t; $n.Item(1).InnerText = $b",
            "  $app = '{1AC14E77-02E7-4E5D-B744-2EB1AE5198B7}\\WindowsPowerShell\\v1.0\\powershell.exe'",
            "  [Windows.UI.Notifications.ToastNotificationManager]::CreateToastNotifier($app).Show(",
            "    [Windows.UI.Notifications.ToastNotification]::new($x))",
            "} catch {",
            "  Add-Type -AssemblyName System.Windows.Forms",
            "  $i = New-Object System.Windows.Forms.NotifyIcon",
            "  $i.Icon = [System.Drawing.SystemIcons]::Information; $i.Visible = $true",
            "  $i.ShowBalloonTip(10000, $t, $b, 'Info'); Start-Sleep -Seconds 1; $i.Dispose()",
            "}",
        ]
    )

    def command(self) -> list[str]:
        return [
            "powershell.exe",
            "-NoProfile",
            "-NonInteractive",
            "-ExecutionPolicy",
            "Bypass",
            "-WindowStyle",
            "Hidden",
            "-Command",
            self.SCRIPT,
        ]

    def environment(self, title: str, body: str) -> dict[str, str]:
        return {
            **os.environ,
            "SAFESHARE_TITLE": base64.b64encode(title.encode()).decode(),
            "SAFESHARE_BODY": base64.b64encode(body.encode()).decode(),
        }

    def show(self, title: str, body: str, error: bool) -> None:
        _run(self.command(), "PowerShell", self.environment(title, body))


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
    """Ordered: the first that delivers is used; plyer first where it can confirm delivery."""
    if platform.startswith("linux"):
        fallbacks: list[Backend] = [FreedesktopBackend()]
        if shutil.which("notify-send"):
            fallbacks.append(NotifySendBackend())
        return [PlyerBackend(platform), *fallbacks]
    if platform == "darwin":
        return [PlyerBackend(platform), OsascriptBackend()]
    if platform == "win32":
        return [WindowsToastBackend(), PlyerBackend(platform)]  # plyer's balloon cannot report errors
    return [PlyerBackend(platform)]
