"""`safeshare integrate install | uninstall | status`: "Clean a copy" from the file manager.

One backend per OS, chosen by `choose_integration`:
- Linux: all of a Nautilus script, a Nemo action, a Dolphin service menu, a Thunar custom
  action and an "Open With" application entry (harmless files where that file manager is
  absent);
- Windows: a "Send to" shortcut, made by PowerShell through WScript.Shell;
- macOS: a Quick Action (an Automator service workflow) in ~/Library/Services. It was not
  run on a Mac here: its files are checked with plistlib, its commands as argument lists.
Each entry runs `python -m safeshare clean --notify <files>` with the absolute path of the
interpreter running now. Every file safeshare writes carries MARKER; a file in the same
place without it is the user's: install refuses to replace it, uninstall leaves it.
"""

from __future__ import annotations

import os
import plistlib
import sys
import xml.etree.ElementTree as ET
from abc import abstractmethod
from importlib import resources
from pathlib import Path
from typing import Any

from safeshare import integrate_thunar as thunar
from safeshare import service_escape as esc
from safeshare.icon import icon_path
from safeshare.service_plan import (
    Installable,
    Plan,
    Remove,
    RemoveTree,
    Run,
    ServiceError,
    Step,
    Write,
    clean_command,
    template,
)

__all__ = ["MARKER", "Integration", "LinuxFileManagers", "MacQuickAction", "WindowsSendTo"]
__all__ += ["choose_integration", "icon_path"]

TITLE = "Clean a copy with safeshare"
MARKER = b"installed by safeshare"
MIME_TYPES = ["image/jpeg", "image/png", "image/gif", "image/webp", "image/tiff"]
MIME_TYPES += ["image/heic", "image/heif", "image/avif"]
DESKTOP = "desktop entry"


def _xdg(variable: str, default: str) -> Path:
    return Path(os.environ.get(variable) or Path.home() / default)


def _ours_or_absent(path: Path) -> None:
    """Refuse to replace a file that safeshare did not write."""
    if not path.exists() and not path.is_symlink():
        return
    try:
        ours = path.is_file() and MARKER in path.read_bytes()
    except OSError:
        ours = False
    if not ours:
        raise ServiceError(
            f"cannot install: {path} is not safeshare's (no {MARKER.decode()!r} in it); move it"
        )


class Integration(Installable):
    @abstractmethod
    def installed(self) -> list[Path]:
        """Which of its entries exist now (for a status line)."""


class LinuxFileManagers(Integration):
    name = "Nautilus, Nemo, Dolphin, Thunar and Open With entries"

    def __init__(self, system_uca: Path = thunar.SYSTEM_UCA) -> None:
        data = _xdg("XDG_DATA_HOME", ".local/share")
        self.nautilus = data / "nautilus" / "scripts" / TITLE
        self.nemo = data / "nemo" / "actions" / "safeshare-clean.nemo_action"
        self.dolphin = data / "kio" / "servicemenus" / "safeshare-clean.desktop"
        self.application = data / "applications" / "safeshare-clean.desktop"
        self.uca = _xdg("XDG_CONFIG_HOME", ".config") / "Thunar" / "uca.xml"
        self.system_uca = system_uca

    @property
    def files(self) -> list[Path]:
        """The entries that are whole files of safeshare's own (not uca.xml)."""
        return [self.nautilus, self.nemo, self.dolphin, self.application]

    def render_nautilus(self) -> str:
        return template("filemanager/nautilus-script.sh", command=esc.sh_words(clean_command(), "script"))

    def render_nemo(self) -> str:
        kind, icon = "Nemo action", str(icon_path())
        return template(
            "filemanager/safeshare-clean.nemo_action",
            exec_line=esc.nemo_exec(clean_command()),
            icon=esc.keyfile_string(icon, kind, "the icon path"),
            mime_types=";".join(MIME_TYPES) + ";",
        )

    def _desktop_fields(self) -> dict[str, str]:
        return {
            "exec_line": esc.desktop_exec(clean_command()) + " %F",
            "icon": esc.keyfile_string(str(icon_path()), DESKTOP, "the icon path"),
            "mime_types": ";".join(MIME_TYPES) + ";",
        }

    def render_dolphin(self) -> str:
        return template("filemanager/dolphin-servicemenu.desktop", **self._desktop_fields())

    def render_application(self) -> str:
        return template("filemanager/safeshare-clean.desktop", **self._desktop_fields())

    def thunar_action(self) -> ET.Element:
        kind = "Thunar custom action"
        text = template(
            "filemanager/thunar-action.xml",
            icon=esc.xml_text(str(icon_path()), kind, "the icon path"),
            unique_id=thunar.UNIQUE_ID,
            command=esc.xml_text(esc.thunar_command(clean_command()), kind, "the command"),
        )
        return ET.fromstring(text)

    def install_plan(self) -> Plan:
        writes = [
            (self.nautilus, self.render_nautilus(), 0o755),  # Nautilus runs only executable scripts
            (self.nemo, self.render_nemo(), None),
            (self.dolphin, self.render_dolphin(), 0o755),  # KF6 skips a service menu not executable
            (self.application, self.render_application(), None),
        ]
        for path, _, _ in writes:
            _ours_or_absent(path)
        steps: list[Step] = [Write(path, text.encode(), mode) for path, text, mode in writes]
        root = thunar.with_ours(thunar.load(self.uca, self.system_uca), self.thunar_action())
        steps.append(Write(self.uca, thunar.dumps(root)))
        return Plan(steps, ["the file managers show the entry in newly opened windows"])

    def uninstall_plan(self) -> Plan:
        steps: list[Step] = [Remove(path, MARKER) for path in self.files]
        notes: list[str] = []
        try:
            root = thunar.load(self.uca, self.system_uca) if self.uca.exists() else None
        except ServiceError as exc:  # the other entries still go: only this one is left
            notes.append(f"{exc}; safeshare's action in it was left there")
            root = None
        if root is not None:
            if thunar.ours(root):
                left = thunar.dumps(thunar.without_ours(root))
                # Made by install from Thunar's defaults, and nothing of the user's added since:
                # removed, so that Thunar reads its defaults again (and their updates).
                plain = thunar.same(left, thunar.dumps(thunar.load(Path("/nonexistent"), self.system_uca)))
                steps.append(Remove(self.uca) if plain else Write(self.uca, left))
            else:
                notes.append(f"{self.uca} holds no action of safeshare's: left as it is")
        return Plan(steps, notes)

    def installed(self) -> list[Path]:
        present = [p for p in self.files if p.is_file() and MARKER in p.read_bytes()]
        try:
            has_action = self.uca.is_file() and bool(thunar.ours(thunar.load(self.uca, self.system_uca)))
        except ServiceError:
            has_action = False
        return present + ([self.uca] if has_action else [])


