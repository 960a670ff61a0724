"""File-manager entries ("Clean a copy with safeshare"): every file is generated from the
templates in service/, parsed by the rules of its format, installed into and removed from
a temporary HOME; the shell-run ones are run for real, the Nautilus script on real photos."""

from __future__ import annotations

import configparser
import io
import json
import os
import plistlib
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from safeshare import service_plan
from safeshare.icon import icon_path
from safeshare.integrate import (
    MARKER,
    LinuxFileManagers,
    MacQuickAction,
    WindowsSendTo,
    choose_integration,
)
from safeshare.service_plan import ServiceError, clean_command, daemon_command
from tests.daemon_harness import wait_until
from tests.dbus_session import notification_server
from tests.helpers import CORPUS, ROOT
from tests.test_service import FakeOs, desktop_exec_argv, windows_argv

# Legal in a Linux file name, and each a way to break a command written without quoting.
HOSTILE = "sp ace 'sq' \"dq\" $HOME $(id) `tick` \\bs ; # & | < > ~ * ? é 写"
# A '%' in the interpreter's own path is refused for the Linux entries (GLib looks the program
# up before reading %% as %): tested on its own below.
PERCENT = "100% %F %% %h"
WINDOWS_HOSTILE = "sp ace 'sq' ‘curly’ $HOME `tick` 100% & ; é 写"  # no ", no %X%, no controls


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("APPDATA", str(home / "AppData" / "Roaming"))
    return home


def linux(tmp_path: Path) -> LinuxFileManagers:
    """The Linux entries, with Thunar's system-wide defaults at a path the test controls."""
    return LinuxFileManagers(system_uca=tmp_path / "etc-xdg-Thunar-uca.xml")


