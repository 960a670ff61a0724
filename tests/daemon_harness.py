"""Run the real daemon (`python -m safeshare run`) on temp folders, as the service would."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = "safeshare running"


def wait_until(condition: Callable[[], object], timeout: float = 20.0, step: float = 0.05) -> Any:
    """Poll `condition` until it is truthy; its value, or AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(step)


class DaemonRun:
    """A temp HOME with watched folders, a config file, and the daemon as a subprocess."""

    def __init__(
        self,
        root: Path,
        watches: list[dict[str, Any]] | None = None,
        output: Path | None = None,
        extra: str = "",
        settle: float = 0.3,
        vision: bool = False,
    ) -> None:
        self.root = root
        self.home = root / "home"
        self.pictures = self.home / "Pictures"
        self.output = output or (root / "safe")
        self.watches = watches if watches is not None else [{"path": str(self.pictures)}]
        self.config = root / "safeshare.toml"
        root.mkdir(parents=True, exist_ok=True)
        lines = [
            f'output = "{self.output}"',
            extra,
            "[daemon]",
            f"settle_seconds = {settle}",
            "folder_check_seconds = 0.2",
            "rescan_minutes = 0",
        ]
        if not vision:  # seconds per picture: only the tests about it turn it on
            lines += ["[vision]", "enabled = false"]
        for watch in self.watches:
            lines.append("[[watch]]")
            lines += [f"{k} = {_toml(v)}" for k, v in watch.items()]
        self.config.write_text("\n".join(lines) + "\n")
        self.env = {
            **os.environ,
            "HOME": str(self.home),
            "XDG_CONFIG_HOME": str(self.home / ".config"),
            "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            "SAFESHARE_CONFIG": str(self.config),
        }
        self.state = self.home / ".local" / "state" / "safeshare"
        self.log = self.state / "log" / "safeshare.log"
        self.proc: subprocess.Popen[str] | None = None
        self.welcomed = True  # the first-start notice counts as said (tests/test_desktop_defaults says it)

    def start(self, wait: bool = True) -> DaemonRun:
        if self.welcomed:
            self.state.mkdir(parents=True, exist_ok=True)
            (self.state / "first-start-said").touch(mode=0o600)  # as the daemon makes it
        return self._start(wait)

    def _start(self, wait: bool) -> DaemonRun:
        self.home.mkdir(parents=True, exist_ok=True)
        offset = self.log.stat().st_size if self.log.exists() else 0
        # stderr goes to a file: a pipe nobody reads would fill up and block the daemon.
        with (self.root / "stderr.txt").open("a") as stderr:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "safeshare", "run"],
                env=self.env,
                text=True,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        if wait:
            wait_until(lambda: self.log.exists() and STARTED in self.log.read_text()[offset:], timeout=30)
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        code = self.proc.wait(timeout=60)
        self.proc = None
        return code

    def __enter__(self) -> DaemonRun:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.stop()

    def outputs(self) -> list[Path]:
        if not self.output.exists():
            return []
        return sorted(p for p in self.output.rglob("*") if p.is_file())

    def temp_files(self) -> list[Path]:
        return [p for p in self.outputs() if p.name.startswith(".safeshare-")]

    def ledger(self, sql: str = "SELECT path, outcome, output FROM files") -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.state / "ledger.sqlite3") as db:
            return db.execute(sql).fetchall()

    def outcomes(self) -> dict[str, str]:
        return {os.fsdecode(p): o for p, o, _ in self.ledger()}


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f'"{value}"'