class WindowsSendTo(Integration):
    name = 'Windows "Send to" shortcut'

    def __init__(self) -> None:
        appdata = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
        self.link = appdata / "Microsoft" / "Windows" / "SendTo" / f"{TITLE}.lnk"

    def script(self) -> str:
        """PowerShell that writes the shortcut; Explorer appends the files it is sent."""
        kind = "Send to shortcut"
        command = clean_command(windowless=True)
        target, arguments = esc.windows_exec(command, kind=kind)

        def quoted(value: str, what: str) -> str:
            return esc.powershell_string(value, kind, what)

        return "; ".join(
            [
                "$shortcut = (New-Object -ComObject WScript.Shell).CreateShortcut("
                + quoted(str(self.link), "the shortcut path")
                + ")",
                f"$shortcut.TargetPath = {quoted(target, 'the interpreter path')}",
                f"$shortcut.Arguments = {quoted(arguments, 'the arguments')}",
                f"$shortcut.Description = {quoted(f'{TITLE} ({MARKER.decode()})', 'the title')}",
                "$shortcut.WindowStyle = 7",  # minimized, for python.exe without pythonw.exe
                "$shortcut.Save()",
            ]
        )

    # A shortcut keeps its Description as UTF-16: that is where it says it is safeshare's.
    LINK_MARKER = MARKER.decode().encode("utf-16-le")

    def install_plan(self) -> Plan:
        if self.link.exists() and self.LINK_MARKER not in self.link.read_bytes():
            raise ServiceError(f"cannot install: {self.link} is not safeshare's; move it")
        argv = ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command", self.script()]
        return Plan([Run(argv)])

    def uninstall_plan(self) -> Plan:
        return Plan([Remove(self.link, self.LINK_MARKER)])

    def installed(self) -> list[Path]:
        return [self.link] if self.link.exists() else []


class MacQuickAction(Integration):
    name = "macOS Quick Action"

    def __init__(self) -> None:
        self.bundle = Path.home() / "Library" / "Services" / f"{TITLE}.workflow"

    def shell_script(self) -> str:
        return f'exec {esc.sh_words(clean_command(), "Quick Action")} -- "$@"\n'

    def render_info(self) -> bytes:
        info = _plist_template("filemanager/Info.plist")
        info["NSServices"][0]["NSMenuItem"]["default"] = TITLE
        info["SafeshareEntry"] = MARKER.decode()  # how uninstall knows the bundle is ours
        return plistlib.dumps(info)

    def ours(self) -> bool | None:
        """None: no bundle there; else whether its Info.plist says it is safeshare's."""
        if not self.bundle.exists() and not self.bundle.is_symlink():
            return None
        info = self.bundle / "Contents" / "Info.plist"
        try:
            return MARKER in info.read_bytes()
        except OSError:
            return False

    def render_workflow(self) -> bytes:
        workflow = _plist_template("filemanager/document.wflow")
        workflow["actions"][0]["action"]["ActionParameters"]["COMMAND_STRING"] = self.shell_script()
        return plistlib.dumps(workflow)

    def install_plan(self) -> Plan:
        contents = self.bundle / "Contents"
        if self.ours() is False:
            raise ServiceError(f"cannot install: {self.bundle} is not safeshare's; move it")
        return Plan(
            [
                Write(contents / "Info.plist", self.render_info()),
                Write(contents / "document.wflow", self.render_workflow()),
                Run(["/System/Library/CoreServices/pbs", "-update"], check=False),
            ],
            [f'Finder shows "{TITLE}" under Quick Actions for images'],
        )

    def uninstall_plan(self) -> Plan:
        if self.ours() is False:
            return Plan([], [f"left {self.bundle} alone: safeshare did not write it"])
        return Plan(
            [RemoveTree(self.bundle), Run(["/System/Library/CoreServices/pbs", "-update"], check=False)]
        )

    def installed(self) -> list[Path]:
        return [self.bundle] if self.bundle.is_dir() else []


def _plist_template(relative: str) -> dict[str, Any]:
    data = resources.files("safeshare.templates").joinpath(relative).read_bytes()
    loaded: dict[str, Any] = plistlib.loads(data)
    return loaded


def choose_integration(platform: str = sys.platform) -> Integration:
    if platform == "darwin":
        return MacQuickAction()
    if platform == "win32":
        return WindowsSendTo()
    return LinuxFileManagers()


def status_lines(integration: Integration) -> list[str]:
    present = integration.installed()
    return (
        [f"file-manager entries: {integration.name}", *[f"installed: {p}" for p in present]]
        if present
        else [
            f"file-manager entries: {integration.name}",
            "installed: none",
        ]
    )
