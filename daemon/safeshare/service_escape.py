"""Each login-service format's own quoting, so that no path can break the file it goes into.

The interpreter path and the home folder are whatever the user has: spaces, quotes, `$`,
`%`, backslashes, newlines, any script. Each function here writes a value by the rules of
one format, or, where that format cannot hold it, refuses with a one-line `ServiceError`
naming the value and the reason. Nothing is ever written half-escaped.
"""

from __future__ import annotations

import re
import shlex
import string
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

from safeshare.service_plan import ServiceError

_NAMES = {"\n": "a newline", "\r": "a carriage return", "\t": "a tab"}


def _name(char: str) -> str:
    if char in _NAMES:
        return _NAMES[char]
    return repr(char) if char.isprintable() else f"U+{ord(char):04X}"


def _refuse(kind: str, what: str, value: str, reason: str) -> ServiceError:
    """One line whatever the value holds: `repr` shows a newline as \\n."""
    return ServiceError(f"cannot write the {kind}: {what} {value!r} {reason}")


def _what(index: int) -> str:
    return "the interpreter path" if index == 0 else f"argument {index}"


def _require_utf8(kind: str, what: str, value: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _refuse(kind, what, value, "is not valid UTF-8, which the file must be") from None


def _control(text: str, allowed: str = "") -> str | None:
    return next((c for c in text if (c < " " or c == "\x7f") and c not in allowed), None)


# systemd.service(5), "Command lines": words are split at unquoted whitespace; "..." takes
# C escapes; every word then has its %-specifiers expanded; unless the program is prefixed
# with ":", `$$`, `${NAME}` and a lone `$NAME` are then replaced from the environment.
_SYSTEMD_PLAIN = frozenset(string.ascii_letters + string.digits + "/._-+,=@:%$")
_SYSTEMD_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def systemd_exec(argv: list[str]) -> str:
    """An ExecStart= value whose words systemd turns back into exactly `argv`.

    systemd refuses quotes, backslashes and control characters in the program's own path
    ("Executable name contains special characters"), so those are refused here. `$` is
    kept literal with the ":" prefix (no environment substitution, systemd 243 and later)
    rather than `$$`, because systemd substitutes in argv[0] but not in the path it runs.
    """
    kind = "systemd unit"
    for index, arg in enumerate(argv):
        _require_utf8(kind, _what(index), arg)
    bad = _control(argv[0]) or next((c for c in argv[0] if c in "\"'\\"), None)
    if bad is not None:
        raise _refuse(
            kind, _what(0), argv[0], f"contains {_name(bad)}, which systemd refuses in a program path"
        )
    words = list(argv)
    if any("$" in arg for arg in argv):
        words[0] = ":" + words[0]
    return " ".join(_systemd_word(w) for w in words)


def _systemd_word(arg: str) -> str:
    if arg and all(c in _SYSTEMD_PLAIN or c > "\x7f" for c in arg):
        return arg.replace("%", "%%")
    inner = "".join(
        "%%" if c == "%" else _SYSTEMD_ESCAPES.get(c) or (f"\\x{ord(c):02x}" if _control(c) else c)
        for c in arg
    )
    return f'"{inner}"'


# Desktop Entry Specification, "The Exec key": an argument holding a reserved character is
# quoted in whole, with `"`, `` ` ``, `$` and `\` backslashed inside the quotes; `%` is a
# field code, so a literal one is `%%`. The key's value is a string, so the result is then
# escaped as one: `\\`, `\n`, `\t`, `\r` (this is applied first when reading it back).
_DESKTOP_RESERVED = frozenset(" \t\n\r\"'\\><~|&;$*?#()`")
_DESKTOP_STRING = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _no_percent_program(argv: list[str], kind: str) -> None:
    """GLib (GNOME's launcher, gnome-session) looks the program up before it turns `%%` back
    into `%`, so an entry whose program path holds a `%` is not shown or not run: refused."""
    if "%" in argv[0]:
        raise _refuse(
            kind,
            "the interpreter path",
            argv[0],
            "contains '%', which desktop launchers cannot run: install safeshare from a path without it",
        )


def desktop_exec(argv: list[str]) -> str:
    """An Exec= value that a desktop entry reader splits back into exactly `argv`."""
    kind = "desktop entry"
    _no_percent_program(argv, kind)
    for index, arg in enumerate(argv):
        _require_utf8(kind, _what(index), arg)
        bad = _control(arg, allowed="\n\t\r")
        if bad is not None:
            raise _refuse(
                kind, _what(index), arg, f"contains {_name(bad)}, which a desktop entry cannot hold"
            )
    line = " ".join(_desktop_word(a) for a in argv).replace("%", "%%")
    return "".join(_DESKTOP_STRING.get(c, c) for c in line)


def _desktop_word(arg: str) -> str:
    if arg and not _DESKTOP_RESERVED.intersection(arg):
        return arg
    return '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'


# XML 1.0 `Char`: no other control characters, no lone surrogates, not U+FFFE or U+FFFF.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(value: str, kind: str, what: str) -> str:
    """Element text (plist <string>, task XML) that an XML parser gives back as `value`.

    A carriage return is written as a character reference: a parser turns a literal one
    into a newline.
    """
    bad = _NOT_XML.search(value)
    if bad is not None:
        raise _refuse(kind, what, value, f"contains {_name(bad.group())}, which XML cannot hold")
    return escape(value, {'"': "&quot;", "\r": "&#13;"})


PLIST = "LaunchAgent plist"
TASK = "Windows logon task"


def plist_fields(argv: list[str], logs: Path) -> dict[str, str]:
    """ProgramArguments as <string> lines (launchd runs the array itself: no shell) and the log paths."""
    lines = (f"\t\t<string>{xml_text(a, PLIST, _what(i))}</string>" for i, a in enumerate(argv))
    return {
        "program_arguments": "\n".join(lines),
        "stdout_path": xml_text(str(logs / "stdout.log"), PLIST, "the log path"),
        "stderr_path": xml_text(str(logs / "stderr.log"), PLIST, "the log path"),
    }


def task_fields(user: str, argv: list[str]) -> dict[str, str]:
    """The task XML's UserId, Command and Arguments, each as XML text."""
    command, arguments = windows_exec(argv)
    return {
        "user_id": xml_text(user, TASK, "the user name"),
        "command": xml_text(command, TASK, "the interpreter path"),
        "arguments": xml_text(arguments, TASK, "the arguments"),
    }


def windows_exec(argv: list[str], kind: str = TASK) -> tuple[str, str]:
    """The task's Command (the program) and Arguments (MS C runtime quoting of the rest).

    A Windows path cannot hold a quote or a control character, and Task Scheduler expands
    `%NAME%` in both fields with no way to escape it: two `%` in one field are refused.
    """
    for index, arg in enumerate(argv):
        bad = _control(arg) or ('"' if index == 0 and '"' in arg else None)
        if bad is not None:
            where = "a Windows path" if index == 0 else "a Windows command line"
            raise _refuse(kind, _what(index), arg, f"contains {_name(bad)}, which {where} cannot hold")
    command, arguments = argv[0], subprocess.list2cmdline(argv[1:])
    for what, field in (("the interpreter path", command), ("the arguments", arguments)):
        if field.count("%") > 1:
            reason = "contains '%' twice, which Task Scheduler expands as %NAME% with no escape"
            raise _refuse(kind, what, field, reason)
    return command, arguments


def windows_command_line(argv: list[str]) -> str:
    """One command line (the HKCU Run key): the program always quoted, as Windows parses it."""
    command, arguments = windows_exec(argv, kind="Run key entry")
    return f'"{command}" {arguments}'.rstrip()


# File-manager entries (integrate.py). A POSIX shell word: shlex.quote puts anything but
# [A-Za-z0-9@%+=:,./_-] in single quotes, and a ' as '"'"'; control characters stay literal
# inside the quotes. The shell itself runs Nautilus scripts, Quick Actions and Thunar's
# commands; Nemo splits its Exec with g_shell_parse_argv, which follows the same quoting.
def sh_words(argv: list[str], kind: str) -> str:
    for index, arg in enumerate(argv):
        _require_utf8(kind, _what(index), arg)
        if "\0" in arg:
            raise _refuse(kind, _what(index), arg, "contains U+0000, which no command can hold")
    return shlex.join(argv)


def thunar_command(argv: list[str]) -> str:
    """A Thunar <command>: run by `/bin/sh -c` after `%%` becomes `%` and `%F` the files,
    which Thunar shell-quotes itself. XML turns a carriage return into a newline: refused."""
    kind = "Thunar custom action"
    for index, arg in enumerate(argv):
        bad = _control(arg, allowed="\n\t")
        if bad is not None:
            raise _refuse(kind, _what(index), arg, f"contains {_name(bad)}, which uca.xml cannot hold")
    return sh_words(argv, kind).replace("%", "%%") + " %F"


def keyfile_string(value: str, kind: str, what: str) -> str:
    """A GKeyFile / desktop-entry string value: `\\\\`, `\\n`, `\\t`, `\\r`, a leading `\\s`."""
    _require_utf8(kind, what, value)
    bad = _control(value, allowed="\n\t\r")
    if bad is not None:
        raise _refuse(kind, what, value, f"contains {_name(bad)}, which a key file cannot hold")
    escaped = "".join(_DESKTOP_STRING.get(c, c) for c in value)
    return "\\s" + escaped[1:] if escaped.startswith(" ") else escaped


def nemo_exec(argv: list[str]) -> str:
    """A Nemo action's Exec= value: key-file string escapes, then Nemo's tokens (`%%` is a
    literal `%` in current Nemo; `%F` the files, double-quoted by Quote=double), then
    g_shell_parse_argv's shell quoting."""
    kind = "Nemo action"
    _no_percent_program(argv, kind)  # older Nemo also stops expanding at the first `%%`
    words = sh_words(argv, kind).replace("%", "%%")
    return keyfile_string(words, kind, "the command") + " %F"


# PowerShell: inside '...' nothing is expanded; a quote is doubled. PowerShell also takes
# the typographic single quotes U+2018-U+201B as quotes, so those are doubled too.
_PS_QUOTES = "'\u2018\u2019\u201a\u201b"


def powershell_string(value: str, kind: str, what: str) -> str:
    bad = _control(value)
    if bad is not None:
        raise _refuse(kind, what, value, f"contains {_name(bad)}, which a Windows path cannot hold")
    return "'" + "".join(c * 2 if c in _PS_QUOTES else c for c in value) + "'"
