"""Login service: templates from the installed wheel, files the OS tools accept, exact
commands for launchctl and schtasks, and install/uninstall round trips that leave nothing."""

from __future__ import annotations

import io
import os
import plistlib
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from safeshare import service as service_mod
from safeshare import service_escape, service_plan
from safeshare.config import Config, WatchConfig
from safeshare.service import LABEL, LaunchAgent, SystemdUser, WindowsTask, XdgAutostart
from safeshare.service_plan import Plan, Run, ServiceError, carry_out, daemon_command
from tests.conftest import run_cli
from tests.daemon_harness import wait_until
from tests.helpers import ROOT, bare_venv

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
    python, site = bare_venv(venv)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    # Dependencies come from the test environment, but not safeshare itself (its editable
    # finder is a .pth hook that a path added this way does not run).
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
    command = '"{}" -m safeshare run'.format(*daemon_command(windowless=True))
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


def test_plain_paths_stay_plain_and_spaces_are_quoted() -> None:
    args = ["/opt/My Apps/py 3/python", "-m", "safeshare", "run"]
    assert service_escape.systemd_exec(args) == '"/opt/My Apps/py 3/python" -m safeshare run'
    assert service_escape.systemd_exec(["/usr/bin/python3", "-m", "x"]) == "/usr/bin/python3 -m x"
    # The spec's own example: a literal `$` in a quoted argument is written `\\$` in the file.
    assert service_escape.desktop_exec(["/a/$HOME/b", "x%y"]) == '"/a/\\\\$HOME/b" x%%y'


def test_autostart_chosen_without_a_systemd_user_manager(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_mod, "systemd_user_available", lambda: False)
    assert isinstance(service_mod.choose_backend(platform="linux"), XdgAutostart)
    monkeypatch.setattr(service_mod, "systemd_user_available", lambda: True)
    assert isinstance(service_mod.choose_backend(platform="linux"), SystemdUser)
    assert isinstance(service_mod.choose_backend(platform="darwin"), LaunchAgent)
    assert isinstance(service_mod.choose_backend(platform="win32"), WindowsTask)


# Paths that break files written without each format's own escaping. Every character here
# is legal in a Linux file name; each format either holds it or refuses it.
EVERYTHING = "sp ace\nline $HOME $$ ${X} %h %% \"dq\" 'sq' \\bs `tick` <&> ; # ~ é 写"
SYSTEMD_CAN_RUN = "sp ace $HOME $$ ${X} %h %% `tick` <&> ; # ~ é 写"  # no quotes, \\, controls
WINDOWS_CAN_RUN = "sp ace $HOME 100% 'sq' \\bs `tick` <&> ; # ~ é 写"  # no ", newline, %X%
DESKTOP_CAN_RUN = EVERYTHING.replace("%h %% ", "")  # GLib looks the program up before %% is %


@pytest.fixture()
def odd_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / f"home {EVERYTHING}"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    return home


def odd_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    """A real interpreter (a symlink to this one) in a folder named `name`, and the daemon
    command pointing at it, as when safeshare is installed in a venv at such a path."""
    folder = tmp_path / f"py {name}"
    folder.mkdir()
    python = folder / "python"
    python.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(python))
    assert daemon_command() == [str(python), "-m", "safeshare", "run"]
    return python


_C_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "s": " "}


def systemd_command(value: str) -> tuple[str, list[str]]:
    """The program path and argv systemd makes of an ExecStart= value, by systemd.service(5)
    and systemd.syntax(7): words split at unquoted whitespace, quotes removed, C escapes
    undone; then %-specifiers per word; then the prefixes; then, without ":", `$$` and
    `${NAME}` in argv (not in the path) from the environment, here an empty one."""
    words: list[str] = []
    i = 0
    while i < len(value):
        if value[i] in " \t":
            i += 1
            continue
        word, quote = "", ""
        while i < len(value) and (quote or value[i] not in " \t"):
            c, i = value[i], i + 1
            if c == "\\":
                c, i = value[i], i + 1
                if c in "xuU":
                    digits = {"x": 2, "u": 4, "U": 8}[c]
                    word, i = word + chr(int(value[i : i + digits], 16)), i + digits
                elif c in "01234567":
                    word, i = word + chr(int(value[i - 1 : i + 2], 8)), i + 2
                else:
                    word += _C_ESCAPES.get(c, c if c in "\\\"'" else "\\<bad escape>")
            elif c == quote:
                quote = ""
            elif not quote and c in "\"'":
                quote = c
            else:
                word += c
        assert not quote, f"unterminated quote in {value!r}"
        words.append(re.sub("%(.)", lambda m: "%" if m[1] == "%" else f"<specifier %{m[1]}>", word))
    prefixes = re.match("[-@:+!]*", words[0])
    assert prefixes is not None and prefixes[0] in ("", ":")
    path = words[0] = words[0][len(prefixes[0]) :]
    if prefixes[0] != ":":
        assert not any(w.startswith("$") and w[1:2] not in ("{", "$") for w in words), "$NAME word"
        words = [re.sub(r"\$(\$|\{[^}]*\})", lambda m: "$" if m[1] == "$" else "", w) for w in words]
    return path, words