def keyfile(path: Path) -> configparser.RawConfigParser:
    """A desktop entry / Nemo action read as a key file: groups, case-sensitive keys."""
    parser = configparser.RawConfigParser(strict=True, delimiters=("=",), comment_prefixes=("#",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser


def test_linux_round_trip_writes_parsable_entries_and_removes_them(home: Path, tmp_path: Path) -> None:
    entries = linux(tmp_path)
    out = io.StringIO()
    entries.install(False, out)
    data = home / ".local" / "share"
    assert entries.nautilus == data / "nautilus" / "scripts" / "Clean a copy with safeshare"
    assert entries.dolphin == data / "kio" / "servicemenus" / "safeshare-clean.desktop"
    assert entries.uca == home / ".config" / "Thunar" / "uca.xml"
    for executable in (entries.nautilus, entries.dolphin):
        assert stat.S_IMODE(executable.stat().st_mode) == 0o755
    assert entries.nautilus.read_text().startswith("#!/bin/sh\n")

    nemo = keyfile(entries.nemo)["Nemo Action"]
    assert nemo["Name"] == "Clean a copy with safeshare" and nemo["Selection"] == "notnone"
    assert nemo["Quote"] == "double" and nemo["Exec"].endswith(" %F") and "image/jpeg;" in nemo["Mimetypes"]
    assert nemo["Icon-Name"] == str(icon_path()) and nemo["Comment"]
    dolphin = keyfile(entries.dolphin)
    assert dolphin["Desktop Entry"]["Type"] == "Service"
    assert dolphin["Desktop Entry"]["X-KDE-ServiceTypes"] == "KonqPopupMenu/Plugin"
    (action,) = dolphin["Desktop Entry"]["Actions"].rstrip(";").split(";")
    assert dolphin[f"Desktop Action {action}"]["Exec"].endswith(" %F")
    app = keyfile(entries.application)["Desktop Entry"]
    assert (app["Type"], app["Name"], app["NoDisplay"], app["Terminal"]) == (
        "Application",
        "Clean a copy with safeshare",
        "true",
        "false",
    )
    assert "image/heic;" in app["MimeType"] and app["Exec"].endswith(" %F")
    (ours,) = ET.parse(entries.uca).getroot().findall("action")
    assert ours.findtext("unique-id") == "safeshare-clean-copy" and ours.find("image-files") is not None
    assert ours.findtext("patterns") == "*" and ours.findtext("command", "").endswith(" %F")
    assert ours.findtext("icon") == str(icon_path()) and ours.findtext("description")
    assert sorted(entries.installed()) == sorted([*entries.files, entries.uca])
    assert all(MARKER in p.read_bytes() for p in entries.files)

    entries.install(False, io.StringIO())  # again: the same files, still one Thunar action
    assert len(ET.parse(entries.uca).getroot().findall("action")) == 1
    entries.uninstall(False, io.StringIO())
    assert entries.installed() == []
    assert not any(p.exists() for p in entries.files)
    # uca.xml was made by install (no user file): gone again, so Thunar reads its defaults
    assert not entries.uca.exists()


def test_desktop_entries_pass_desktop_file_validate(home: Path, tmp_path: Path) -> None:
    validate = shutil.which("desktop-file-validate")
    if validate is None:
        print("skipped: desktop-file-validate is not installed (Debian: desktop-file-utils)")
        pytest.skip("desktop-file-validate is not installed (Debian: apt-get install desktop-file-utils)")
    entries = linux(tmp_path)
    entries.install(False, io.StringIO())
    proc = subprocess.run([validate, str(entries.application)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    # A KDE service menu is Type=Service with MimeType and Actions, as KIO reads it; the
    # freedesktop validator allows those two keys only for applications, and nothing else.
    proc = subprocess.run([validate, str(entries.dolphin)], capture_output=True, text=True)
    problems = [line.split(": ", 1)[1] for line in (proc.stdout + proc.stderr).splitlines()]
    kde_only = 'but the type is "Service" while this key is only valid for type "Application"'
    assert sorted(problems) == [
        f'error: key "Actions" is present in group "Desktop Entry", {kde_only}',
        f'error: key "MimeType" is present in group "Desktop Entry", {kde_only}',
    ]


USER_UCA = """<?xml version="1.0" encoding="UTF-8"?>
<actions>
<!-- my own actions -->
<action>
\t<icon>utilities-terminal</icon>
\t<name>Open Terminal Here</name>
\t<unique-id>1521317528494802-1</unique-id>
\t<command>exo-open --launch TerminalEmulator %d &amp;&amp; true</command>
\t<description>Example for a custom action</description>
\t<patterns>*</patterns>
\t<startup-notify/>
\t<directories/>
</action>
</actions>
"""


def _actions(path: Path) -> list[str]:
    return [a.findtext("unique-id", "") for a in ET.parse(path).getroot().findall("action")]


def test_thunar_keeps_the_users_own_actions_through_install_and_uninstall(home: Path, tmp_path: Path) -> None:
    entries = linux(tmp_path)
    entries.uca.parent.mkdir(parents=True)
    entries.uca.write_text(USER_UCA)
    before = ET.tostring(ET.fromstring(USER_UCA.split("?>", 1)[1])[0])
    entries.install(False, io.StringIO())
    entries.install(False, io.StringIO())
    assert _actions(entries.uca) == ["1521317528494802-1", "safeshare-clean-copy"]
    entries.uninstall(False, io.StringIO())
    assert _actions(entries.uca) == ["1521317528494802-1"]
    text = entries.uca.read_text()
    assert "<!-- my own actions -->" in text  # comments are kept
    assert ET.tostring(ET.parse(entries.uca).getroot()[0]) == before  # unchanged, to the byte
    out = io.StringIO()
    entries.uninstall(False, out)  # nothing of ours left: the file is not rewritten
    assert "holds no action of safeshare's" in out.getvalue() and entries.uca.read_text() == text


def test_thunar_starts_from_the_system_actions_without_a_user_file(home: Path, tmp_path: Path) -> None:
    entries = linux(tmp_path)
    entries.system_uca.write_text(USER_UCA)
    entries.install(False, io.StringIO())
    assert _actions(entries.uca) == ["1521317528494802-1", "safeshare-clean-copy"]  # defaults stay visible
    assert entries.system_uca.read_text() == USER_UCA


def test_a_uca_xml_that_cannot_be_parsed_is_refused_and_kept(home: Path, tmp_path: Path) -> None:
    """Install refuses before writing anything; uninstall removes every other entry and says
    that this one was left (a broken uca.xml must not keep dead menu entries around)."""
    entries = linux(tmp_path)
    entries.install(False, io.StringIO())
    entries.uca.write_text("<actions><action><name>half")
    for path in entries.files:
        path.unlink()
    with pytest.raises(ServiceError) as refused:
        entries.install(False, io.StringIO())
    message = str(refused.value)
    assert "\n" not in message and str(entries.uca) in message and "not valid XML" in message
    assert not entries.nautilus.exists()  # refused before anything was written
    for path in entries.files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"# installed by safeshare\n")
    said = io.StringIO()
    entries.uninstall(False, said)
    assert not any(p.exists() for p in entries.files)
    (note,) = [line for line in said.getvalue().splitlines() if "uca.xml" in line]
    assert note.startswith("note: cannot change") and "not valid XML" in note and "left there" in note
    assert entries.uca.read_text() == "<actions><action><name>half"


def test_a_file_safeshare_did_not_write_is_never_replaced_or_removed(home: Path, tmp_path: Path) -> None:
    entries = linux(tmp_path)
    entries.nemo.parent.mkdir(parents=True)
    entries.nemo.write_text("[Nemo Action]\nName=My own\nExec=true %F\n")
    with pytest.raises(ServiceError) as refused:
        entries.install(False, io.StringIO())
    assert "\n" not in str(refused.value) and str(entries.nemo) in str(refused.value)
    assert not entries.nautilus.exists() and not entries.uca.exists()
    entries.nemo.rename(entries.nemo.with_suffix(".mine"))
    entries.install(False, io.StringIO())
    entries.application.write_text("[Desktop Entry]\nType=Application\nName=Mine\nExec=true\n")
    out = io.StringIO()
    entries.uninstall(False, out)
    assert f"left {entries.application} alone: safeshare did not write it" in out.getvalue()
    assert entries.application.read_text().endswith("Name=Mine\nExec=true\n")
    assert not entries.nautilus.exists() and not entries.nemo.exists()


def test_dry_run_prints_and_writes_nothing(home: Path, tmp_path: Path) -> None:
    entries = linux(tmp_path)
    entries.uca.parent.mkdir(parents=True)
    entries.uca.write_text(USER_UCA)
    out = io.StringIO()
    entries.install(True, out)
    printed = out.getvalue()
    assert f"would write {entries.nautilus} (mode 755):" in printed
    assert f"would write {entries.uca}:" in printed and "safeshare-clean-copy" in printed
    assert sorted(p for p in home.rglob("*") if p.is_file()) == [entries.uca]
    assert entries.uca.read_text() == USER_UCA


def test_choose_integration_by_platform() -> None:
    assert isinstance(choose_integration("linux"), LinuxFileManagers)
    assert isinstance(choose_integration("freebsd14"), LinuxFileManagers)
    assert isinstance(choose_integration("darwin"), MacQuickAction)
    assert isinstance(choose_integration("win32"), WindowsSendTo)
    assert daemon_command()[1:] == ["-m", "safeshare", "run"]  # unchanged by clean_command
    assert clean_command() == [daemon_command()[0], "-m", "safeshare", "clean", "--notify"]


def test_icon_and_templates_ship_in_the_package() -> None:
    icon = ET.parse(icon_path()).getroot()
    assert icon.tag == "{http://www.w3.org/2000/svg}svg" and icon.get("viewBox") == "0 0 64 64"
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    shipped = patterns["safeshare.templates"]
    for folder in ("filemanager", "icons"):
        for file in (ROOT / "service" / folder).iterdir():
            assert any(Path(folder, file.name).match(p) for p in shipped), file


# --- the argv each format gives back, for an interpreter path that breaks naive quoting ---


def odd_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    folder = tmp_path / f"py {name}"
    folder.mkdir()
    python = folder / "python"
    python.symlink_to(sys.executable)
    monkeypatch.setattr(sys, "executable", str(python))
    return python


def fake_safeshare(tmp_path: Path) -> dict[str, str]:
    """A `safeshare` package first on PYTHONPATH that prints the argv it was run with."""
    package = tmp_path / "fake" / "safeshare"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(
        "import json, sys\nprint(json.dumps([sys.executable, '-m', 'safeshare', *sys.argv[1:]]))\n"
    )
    return {**os.environ, "PYTHONPATH": str(package.parent), "PYTHONSAFEPATH": "1"}


def _ran(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    argv: list[str] = json.loads(proc.stdout)
    return argv


def _keyfile_unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}[m[1]], value)


NEMO_TOKENS = ("%F", "%U", "%P", "%R", "%f", "%p", "%N", "%D", "%e", "%%", "%X")


def nemo_expand(exec_line: str, files: list[str]) -> str:
    """Nemo's expand_action_string: from the first `%` after the last insertion, a known
    token is replaced (the files double-quoted with `\\ " $ ``` backslashed, by Quote=double)
    and an unknown one stops all expansion."""
    quoted = " ".join('"' + re.sub(r'([\\"$`])', r"\\\1", f) + '"' for f in files)
    done, rest = "", exec_line
    while "%" in rest:
        before, _, after = rest.partition("%")
        token = "%" + after[:1]
        if token not in NEMO_TOKENS:
            break
        assert token in ("%F", "%%"), f"unexpected Nemo token {token}"
        done, rest = done + before + (quoted if token == "%F" else "%"), after[1:]
    return done + rest


def g_shell_argv(line: str) -> list[str]:
    """g_shell_parse_argv: words split at unquoted blanks and newlines; `\\` outside quotes
    takes the next character; '...' literal; "..." with `\\` before $ ` " \\ or a newline
    only; `#` at the start of a word comments out the rest of the line."""
    words: list[str] = []
    i = 0
    while i < len(line):
        if line[i] in " \t\n":
            i += 1
            continue
        if line[i] == "#":
            end = line.find("\n", i)
            i = len(line) if end < 0 else end
            continue
        word = ""
        while i < len(line) and line[i] not in " \t\n":
            c = line[i]
            if c == "\\":
                word, i = word + line[i + 1 : i + 2].replace("\n", ""), i + 2
            elif c == "'":
                end = line.index("'", i + 1)
                word, i = word + line[i + 1 : end], end + 1
            elif c == '"':
                i += 1
                while line[i] != '"':
                    if line[i] == "\\" and line[i + 1] in '$`"\\\n':
                        word, i = word + line[i + 1].replace("\n", ""), i + 2
                    else:
                        word, i = word + line[i], i + 1
                i += 1
            else:
                word, i = word + c, i + 1
        words.append(word)
    return words


def thunar_expand(command: str, files: list[str]) -> str:
    """thunar_uca_model_parse_argv: `%F` the files, each g_shell_quote'd; `%%` a `%`."""
    return re.sub("%(.)", lambda m: " ".join(map(shlex.quote, files)) if m[1] == "F" else m[1], command)


def test_hostile_interpreter_path_gives_back_the_exact_argv_in_every_format(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = odd_python(tmp_path, monkeypatch, HOSTILE)
    env = fake_safeshare(tmp_path)
    photo = tmp_path / "my 'photo' $1 %F.jpg"
    expected = [str(python), "-m", "safeshare", "clean", "--notify"]
    entries = linux(tmp_path)
    entries.install(False, io.StringIO())
    # Nautilus: the script itself, by the shell, with the file as its argument.
    script = [str(entries.nautilus), str(photo)]
    assert _ran(subprocess.run(script, capture_output=True, text=True, env=env)) == [
        *expected,
        "--",
        str(photo),
    ]
    # Thunar: the command from uca.xml, expanded as Thunar does, run by /bin/sh -c.
    command = ET.parse(entries.uca).getroot().findtext("action/command", "")
    sh = ["/bin/sh", "-c", thunar_expand(command, [str(photo)])]
    assert _ran(subprocess.run(sh, capture_output=True, text=True, env=env)) == [*expected, str(photo)]
    # Nemo: key-file string, Nemo's tokens, then g_shell_parse_argv (POSIX shell quoting).
    nemo = _keyfile_unescape(keyfile(entries.nemo)["Nemo Action"]["Exec"])
    assert g_shell_argv(nemo_expand(nemo, [str(photo)])) == [*expected, str(photo)]
    # Dolphin and Open With: the Desktop Entry Specification's Exec rules.
    for path, group in ((entries.dolphin, "Desktop Action safeshareCleanCopy"), (entries.application, "")):
        value = keyfile(path)[group or "Desktop Entry"]["Exec"]
        assert desktop_exec_argv(value) == [*expected, "<field code %F>"]
    # macOS: the Quick Action's shell script, given the files as arguments (inputMethod 1).
    quick = MacQuickAction().shell_script()
    sh = ["/bin/sh", "-c", quick, "sh", str(photo)]
    assert _ran(subprocess.run(sh, capture_output=True, text=True, env=env)) == [*expected, "--", str(photo)]


def test_a_percent_in_the_interpreter_path_is_refused_in_one_line(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    odd_python(tmp_path, monkeypatch, PERCENT)
    entries = linux(tmp_path)
    with pytest.raises(ServiceError) as refused:
        entries.install(False, io.StringIO())
    assert "\n" not in str(refused.value) and "contains '%'" in str(refused.value)
    assert not any(p.exists() for p in [*entries.files, entries.uca])  # nothing written


def powershell_single_quoted(script: str) -> dict[str, str]:
    """`$shortcut.Name = '...'` assignments, each string undone by PowerShell's rules: no
    expansion inside '...', a doubled quote (any of ' ‘ ’ ‚ ‛) is one."""
    quote = "['\u2018\u2019\u201a\u201b]"
    strings = rf"{quote}((?:[^'\u2018\u2019\u201a\u201b]|{quote}{quote})*){quote}"
    found = {m[1]: m[2] for m in re.finditer(rf"\$shortcut\.(\w+) = {strings}", script)}
    path = re.search(rf"CreateShortcut\({strings}\)", script)
    assert path is not None
    found["path"] = path[1]
    return {k: re.sub(f"({quote}){quote}", r"\1", v) for k, v in found.items()}


def test_windows_send_to_shortcut_script_and_argv(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    python = odd_python(tmp_path, monkeypatch, WINDOWS_HOSTILE)
    fake = FakeOs()
    monkeypatch.setattr(service_plan, "run", fake)
    send_to = WindowsSendTo()
    send_to.install(False, io.StringIO())
    link = (
        home / "AppData" / "Roaming" / "Microsoft" / "Windows" / "SendTo" / "Clean a copy with safeshare.lnk"
    )
    assert send_to.link == link
    (call,) = fake.calls
    assert call[:4] == ["powershell.exe", "-NoProfile", "-NonInteractive", "-Command"] and len(call) == 5
    script = call[4]
    assert script.startswith("$shortcut = (New-Object -ComObject WScript.Shell).CreateShortcut(")
    assert script.endswith("; $shortcut.Save()")
    fields = powershell_single_quoted(script)
    assert fields["path"] == str(link) and fields["TargetPath"] == str(python)  # no pythonw.exe beside it
    assert fields["Arguments"] == "-m safeshare clean --notify"
    assert fields["Description"] == "Clean a copy with safeshare (installed by safeshare)"
    # Explorer starts TargetPath with Arguments and then the files it was sent.
    line = f'"{fields["TargetPath"]}" {fields["Arguments"]} "C:\\Users\\me\\a photo.jpg"'
    assert windows_argv(line) == [*clean_command(), "C:\\Users\\me\\a photo.jpg"]
    assert send_to.installed() == []  # PowerShell was mocked: no shortcut exists
    link.parent.mkdir(parents=True)
    link.write_bytes(b"L\0\0\0")  # a shortcut of the user's, by the same name
    said = io.StringIO()
    send_to.uninstall(False, said)
    assert link.exists() and "left" in said.getvalue() and "safeshare did not write it" in said.getvalue()
    with pytest.raises(ServiceError, match="is not safeshare's"):
        send_to.install(False, io.StringIO())
    # as PowerShell makes it: the Description, UTF-16 in the .lnk, says whose it is
    link.write_bytes(b"L\0\0\0" + "Clean a copy with safeshare (installed by safeshare)".encode("utf-16-le"))
    assert send_to.installed() == [link]
    send_to.uninstall(False, io.StringIO())
    assert not link.exists() and len(fake.calls) == 1


def test_windows_prefers_pythonw_beside_python(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "Python313"
    folder.mkdir()
    (folder / "python.exe").write_bytes(b"")
    (folder / "pythonw.exe").write_bytes(b"")
    monkeypatch.setattr(sys, "executable", str(folder / "python.exe"))
    fields = powershell_single_quoted(WindowsSendTo().script())
    assert fields["TargetPath"] == str(folder / "pythonw.exe")


def test_macos_quick_action_bundle_and_commands(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeOs(fail=("/System/Library/CoreServices/pbs",))  # check=False: a failure is fine
    monkeypatch.setattr(service_plan, "run", fake)
    quick = MacQuickAction()
    quick.install(False, io.StringIO())
    bundle = home / "Library" / "Services" / "Clean a copy with safeshare.workflow"
    assert quick.bundle == bundle and quick.installed() == [bundle]
    info = plistlib.loads((bundle / "Contents" / "Info.plist").read_bytes())
    (service,) = info["NSServices"]
    assert service["NSMenuItem"] == {"default": "Clean a copy with safeshare"}
    assert service["NSMessage"] == "runWorkflowAsService" and service["NSSendFileTypes"] == ["public.image"]
    workflow = plistlib.loads((bundle / "Contents" / "document.wflow").read_bytes())
    (step,) = workflow["actions"]
    action = step["action"]
    assert action["BundleIdentifier"] == "com.apple.RunShellScript"
    parameters = action["ActionParameters"]
    assert parameters["shell"] == "/bin/sh" and parameters["inputMethod"] == 1
    assert shlex.split(parameters["COMMAND_STRING"]) == ["exec", *clean_command(), "--", "$@"]
    meta = workflow["workflowMetaData"]
    assert meta["serviceInputTypeIdentifier"] == "com.apple.Automator.fileSystemObject"
    assert meta["workflowTypeIdentifier"] == "com.apple.Automator.servicesMenu"
    assert fake.calls == [["/System/Library/CoreServices/pbs", "-update"]]
    assert plistlib.loads((bundle / "Contents" / "Info.plist").read_bytes())["SafeshareEntry"] == (
        "installed by safeshare"
    )
    (bundle / "Contents" / "QuickLook").mkdir()  # Automator adds files of its own: all go
    quick.uninstall(False, io.StringIO())
    assert not bundle.exists() and quick.installed() == []
    assert fake.calls[-1] == ["/System/Library/CoreServices/pbs", "-update"]
    # a Quick Action of the user's by that name: never replaced, never removed
    (bundle / "Contents").mkdir(parents=True)
    (bundle / "Contents" / "Info.plist").write_bytes(plistlib.dumps({"NSServices": []}))
    with pytest.raises(ServiceError, match="is not safeshare's"):
        quick.install(False, io.StringIO())
    said = io.StringIO()
    quick.uninstall(False, said)
    assert (bundle / "Contents" / "Info.plist").exists() and "safeshare did not write it" in said.getvalue()


def test_the_nautilus_script_reads_the_selection_from_nautilus_and_does_nothing_without_one(
    home: Path, tmp_path: Path
) -> None:
    env = fake_safeshare(tmp_path)
    entries = linux(tmp_path)
    entries.install(False, io.StringIO())
    odd = [str(tmp_path / "a photo *.jpg"), str(tmp_path / " lead and trail ?.png "), "/x/[ab]\\c $HOME"]
    selection = "".join(f"{p}\n" for p in odd)  # as Nautilus sets it: one path a line
    (tmp_path / "a photo 1.jpg").write_bytes(b"")  # a file the * would match if globbed
    run = subprocess.run(
        [str(entries.nautilus)],
        capture_output=True,
        text=True,
        env={**env, "NAUTILUS_SCRIPT_SELECTED_FILE_PATHS": selection},
    )
    assert _ran(run) == [*clean_command(), "--", *odd]
    for empty in (
        {},
        {"NAUTILUS_SCRIPT_SELECTED_FILE_PATHS": ""},
        {"NAUTILUS_SCRIPT_SELECTED_FILE_PATHS": "\n"},
    ):
        none = subprocess.run([str(entries.nautilus)], capture_output=True, text=True, env={**env, **empty})
        assert (none.returncode, none.stdout, none.stderr) == (0, "", "")


def notify_waiting(address: str) -> list[int]:
    """The `safeshare notify-wait` processes on this test's bus, by pid."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if b"notify-wait" in argv and f"DBUS_SESSION_BUS_ADDRESS={address}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_the_nautilus_script_cleans_the_selected_photos(home: Path, tmp_path: Path) -> None:
    """As Nautilus runs it: both photos cleaned into the safe-share folder, and the daemon's
    notification shown, whose "Show in folder" is answered after the script has exited."""
    selected = tmp_path / "selected photos"
    selected.mkdir()
    sources = [
        "jpeg/exif-samples__DSCN0010.jpg",  # both carry a GPS position
        "jpeg/exif-samples__HMD_Nokia_8.3_5G.jpg",
    ]
    names = ["holiday by the sea.jpg", "my cat 'Tom'.jpg"]
    for source, name in zip(sources, names, strict=True):
        shutil.copyfile(CORPUS / source, selected / name)
    out = tmp_path / "out"
    config = tmp_path / "config.toml"
    config.write_text(f'output = "{out}"\n[vision]\nenabled = false\n')
    entries = linux(tmp_path)
    entries.install(False, io.StringIO())
    env = {
        **os.environ,
        "HOME": str(home),
        "SAFESHARE_CONFIG": str(config),
        "NAUTILUS_SCRIPT_SELECTED_FILE_PATHS": "".join(f"{selected / n}\n" for n in names),
    }
    with notification_server(tmp_path, "actions,body,body-markup,icon-static", True) as (address, recorder):
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        proc = subprocess.run(
            [str(entries.nautilus)], cwd=selected, env=env, capture_output=True, text=True, timeout=300
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (said,) = wait_until(recorder.received, timeout=30)
        assert said["summary"] == "Cleaned 2 photos"
        assert said["body"].startswith("2 had a location, ")  # the daemon's words for a burst
        assert said["actions"] == {"default": "Show in folder", "show": "Show in folder"}
        assert notify_waiting(address)  # the buttons are answered after the script has ended
        recorder.press(said["id"], "show")
        shown = wait_until(recorder.shown_items)
        assert sorted(shown[0]) == sorted((out / n).as_uri() for n in names)
        wait_until(lambda: not notify_waiting(address))  # closed: nothing is left waiting
    written = sorted(p.name for p in out.iterdir())
    assert len(written) == 2, written
    for copy in out.iterdir():
        with Image.open(copy) as image:
            assert image.format == "JPEG" and not image.getexif().get_ifd(0x8825)  # no GPS left
    assert sorted(p.name for p in selected.iterdir()) == sorted(names)  # originals untouched
