"""Untrusted text shown as one line of visible characters: what a spoofer would put in a
file name is escaped, ordinary names are left alone; and `safeshare clean`, `inspect` and
`status`, run as a user runs them, never print a raw control character from a name."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safeshare.printable import printable
from tests import synth
from tests.daemon_harness import DaemonRun, wait_until

HIDDEN = {"Cc", "Cf", "Cs", "Zl", "Zp", "Cn"}
# ESC sequences (colour, clear screen, window title), BEL, CR, backspace, a newline.
HOSTILE = "bell\x07 \x1b[31mred\x1b[0m \x1b[2J\x1b]0;pwned\x07\r\bback\nline.jpg"
HOSTILE_SHOWN = "bell\\x07 \\x1b[31mred\\x1b[0m \\x1b[2J\\x1b]0;pwned\\x07\\r\\x08back\\nline.jpg"


@pytest.mark.parametrize(
    "text",
    [
        "IMG_2041.jpg",
        "été ✓ 写真 👍🏽 Ελλάδα.jpg",
        "שלום עולם.jpg",  # right-to-left letters are letters, not overrides
        "C:\\Users\\me\\holiday photos\\a  b.jpg",  # backslashes and a double space stay
        'Mum\'s "holiday" <b>&amp;.jpg',  # markup is the notification backends' business
        "Tiếng Việt ở đây.jpg",
        "\u0928\u092e\u0938\u094d\u0924\u0947.jpg",  # Devanagari with its marks
    ],
)
def test_ordinary_names_are_left_as_they_are(text: str) -> None:
    assert printable(text) == text


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (
            "spoof.jpg\nRemoved: nothing. This photo is safe",
            "spoof.jpg\\nRemoved: nothing. This photo is safe",
        ),
        (HOSTILE, HOSTILE_SHOWN),
        ("tab\there\x7f\x85\x9b", "tab\\there\\x7f\\x85\\x9b"),  # DEL, NEL, the 8-bit CSI
        ("line\u2028para\u2029", "line\\u2028para\\u2029"),
        ("\u202egpj.exe", "\\u202egpj.exe"),  # a right-to-left override: 'exe.jpg' backwards
        ("a\u2066b\u2069c\u200fd\u061ce", "a\\u2066b\\u2069c\\u200fd\\u061ce"),  # isolates, marks
        ("zero\u200bwidth\u200d\ufeff\u00ad", "zero\\u200bwidth\\u200d\\ufeff\\xad"),
        ("tag\U000e0041", "tag\\U000e0041"),
        (os.fsdecode(b"bad\xff\xfe-name.jpg"), "bad\\xff\\xfe-name.jpg"),  # not UTF-8: the bytes
        ("lone\ud800", "lone\\ud800"),  # a surrogate from a Windows name
        ("pad\u3164\u115f\uffa0\u2800.jpg", "pad\\u3164\\u115f\\uffa0\\u2800.jpg"),  # blank letters
    ],
)
def test_what_could_hide_break_or_add_a_line_is_escaped(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_padding_and_stacked_marks_are_escaped_beyond_a_few() -> None:
    assert printable("a" + " " * 10 + "b") == "a   " + "\\x20" * 7 + "b"
    assert printable("x\u3000\u3000\u3000\u3000y") == "x\u3000\u3000\u3000\\u3000y"
    assert printable("e" + "\u0301" * 10) == "e" + "\u0301" * 4 + "\\u0301" * 6  # "zalgo"
    # Invisible marks between spaces do not restart the count (nor stay invisible).
    padded = printable("pad" + ("\u3000" * 3 + "\ufe0f") * 12 + "Removed nothing.jpg")
    assert padded.startswith("pad\u3000\u3000\u3000\\ufe0f\\u3000") and "\ufe0f" not in padded
    assert printable("a\U0001d159b") == "a\\U0001d159b"
    assert printable("I \u2764\ufe0f it.jpg") == "I \u2764\ufe0f it.jpg"  # an emoji stays one


def test_a_limit_never_cuts_inside_an_escape_and_keep_keeps() -> None:
    assert printable("\x1b" * 10, 10) == "\\x1b..."
    assert printable("abcdef\x1bghij", 9, "…") == "abcdef…"
    assert printable("short", 10) == "short"
    assert printable("Removed: x.\nClean copy: /out/a\nb\x07", keep="\n") == (
        "Removed: x.\nClean copy: /out/a\nb\\x07"
    )


@given(st.one_of(st.text(), st.binary().map(os.fsdecode)), st.none() | st.integers(4, 300))
def test_whatever_the_text_the_result_is_one_visible_line(text: str, limit: int | None) -> None:
    shown = printable(text, limit)
    assert not any(unicodedata.category(c) in HIDDEN for c in shown)
    shown.encode("utf-8")  # and valid UTF-8: D-Bus and terminals take it
    assert limit is None or len(shown) <= limit


# -- the commands, as a user runs them -------------------------------------------------------
def _safeshare(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    command = Path(sys.executable).with_name("safeshare")
    argv = [str(command)] if command.exists() else [sys.executable, "-m", "safeshare"]
    if args[0] in ("clean", "inspect"):
        args = (args[0], "--no-vision", *args[1:])
    return subprocess.run([*argv, *args], capture_output=True, env=env, timeout=300, check=False)


def _raw_controls(output: bytes) -> list[str]:
    """Control and format characters besides the line ends; the output must be UTF-8 too."""
    text = output.decode("utf-8")
    return [repr(c) for c in text if c != "\n" and unicodedata.category(c) in HIDDEN]


def test_clean_and_inspect_print_names_escaped(tmp_path: Path) -> None:
    photos = tmp_path / "in"
    photos.mkdir()
    (photos / HOSTILE).write_bytes(synth.jpeg())
    (photos / os.fsdecode(b"\xff\xfe-\x1b.jpg")).write_bytes(synth.png())
    (photos / "note\x1b[8m.jpg").write_text("not a picture")
    files = sorted(str(p) for p in photos.iterdir())
    for command in (("clean", *files, "--output", str(tmp_path / "out")), ("inspect", *files)):
        proc = _safeshare(*command)
        assert proc.returncode == 1  # the text file fails
        assert _raw_controls(proc.stdout) == [] and _raw_controls(proc.stderr) == []
        said = (proc.stdout + proc.stderr).decode()
        assert f"{photos}/{HOSTILE_SHOWN}" in said and f"{photos}/\\xff\\xfe-\\x1b.jpg" in said, said
        assert f"{photos}/note\\x1b[8m.jpg" in said, said
    assert {p.name for p in (tmp_path / "out").iterdir()} == {HOSTILE, os.fsdecode(b"\xff\xfe-\x1b.jpg")}


def test_status_prints_names_escaped(tmp_path: Path) -> None:
    from tests.test_daemon import photo

    run = DaemonRun(
        tmp_path / "d",
        # a TOML basic string: its \u escapes become the ESC and BEL of the folder's name
        watches=[
            {"path": str(tmp_path / "d" / "home" / "Pictures")},
            {"path": f"{tmp_path}/gone\\u001b]0;pwned\\u0007"},
        ],
    )
    run.pictures.mkdir(parents=True)
    with run:
        (run.pictures / HOSTILE).write_bytes(photo(60))
        (run.pictures / "bad\x1b[5m.jpg").write_text("not a picture")
        wait_until(lambda: len(run.outcomes()) >= 2, timeout=60)
        proc = _safeshare("status", env=run.env)
    assert proc.returncode == 0 and _raw_controls(proc.stdout) == [] and _raw_controls(proc.stderr) == []
    status = proc.stdout.decode()
    assert f"{tmp_path}/gone\\x1b]0;pwned\\x07  (missing" in status, status  # watched, missing
    assert f"{run.pictures}/{HOSTILE_SHOWN} -> {run.output}/{HOSTILE_SHOWN}" in status, status
    assert f"{run.pictures}/bad\\x1b[5m.jpg: not an image" in status, status


def test_command_errors_print_paths_escaped(tmp_path: Path) -> None:
    """A configuration file or output folder named with control characters: the one-line
    error names it escaped."""
    config = tmp_path / "bad\x1b[2Jname\n.toml"
    config.write_text("output = 3\n")
    proc = _safeshare("--config", str(config), "status")
    assert proc.returncode == 2
    assert _raw_controls(proc.stdout + proc.stderr) == []
    assert b"bad\\x1b[2Jname\\n.toml" in proc.stderr