_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def _exec_unescape(match: re.Match[str]) -> str:
    assert match[1] in '"`$\\', f"{match[0]!r} is not an escape of the Exec quoting"
    return match[1]


def desktop_exec_argv(value: str) -> list[str]:
    """The argv of an Exec= value by the Desktop Entry Specification: the string escapes
    first, then the Exec quoting (reserved characters only inside "..." quoting a whole
    argument; `\\"`, `` \\` ``, `\\$`, `\\\\` inside), then the field codes (`%%` only)."""
    unescaped = re.sub(
        r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m[1]], value
    )
    argv: list[str] = []
    for match in re.finditer(r'"((?:[^"\\]|\\.)*)"(?= |$)|([^ "]+)(?= |$)| +|(.)', unescaped, re.DOTALL):
        quoted, plain, stray = match.groups()
        assert stray is None, f"a quote not around a whole argument in {unescaped!r}"
        if quoted is not None:
            argv.append(re.sub(r"\\(.)", _exec_unescape, quoted, flags=re.DOTALL))
        elif plain is not None:
            assert not _DESKTOP_RESERVED & set(plain), f"unquoted reserved character in {plain!r}"
            argv.append(plain)
    return [re.sub("%(.?)", lambda m: "%" if m[1] == "%" else f"<field code %{m[1]}>", a) for a in argv]


