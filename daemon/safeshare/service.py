"""`safeshare service install | uninstall | status`: start at login on Linux, macOS, Windows.

One backend per kind of login service, chosen by `choose_backend`:
- Linux with a systemd user manager: a user unit tied to graphical-session.target;
- Linux without one: an XDG autostart entry (the instance lock keeps it to one daemon);
- macOS: a LaunchAgent, loaded with `launchctl bootstrap gui/<uid>`;
- Windows: a logon task (`schtasks /Create /XML`), else the HKCU Run key.
Each backend turns install/uninstall into a `Plan` of files and commands; templates come
from the installed package and get absolute paths of the interpreter running now.
"""

from __future__ import annotations

import getpass
import os
import shutil
import sys
from abc import abstractmethod
from pathlib import Path
from typing import TextIO

from safeshare import instance, logsetup, paths
from safeshare import service_escape as esc
from safeshare.config import Config
from safeshare.service_plan import (
    Installable,
    Plan,
    Remove,
    Run,
    ServiceError,
    ServiceStatus,
    Start,
    Step,
    Stop,
    Write,
    carry_out,
    daemon_command,
    run,
    template,
)

UNIT = "safeshare.service"
LABEL = "io.github.safeshare"
TASK = "safeshare"
RUN_KEY = r"HKCU\Software\Microsoft\Windows\CurrentVersion\Run"
MACOS_PROTECTED = ("Desktop", "Documents", "Downloads", "Pictures")


def _xdg_config_home() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")


class Backend(Installable):
    @abstractmethod
    def status(self) -> ServiceStatus: ...


class SystemdUser(Backend):
    name = "systemd user unit"

    def __init__(self) -> None:
        self.unit = _xdg_config_home() / "systemd" / "user" / UNIT
        self.autostart = XdgAutostart()

    def render(self) -> str:
        return template("systemd/safeshare.service", exec_start=esc.systemd_exec(daemon_command()))

    def install_plan(self) -> Plan:
        steps: list[Step] = [Write(self.unit, self.render().encode())]
        if self.autostart.path.exists():
            steps.append(Remove(self.autostart.path))  # never two ways of starting it
        systemctl = ["systemctl", "--user"]
        steps += [
            Run([*systemctl, "daemon-reload"]),
            Run([*systemctl, "enable", UNIT]),
            Run([*systemctl, "restart", UNIT]),
        ]
        return Plan(steps)

    def uninstall_plan(self) -> Plan:
        systemctl = ["systemctl", "--user"]
        return Plan(
            [
                Run([*systemctl, "disable", "--now", UNIT], check=False),
                Remove(self.unit),
                Run([*systemctl, "daemon-reload"], check=False),
            ]
        )

    def status(self) -> ServiceStatus:
        enabled = run(["systemctl", "--user", "is-enabled", UNIT], check=False).stdout.strip() == "enabled"
        active = run(["systemctl", "--user", "is-active", UNIT], check=False).stdout.strip() == "active"
        details = [f"unit: {self.unit}", f"journal: journalctl --user -u {UNIT}"]
        return ServiceStatus(self.unit.exists(), enabled, active, details)


class XdgAutostart(Backend):
    name = "XDG autostart entry"

    def __init__(self) -> None:
        self.path = _xdg_config_home() / "autostart" / "safeshare.desktop"

    def render(self) -> str:
        return template("xdg/safeshare.desktop", exec_line=esc.desktop_exec(daemon_command()))

    def install_plan(self) -> Plan:
        steps: list[Step] = [Write(self.path, self.render().encode())]
        if instance.running_pid(paths.state_dir()) is None:
            steps.append(Start(daemon_command()))  # the session starts it from the next login on
        return Plan(steps, ["the desktop session starts it at every login from now on"])

    def uninstall_plan(self) -> Plan:
        steps: list[Step] = [Remove(self.path)]
        pid = instance.running_pid(paths.state_dir())
        if pid is not None:
            steps.append(Stop(pid))
        return Plan(steps)

    def status(self) -> ServiceStatus:
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        enabled = bool(text) and "Hidden=true" not in text and "X-GNOME-Autostart-enabled=false" not in text
        running = instance.running_pid(paths.state_dir()) is not None
        return ServiceStatus(bool(text), enabled, running, [f"entry: {self.path}"])


