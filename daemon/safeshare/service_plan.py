"""What a login-service change does, as data: files to write or remove, commands to run.

Every backend builds a `Plan`; `carry_out` performs it (or, with --dry-run, only prints it).
Plans make the exact files and argument lists testable on systems where the OS side
(launchctl, schtasks) does not exist.
"""

from __future__ import annotations

import shlex
import shutil
import string
import subprocess
import sys
from abc import ABC, abstractmethod
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
    mode: int | None = None  # e.g. 0o755 for a script; None: the umask's default


@dataclass(frozen=True)
class Remove:
    """Remove a file; with `marker`, only a file that holds it (one safeshare wrote)."""

    path: Path
    marker: bytes | None = None


@dataclass(frozen=True)
class RemoveTree:
    """Remove a folder of safeshare's own, known by its name (a macOS .workflow bundle)."""

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


Step = Write | Remove | RemoveTree | Run | Start | Stop


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


class Installable(ABC):
    """What `install` and `uninstall` change, as plans: a login service, file-manager entries."""

    name: str

    @abstractmethod
    def install_plan(self) -> Plan: ...

    @abstractmethod
    def uninstall_plan(self) -> Plan: ...

    def install(self, dry_run: bool, out: TextIO) -> None:
        carry_out(self.install_plan(), dry_run, out)

    def uninstall(self, dry_run: bool, out: TextIO) -> None:
        carry_out(self.uninstall_plan(), dry_run, out)


def template(relative: str, **values: str) -> str:
    """A template from the installed package (`safeshare.templates`), placeholders filled."""
    text = resources.files("safeshare.templates").joinpath(relative).read_text(encoding="utf-8")
    return string.Template(text).substitute(values)


def interpreter(windowless: bool = False) -> str:
    """The interpreter that runs now, as an absolute path (pythonw.exe beside it if asked)."""
    python = Path(sys.executable).absolute()
    if windowless and python.name.lower() == "python.exe":
        candidate = python.with_name("pythonw.exe")  # no console window
        python = candidate if candidate.exists() else python
    return str(python)


def daemon_command(windowless: bool = False) -> list[str]:
    """The interpreter that runs now, as an absolute path, starting the daemon."""
    return [interpreter(windowless), "-m", "safeshare", "run"]


def clean_command(windowless: bool = False) -> list[str]:
    """`safeshare clean --notify`, by the same interpreter; file managers append the files."""
    return [interpreter(windowless), "-m", "safeshare", "clean", "--notify"]


def carry_out(plan: Plan, dry_run: bool, out: TextIO) -> None:
    """Do each step in order, saying what it does; with `dry_run`, only say it."""
    verb = "would " if dry_run else ""
    for step in plan.steps:
        match step:
            case Write(path, content, mode):
                shown_mode = f" (mode {mode:o})" if mode is not None else ""
                out.write(f"{verb}write {path}{shown_mode}:\n")
                out.write("".join(f"    {line}\n" for line in _shown(content).splitlines()))
                if not dry_run:
                    _write_whole(path, content, mode)
            case Remove(path, marker):
                if marker is not None and not _holds(path, marker):
                    out.write(f"left {path} alone: safeshare did not write it\n")
                    continue
                out.write(f"{verb}remove {path}\n")
                if not dry_run:
                    path.unlink(missing_ok=True)
            case RemoveTree(path):
                out.write(f"{verb}remove the folder {path}\n")
                if not dry_run and path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                elif not dry_run:
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


def _holds(path: Path, marker: bytes) -> bool:
    """True when `path` is absent (nothing to leave alone) or a file that holds `marker`."""
    if not path.exists() and not path.is_symlink():
        return True
    try:
        return path.is_file() and marker in path.read_bytes()
    except OSError:
        return False


def _write_whole(path: Path, content: bytes, mode: int | None) -> None:
    """Written beside it and renamed into place: a crash leaves the old file or the new one,
    never half of one (a user's uca.xml holds their own actions). A link in its place is
    followed, so that a file kept in a dotfiles repository stays there."""
    import os

    target = Path(os.path.realpath(path)) if path.is_symlink() else path
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".{target.name}.safeshare-new")
    try:
        temp.write_bytes(content)
        if mode is not None:
            temp.chmod(mode)
        elif target.exists():
            temp.chmod(target.stat().st_mode & 0o7777)
        temp.replace(target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


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