def windows_argv(line: str) -> list[str]:
    """CommandLineToArgvW: argv[0] up to the next quote (or blank), no escapes; after it,
    2n backslashes and a quote give n backslashes and toggle quoting, 2n+1 give n and a
    literal quote, backslashes before anything else are literal."""
    if line.startswith('"'):
        end = line.index('"', 1)
        argv, i = [line[1:end]], end + 1
    else:
        end = len(re.split("[ \t]", line, maxsplit=1)[0])
        argv, i = [line[:end]], end
    while True:
        while i < len(line) and line[i] in " \t":
            i += 1
        if i >= len(line):
            return argv
        arg, quoted = "", False
        while i < len(line) and (quoted or line[i] not in " \t"):
            slashes = len(line[i:]) - len(line[i:].lstrip("\\"))
            if slashes and line[i + slashes : i + slashes + 1] == '"':
                arg += "\\" * (slashes // 2) + '"' * (slashes % 2)
                i += slashes + slashes % 2
            elif slashes:
                arg, i = arg + "\\" * slashes, i + slashes
            elif line[i] == '"':
                quoted, i = not quoted, i + 1
            else:
                arg, i = arg + line[i], i + 1
        argv.append(arg)


def test_systemd_unit_for_odd_paths_verifies_and_gives_back_the_argv(
    tmp_path: Path, odd_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed (Debian: apt-get install systemd)")
    python = odd_python(tmp_path, monkeypatch, SYSTEMD_CAN_RUN)
    backend = SystemdUser()
    carry_out(Plan([backend.install_plan().steps[0]]), False, io.StringIO())  # the unit, as written
    assert backend.unit.is_relative_to(odd_home)
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--user", str(backend.unit)],
        capture_output=True,
        text=True,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    # verify also checks that the program it would run exists and is executable
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = backend.unit.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(service_plan.template("systemd/safeshare.service", exec_start="x").splitlines())
    (exec_start,) = (line.removeprefix("ExecStart=") for line in lines if line.startswith("ExecStart="))
    assert systemd_command(exec_start) == (str(python), [str(python), "-m", "safeshare", "run"])


def test_desktop_entry_for_odd_paths_validates_and_gives_back_the_argv(
    tmp_path: Path, odd_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if shutil.which("desktop-file-validate") is None:
        pytest.skip("desktop-file-validate is not installed (Debian: apt-get install desktop-file-utils)")
    python = odd_python(tmp_path, monkeypatch, DESKTOP_CAN_RUN + "\t\r")
    entry = XdgAutostart()
    carry_out(Plan([entry.install_plan().steps[0]]), False, io.StringIO())
    assert entry.path.is_relative_to(odd_home)
    proc = subprocess.run(["desktop-file-validate", str(entry.path)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    lines = entry.path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(service_plan.template("xdg/safeshare.desktop", exec_line="x").splitlines())
    (exec_line,) = (line.removeprefix("Exec=") for line in lines if line.startswith("Exec="))
    assert desktop_exec_argv(exec_line) == [str(python), "-m", "safeshare", "run"]


def test_launch_agent_plist_for_odd_paths_gives_back_the_argv_and_log_paths(
    tmp_path: Path, odd_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = odd_python(tmp_path, monkeypatch, EVERYTHING + "\t\r\n]]>")
    plist = plistlib.loads(LaunchAgent(uid=501).render().encode())
    assert plist["ProgramArguments"] == [str(python), "-m", "safeshare", "run"]
    logs = odd_home / "Library" / "Logs" / "safeshare"
    assert (plist["StandardOutPath"], plist["StandardErrorPath"]) == (
        str(logs / "stdout.log"),
        str(logs / "stderr.log"),
    )


def test_windows_task_and_run_key_for_odd_paths_give_back_the_argv(
    tmp_path: Path, odd_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = odd_python(tmp_path, monkeypatch, WINDOWS_CAN_RUN)
    argv = [str(python), "-m", "safeshare", "run"]
    user = 'PC\\Jane "J" O\'Neil & <Co> 100% é'
    root = ET.fromstring(WindowsTask(user=user).render().decode("utf-16").split("?>", 1)[1])
    assert root.findtext("t:Triggers/t:LogonTrigger/t:UserId", namespaces=TASK_NS) == user
    command = root.findtext("t:Actions/t:Exec/t:Command", namespaces=TASK_NS)
    arguments = root.findtext("t:Actions/t:Exec/t:Arguments", namespaces=TASK_NS)
    assert command == str(python) and windows_argv(f'"{command}" {arguments}') == argv
    fake = FakeOs(fail=("schtasks",))
    monkeypatch.setattr(service_plan, "run", fake)
    monkeypatch.setattr(service_plan, "_start_detached", lambda argv: None)
    WindowsTask(user=user).install(False, io.StringIO())
    (run_key,) = [call[call.index("/d") + 1] for call in fake.calls if call[0] == "reg"]
    assert windows_argv(run_key) == argv


def test_a_desktop_entry_refuses_a_program_path_with_percent() -> None:
    with pytest.raises(ServiceError) as refused:
        service_escape.desktop_exec(["/opt/100%/python3", "-m", "safeshare", "run"])
    assert "\n" not in str(refused.value) and "contains '%'" in str(refused.value)
    assert (
        service_escape.desktop_exec(["/usr/bin/python3", "100%"]) == "/usr/bin/python3 100%%"
    )  # arguments may


def test_escaping_holds_any_arguments_not_only_the_interpreter() -> None:
    odd = ["", " ", '"', "'", "\\", 'a\\"b', "end\\", "%%", "$$", "${X}", "$X", ";", "\n\t\r", "é写"]
    systemd = service_escape.systemd_exec(["/usr/bin/python3", *odd])
    assert "\n" not in systemd and systemd_command(systemd) == (
        "/usr/bin/python3",
        ["/usr/bin/python3", *odd],
    )
    desktop = service_escape.desktop_exec(["/usr/bin/python3", *odd])
    assert "\n" not in desktop and desktop_exec_argv(desktop) == ["/usr/bin/python3", *odd]
    windows = [a for a in odd if "\n" not in a and "%" not in a]
    line = service_escape.windows_command_line(["C:\\Program Files\\Py\\python.exe", *windows])
    assert windows_argv(line) == ["C:\\Program Files\\Py\\python.exe", *windows]


SYSTEMD_NO = "which systemd refuses in a program path"
REFUSED = [  # the format, a character in the interpreter's folder, the reason given
    ("systemd", '"', f"contains '\"', {SYSTEMD_NO}"),
    ("systemd", "'", f'contains "\'", {SYSTEMD_NO}'),
    ("systemd", "\\", f"contains '\\\\', {SYSTEMD_NO}"),
    ("systemd", "\n", f"contains a newline, {SYSTEMD_NO}"),
    ("systemd", "\t", f"contains a tab, {SYSTEMD_NO}"),
    ("systemd", "caf\udce9", "is not valid UTF-8"),
    ("desktop", "\x01", "contains U+0001, which a desktop entry cannot hold"),
    ("desktop", "\x7f", "contains U+007F, which a desktop entry cannot hold"),
    ("desktop", "caf\udce9", "is not valid UTF-8"),
    ("plist", "\x1b", "contains U+001B, which XML cannot hold"),
    ("plist", "caf\udce9", "contains U+DCE9, which XML cannot hold"),
    ("windows", "\n", "contains a newline, which a Windows path cannot hold"),
    ("windows", '"', "contains '\"', which a Windows path cannot hold"),
    ("windows", "%TEMP%", "contains '%' twice, which Task Scheduler expands as %NAME%"),
    ("windows", "\x01", "contains U+0001, which a Windows path cannot hold"),
]


@pytest.mark.parametrize(("form", "char", "reason"), REFUSED, ids=[f"{f}-{c!r}" for f, c, _ in REFUSED])
def test_a_path_a_format_cannot_hold_is_refused_in_one_clear_line(
    form: str, char: str, reason: str, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = tmp_path / f"py {char} env" / "python"
    monkeypatch.setattr(sys, "executable", str(python))
    fake = FakeOs(fail=("schtasks",))
    monkeypatch.setattr(service_plan, "run", fake)
    backend = {"systemd": SystemdUser, "desktop": XdgAutostart, "plist": LaunchAgent, "windows": WindowsTask}
    with pytest.raises(ServiceError) as refused:
        backend[form]().install(True, io.StringIO())  # even a dry run says it cannot
    message = str(refused.value)
    assert "\n" not in message and f"the interpreter path {str(python)!r} {reason}" in message, message
    assert fake.calls == [] and not any(p.is_file() for p in home.rglob("*"))  # no Run key either
