"""What a login-service change does, as data: files to write or remove, commands to run.

Every backend builds a `Plan`; `carry_out` performs it (or, with --dry-run, only prints it).
Plans make the exact files and argument lists testable on systems where the OS side
(launchctl, schtasks) does not exist.
"""

from __future__ import annotations

import shlex
import string
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TextIO

from safeshare.errors import SafeshareError


class ServiceError(SafeshareError):
    """A service command failed; the message names the command and its output."""


@dataclass(frozen=True)
class Write:
    path: Path
    content: bytes


@dataclass(frozen=True)
class Remove:
    path: Path


@dataclass(frozen=True)
class Run:
    argv: list[str]
    check: bool = True  # False: a failure is expected when there is nothing to undo


@dataclass(frozen=True)
class Start:
    """Start a detached process (the daemon, where no service manager starts it)."""

    argv: list[str]


@dataclass(frozen=True)
class Stop:
    """SIGTERM to a running daemon, which finishes its current file and exits."""

    pid: int


Step = Write | Remove | Run | Start | Stop


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class ServiceStatus:
    installed: bool
    enabled: bool
    running: bool
    details: list[str] = field(default_factory=list)


def template(relative: str, **values: str) -> str:
    """A template from the installed package (`safeshare.templates`), placeholders filled."""
    text = resources.files("safeshare.templates").joinpath(relative).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def daemon_command(windowless: bool = False) -> list[str]:
    """The interpreter that runs now, as an absolute path, starting the daemon."""
    python = Path(sys.executable).absolute()
    if windowless and python.name.lower() == "python.exe":
        candidate = python.with_name("pythonw.exe")  # no console window at logon
        python = candidate if candidate.exists() else python
    return [str(python), "-m", "safeshare", "run"]


def carry_out(plan: Plan, dry_run: bool, out: TextIO) -> None:
    """Do each step in order, saying what it does; with `dry_run`, only say it."""
    verb = "would " if dry_run else ""
    for step in plan.steps:
        match step:
            case Write(path, content):
                out.write(f"{verb}write {path}:\n")
                out.write("".join(f"    {line}\n" for line in _shown(content).splitlines()))
                if not dry_run:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(content)
            case Remove(path):
                out.write(f"{verb}remove {path}\n")
                if not dry_run:
                    path.unlink(missing_ok=True)
            case Run(argv, check):
                out.write(f"{verb}run: {shlex.join(argv)}\n")
                if not dry_run:
                    run(argv, check)
            case Start(argv):
                out.write(f"{verb}start: {shlex.join(argv)}\n")
                if not dry_run:
                    _start_detached(argv)
            case Stop(pid):
                out.write(f"{verb}stop the running daemon (pid {pid})\n")
                if not dry_run:
                    _stop(pid)
    for note in plan.notes:
        out.write(f"note: {note}\n")


def _start_detached(argv: list[str]) -> None:
    try:
        subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
    except OSError as exc:
        raise ServiceError(f"cannot start {argv[0]}: {exc.strerror}") from exc


def _stop(pid: int) -> None:
    import os
    import signal

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # already gone
    except OSError as exc:
        raise ServiceError(f"cannot stop pid {pid}: {exc.strerror}") from exc


def run(command: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ServiceError(f"{command[0]}: {exc}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise ServiceError(
            f"{shlex.join(command)} failed (exit {proc.returncode}): {detail[0] if detail else ''}"
        )
    return proc


def _shown(content: bytes) -> str:
    if content.startswith(b"\xff\xfe"):
        return content.decode("utf-16")
    return content.decode("utf-8", "replace")
