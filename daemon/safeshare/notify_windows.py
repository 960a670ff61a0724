"""A Windows toast through PowerShell and WinRT, falling back to a tray balloon.

The toast is built here as XML (every text escaped by the XML rules) and travels base64-
encoded in the environment with the plain texts for the balloon, so no quoting can break
the script. A toast about clean copies opens things by itself, without safeshare running:
its buttons are protocol activations, "Show in folder" (the copies' folder, file:// URI) and
"Open" (the copy); clicking the toast opens the folder; the copy is the toast's picture.
"Copy image" needs a program to answer, which a toast cannot start here: it is not offered.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from safeshare.notify_base import Backend, run_helper


def toast_xml(title: str, body: str, copies: tuple[Path, ...] = ()) -> str:
    """The toast: texts, and for clean copies their folder and the copy to open."""
    visual = f"<text>{escape(title)}</text><text>{escape(body)}</text>"
    if not all(_uri_safe(p) for p in copies):  # a name no URI can carry (a lone surrogate)
        copies = ()  # the texts still go, without buttons
    if not copies:
        return f'<toast><visual><binding template="ToastGeneric">{visual}</binding></visual></toast>'
    folder = copies[0].absolute().parent.as_uri() + "/"
    actions = [("Show in folder", folder)]
    if len(copies) == 1:
        picture = copies[0].absolute().as_uri()
        visual += f"<image placement={quoteattr('hero')} src={quoteattr(picture)}/>"
        actions.append(("Open", picture))
    buttons = "".join(
        f'<action content={quoteattr(label)} activationType="protocol" arguments={quoteattr(target)}/>'
        for label, target in actions
    )
    return (
        f'<toast activationType="protocol" launch={quoteattr(folder)}>'
        f'<visual><binding template="ToastGeneric">{visual}</binding></visual>'
        f"<actions>{buttons}</actions></toast>"
    )


def _uri_safe(path: Path) -> bool:
    try:
        path.absolute().as_uri().encode()
    except (ValueError, UnicodeError):
        return False
    return True


class WindowsToastBackend(Backend):
    name = "Windows toast"
    title_max, body_max = 64, 256  # the balloon's limits, which the toast respects too
    SCRIPT = "\n".join(
        [
            "$ErrorActionPreference = 'Stop'",
            "function Text($v) { [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($v)) }",
            "$t = Text $env:SAFESHARE_TITLE; $b = Text $env:SAFESHARE_BODY",
            "try {",
            "  $null = [Windows.UI.Notifications.ToastNotificationManager, Windows.UI.Notifications,"
            " ContentType = WindowsRuntime]",
            "  $null = [Windows.Data.Xml.Dom.XmlDocument, Windows.Data.Xml.Dom.XmlDocument,"
            " ContentType = WindowsRuntime]",
            "  $x = New-Object Windows.Data.Xml.Dom.XmlDocument; $x.LoadXml((Text $env:SAFESHARE_TOAST))",
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

    def environment(self, title: str, body: str, copies: tuple[Path, ...] = ()) -> dict[str, str]:
        def coded(text: str) -> str:
            return base64.b64encode(text.encode()).decode()

        return {
            **os.environ,
            "SAFESHARE_TITLE": coded(title),
            "SAFESHARE_BODY": coded(body),
            "SAFESHARE_TOAST": coded(toast_xml(title, body, copies)),
        }

    def show(self, title: str, body: str, error: bool) -> None:
        run_helper(self.command(), "PowerShell", self.environment(title, body))

    def show_copies(self, title: str, body: str, error: bool, copies: tuple[Path, ...]) -> None:
        run_helper(self.command(), "PowerShell", self.environment(title, body, copies))
