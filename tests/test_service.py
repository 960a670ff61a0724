"""Login service: templates from the installed wheel, files the OS tools accept, exact
commands for launchctl and schtasks, and install/uninstall round trips that leave nothing."""

from __future__ import annotations

import io
import os
import plistlib
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from safeshare import service as service_mod
from safeshare import service_plan
from safeshare.config import Config, WatchConfig
from safeshare.service import LABEL, LaunchAgent, SystemdUser, WindowsTask, XdgAutostart
from safeshare.service_plan import Run, ServiceError, carry_out, daemon_command
from tests.conftest import run_cli
from tests.daemon_harness import wait_until
from tests.helpers import ROOT

TASK_NS = {"t": "http://schemas.microsoft.com/windows/2004/02/mit/task"}


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    return home


class FakeOs:
    """Records the argument lists handed to the OS tools (mocked only at this edge)."""

    def __init__(self, fail: tuple[str, ...] = ()) -> None:
        self.calls: list[list[str]] = []
        self.fail = fail

    def __call__(self, command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        code = 1 if command[0] in self.fail or " ".join(command[:2]) in self.fail else 0
        if code and check:
            raise ServiceError(f"{command[0]} failed")
        return subprocess.CompletedProcess(command, code, "", "")


def test_wheel_ships_the_templates_and_uses_them_from_the_installed_package(
    tmp_path: Path, home: Path
) -> None:
    wheels = tmp_path / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if built.returncode != 0:
        pytest.skip(f"the wheel could not be built here (no package index?): {built.stderr.strip()[-300:]}")
    wheel = next(wheels.glob("safeshare-*.whl"))
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies come from the test environment, but not safeshare itself (its editable
    # finder is a .pth hook that a path added this way does not run).
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    (site / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    where = subprocess.run(
        [str(python), "-c", "import safeshare.templates as t; print(t.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert where.startswith(str(venv)) and "/work/" not in where.replace(str(tmp_path), "")
    proc = subprocess.run(
        [str(venv / "bin" / "safeshare"), "service", "install", "--dry-run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"{python} -m safeshare run" in proc.stdout.replace(str(python.resolve()), str(python))
    assert not (home / ".config" / "autostart").exists()  # a dry run touches nothing


def test_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path, home: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    unit = tmp_path / "safeshare.service"
    unit.write_text(SystemdUser().render())
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    assert proc.returncode == 0 and proc.stderr == "", (
        proc.stderr
    )  # it exits 0 on unknown keys: stderr counts
    text = unit.read_text()
    for line in (
        "PartOf=graphical-session.target",
        "After=graphical-session.target",
        "WantedBy=graphical-session.target",
        "Restart=on-failure",
    ):
        assert line in text
    assert f"ExecStart={daemon_command()[0]} -m safeshare run" in text


def test_systemd_round_trip_with_the_exact_commands(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOs()
    monkeypatch.setattr(service_plan, "run", fake)
    backend = SystemdUser()
    backend.install(False, io.StringIO())
    assert backend.unit.is_file()
    assert fake.calls == [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", "safeshare.service"],
        ["systemctl", "--user", "restart", "safeshare.service"],
    ]
    backend.install(False, io.StringIO())  # idempotent: same file, same commands
    fake.calls.clear()
    backend.uninstall(False, io.StringIO())
    assert fake.calls == [
        ["systemctl", "--user", "disable", "--now", "safeshare.service"],
        ["systemctl", "--user", "daemon-reload"],
    ]
    assert not any(p.is_file() for p in home.rglob("*"))


def test_xdg_autostart_round_trip_for_real_leaves_nothing(home: Path, tmp_path: Path) -> None:
    """No systemd user manager here: the autostart entry is written and the daemon started
    for real; uninstall stops it and removes the entry. The ledger and log it wrote stay."""
    config = tmp_path / "c.toml"
    (home / "Pictures").mkdir()
    config.write_text(f'output = "{tmp_path / "safe"}"\n[[watch]]\npath = "{home / "Pictures"}"\n')
    env = {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "SAFESHARE_CONFIG": str(config),
    }
    entry = home / ".config" / "autostart" / "safeshare.desktop"
    installed = run_cli("service", "install", env=env)
    if "systemd user unit" in installed.stdout:
        pytest.skip("this machine has a systemd user manager; the autostart path is not taken")
    assert installed.returncode == 0, installed.stderr
    assert entry.is_file() and f"Exec={daemon_command()[0]} -m safeshare run" in entry.read_text()
    wait_until(lambda: "running: yes" in run_cli("service", "status", env=env).stdout, timeout=30)
    status = run_cli("service", "status", env=env).stdout
    assert "installed: yes" in status and "enabled: yes" in status
    again = run_cli("service", "install", env=env)  # idempotent: no second daemon
    assert again.returncode == 0 and "start:" not in again.stdout
    removed = run_cli("service", "uninstall", env=env)
    assert removed.returncode == 0 and "stop the running daemon" in removed.stdout
    wait_until(lambda: "running: no" in run_cli("service", "status", env=env).stdout, timeout=30)
    left = {p.relative_to(home) for p in home.rglob("*") if p.is_file()}
    assert not entry.exists()
    assert all(str(p).startswith(".local/state/safeshare") for p in left), left


def test_launch_agent_plist_and_launchctl_commands(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOs()
    monkeypatch.setattr(service_plan, "run", fake)
    config = Config(home / "safe", (WatchConfig(home / "Desktop"), WatchConfig(home / "Pictures")))
    agent = LaunchAgent(config, uid=501)
    out = io.StringIO()
    agent.install(False, out)
    plist = plistlib.loads(agent.plist.read_bytes())
    assert agent.plist == home / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    assert plist["Label"] == LABEL and plist["ProgramArguments"] == daemon_command()
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    for key in ("StandardOutPath", "StandardErrorPath"):
        assert (
            Path(plist[key]).is_absolute()
            and Path(plist[key]).parent == home / "Library" / "Logs" / "safeshare"
        )
    assert fake.calls == [
        ["launchctl", "bootout", f"gui/501/{LABEL}"],
        ["launchctl", "bootstrap", "gui/501", str(agent.plist)],
    ]
    assert f"{home / 'Desktop'} is a protected folder" in out.getvalue()
    assert f"{home / 'Pictures'} is a protected folder" in out.getvalue()
    assert "safe is a protected" not in out.getvalue()
    fake.calls.clear()
    agent.uninstall(False, io.StringIO())
    assert fake.calls == [["launchctl", "bootout", f"gui/501/{LABEL}"]]
    assert not any(p.is_file() for p in home.rglob("*"))


def test_windows_task_xml_and_schtasks_commands(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOs()
    monkeypatch.setattr(service_plan, "run", fake)
    task = WindowsTask(user="PC\\Jane O'Neil & Co")
    task.install(False, io.StringIO())
    raw = task.xml_path.read_bytes()
    assert raw.startswith(b"\xff\xfe")  # UTF-16 with BOM, as schtasks wants
    root = ET.fromstring(raw.decode("utf-16").split("?>", 1)[1])
    trigger = root.find("t:Triggers/t:LogonTrigger", TASK_NS)
    assert trigger is not None and trigger.findtext("t:UserId", namespaces=TASK_NS) == "PC\\Jane O'Neil & Co"
    assert (
        root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS) == daemon_command(windowless=True)[0]
    )
    assert root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS) == "-m safeshare run"
    assert root.findtext("t:Settings/t:RestartOnFailure/t:Count", namespaces=TASK_NS) == "999"
    assert fake.calls == [
        ["schtasks", "/Create", "/TN", "safeshare", "/XML", str(task.xml_path), "/F"],
        ["schtasks", "/Run", "/TN", "safeshare"],
    ]
    fake.calls.clear()
    task.uninstall(False, io.StringIO())
    assert fake.calls[1] == ["schtasks", "/Delete", "/TN", "safeshare", "/F"] and not task.xml_path.exists()


def test_windows_falls_back_to_the_run_key(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeOs(fail=("schtasks",))
    started: list[list[str]] = []
    monkeypatch.setattr(service_plan, "run", fake)
    monkeypatch.setattr(service_plan, "_start_detached", started.append)
    out = io.StringIO()
    WindowsTask(user="PC\\jane").install(False, out)
    command = subprocess.list2cmdline(daemon_command(windowless=True))
    assert fake.calls[-1] == [
        "reg",
        "add",
        service_mod.RUN_KEY,
        "/v",
        "safeshare",
        "/t",
        "REG_SZ",
        "/d",
        command,
        "/f",
    ]
    assert started == [daemon_command(windowless=True)] and "HKCU Run key" in out.getvalue()


def test_dry_run_prints_and_touches_nothing(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(service_plan, "run", lambda *a, **k: calls.append(a))
    out = io.StringIO()
    plan = SystemdUser().install_plan()
    carry_out(plan, True, out)
    assert calls == [] and not any(home.rglob("*.service"))
    assert (
        "would write" in out.getvalue()
        and "would run: systemctl --user enable safeshare.service" in out.getvalue()
    )
    assert all(isinstance(s, Run) or s.__class__.__name__ == "Write" for s in plan.steps)


def test_desktop_and_systemd_quoting_of_odd_paths() -> None:
    args = ["/opt/My Apps/py 3/python", "-m", "safeshare", "run"]
    assert service_plan.systemd_quote(args) == '"/opt/My Apps/py 3/python" -m safeshare run'
    assert service_plan.desktop_quote(["/a/$HOME/b", "x%y"]) == '"/a/\\$HOME/b" x%%y'


def test_autostart_chosen_without_a_systemd_user_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_mod, "systemd_user_available", lambda: False)
    assert isinstance(service_mod.choose_backend(platform="linux"), XdgAutostart)
    monkeypatch.setattr(service_mod, "systemd_user_available", lambda: True)
    assert isinstance(service_mod.choose_backend(platform="linux"), SystemdUser)
    assert isinstance(service_mod.choose_backend(platform="darwin"), LaunchAgent)
    assert isinstance(service_mod.choose_backend(platform="win32"), WindowsTask)