class LaunchAgent(Backend):
    name = "LaunchAgent"

    def __init__(self, config: Config | None = None, uid: int | None = None) -> None:
        self.plist = Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"
        self.logs = Path.home() / "Library" / "Logs" / "safeshare"
        self.uid = uid if uid is not None else os.getuid()
        self.config = config

    @property
    def domain(self) -> str:
        return f"gui/{self.uid}"

    def render(self) -> str:
        return template(
            "launchd/safeshare.plist", label=LABEL, **esc.plist_fields(daemon_command(), self.logs)
        )

    def install_plan(self) -> Plan:
        keep = Write(self.logs / ".keep", b"")  # launchd needs the log folder to exist
        steps: list[Step] = [
            keep,
            Write(self.plist, self.render().encode()),
            Run(["launchctl", "bootout", f"{self.domain}/{LABEL}"], check=False),  # reload if loaded
            Run(["launchctl", "bootstrap", self.domain, str(self.plist)]),
        ]
        return Plan(steps, self.permission_notes())

    def uninstall_plan(self) -> Plan:
        return Plan(
            [
                Run(["launchctl", "bootout", f"{self.domain}/{LABEL}"], check=False),
                Remove(self.plist),
                Remove(self.logs / ".keep"),
            ]
        )

    def permission_notes(self) -> list[str]:
        """macOS asks before a background program reads Desktop, Documents, Downloads or Pictures."""
        watched = [w.path for w in self.config.watch] if self.config else paths.default_watch_folders()
        protected = [
            p for p in watched if any(Path.home() / name in (p, *p.parents) for name in MACOS_PROTECTED)
        ]
        python = daemon_command()[0]
        return [
            f"{p} is a protected folder: macOS asks to allow {python} to read it "
            "(System Settings > Privacy & Security > Files and Folders, or Full Disk Access)"
            for p in protected
        ]

    def status(self) -> ServiceStatus:
        proc = run(["launchctl", "print", f"{self.domain}/{LABEL}"], check=False)
        running = "state = running" in proc.stdout
        return ServiceStatus(
            self.plist.exists(),
            proc.returncode == 0,
            running,
            [f"agent: {self.plist}", f"launchd logs: {self.logs}"],
        )


class WindowsTask(Backend):
    name = "Windows logon task"

    def __init__(self, user: str | None = None) -> None:
        self.user = user or f"{os.environ.get('USERDOMAIN', '')}\\{getpass.getuser()}".lstrip("\\")
        self.xml_path = paths.state_dir() / "safeshare-task.xml"

    def render(self) -> bytes:
        fields = esc.task_fields(self.user, daemon_command(windowless=True))
        text = template("windows/safeshare-task.xml", **fields)
        return text.encode("utf-16")  # schtasks reads the task XML as UTF-16 with its BOM

    def install_plan(self) -> Plan:
        return Plan(
            [
                Write(self.xml_path, self.render()),
                Run(["schtasks", "/Create", "/TN", TASK, "/XML", str(self.xml_path), "/F"]),
                Run(["schtasks", "/Run", "/TN", TASK]),
            ]
        )

    def run_key_plan(self) -> Plan:
        command = esc.windows_command_line(daemon_command(windowless=True))
        return Plan(
            [
                Run(["reg", "add", RUN_KEY, "/v", TASK, "/t", "REG_SZ", "/d", command, "/f"]),
                Start(daemon_command(windowless=True)),
            ],
            ["Task Scheduler refused the task; safeshare starts from the HKCU Run key instead"],
        )

    def install(self, dry_run: bool, out: TextIO) -> None:
        plan = self.install_plan()  # a path no task can hold is refused here, not worked around
        try:
            carry_out(plan, dry_run, out)
        except ServiceError as exc:
            out.write(f"{exc}\n")
            carry_out(self.run_key_plan(), dry_run, out)

    def uninstall_plan(self) -> Plan:
        return Plan(
            [
                Run(["schtasks", "/End", "/TN", TASK], check=False),
                Run(["schtasks", "/Delete", "/TN", TASK, "/F"], check=False),
                Run(["reg", "delete", RUN_KEY, "/v", TASK, "/f"], check=False),
                Remove(self.xml_path),
            ]
        )

    def status(self) -> ServiceStatus:
        task = run(["schtasks", "/Query", "/TN", TASK, "/FO", "LIST"], check=False)
        key = run(["reg", "query", RUN_KEY, "/v", TASK], check=False)
        installed = task.returncode == 0 or key.returncode == 0
        running = instance.running_pid(paths.state_dir()) is not None
        how = "logon task" if task.returncode == 0 else "HKCU Run key" if key.returncode == 0 else "none"
        return ServiceStatus(installed, installed, running, [f"started by: {how}"])


def systemd_user_available() -> bool:
    """A systemd user manager answers (not the case in containers or without logind)."""
    if shutil.which("systemctl") is None:
        return False
    return run(["systemctl", "--user", "show-environment"], check=False).returncode == 0


def choose_backend(config: Config | None = None, platform: str = sys.platform) -> Backend:
    if platform == "darwin":
        return LaunchAgent(config)
    if platform == "win32":
        return WindowsTask()
    return SystemdUser() if systemd_user_available() else XdgAutostart()


def status_lines(backend: Backend) -> list[str]:
    state = backend.status()
    pid = instance.running_pid(paths.state_dir())
    yes = {True: "yes", False: "no"}
    running = yes[state.running or pid is not None] + (f" (pid {pid})" if pid else "")
    return [
        f"service: {backend.name}",
        f"installed: {yes[state.installed]}",
        f"enabled: {yes[state.enabled]}",
        f"running: {running}",
        *state.details,
        f"log: {paths.log_dir() / logsetup.LOG_NAME}",
    ]
