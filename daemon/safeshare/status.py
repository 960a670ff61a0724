"""`safeshare status` and `safeshare config`: what runs, what it watches, where things are."""

from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path

from safeshare import instance, logsetup, paths
from safeshare.config import Config, config_path
from safeshare.findings import shorten
from safeshare.ledger import LEDGER_NAME, LedgerError, Record, open_readonly
from safeshare.pause import pause_line
from safeshare.printable import printable
from safeshare.report import shown
from safeshare.vision import INSTALL, REQUIRED
from safeshare.vision import installed as vision_installed


def _when(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def status_lines(config: Config, state_dir: Path | None = None) -> list[str]:
    state_dir = state_dir or paths.state_dir()
    pid = instance.running_pid(state_dir)
    state = instance.read_state(state_dir) if pid else {}
    lines = [
        f"daemon: running (pid {pid}, since {_when(state.get('started', 0))})"
        if pid
        else "daemon: not running"
    ]
    source = (
        shown(config.source)
        if config.source
        else f"built-in defaults (no config file at {shown(config_path())})"
    )
    paused = pause_line(state_dir, time.time())
    lines += [paused] if paused else []
    lines.append(f"config: {source}")
    lines.append(f"output: {shown(config.output)}")
    lines.append("watching:")
    watches = state.get("watches") or [
        {"path": str(w.path), "state": "watching" if w.path.is_dir() else "missing"} for w in config.watch
    ]
    for watch in watches:
        note = shorten(str(watch.get("note") or "missing: watched as soon as it appears"), 300)
        lines.append(
            f"  {shown(Path(str(watch['path'])))}" + ("" if watch["state"] == "watching" else f"  ({note})")
        )
    notices = state.get("notices") or []
    if isinstance(notices, list) and notices:
        lines.append("said to you while running:")
        lines += [f"  {shorten(str(n), 300)}" for n in notices[-5:]]
    live = state.get("ledger")  # the running daemon's own `health()`, when it writes one
    lines += _ledger_lines(state_dir / LEDGER_NAME, live if isinstance(live, str) else None)
    lines.append(f"log: {shown(paths.log_dir() / logsetup.LOG_NAME)}")
    return lines


def _ledger_lines(path: Path, live: str | None) -> list[str]:
    """Counts, the ledger's health line and the last files; read-only, whatever its state."""
    lines: list[str] = []
    try:
        ledger = open_readonly(path)
        if ledger is None:
            return ["files: none yet", "ledger: none yet (the daemon starts one)"]
        try:
            counts = sorted((o.value, n) for o, n in ledger.counts().items())
            lines.append("files: " + (", ".join(f"{n} {o}" for o, n in counts) or "none yet"))
            # daemon.json is written now and then; the notes kept in the ledger are newer,
            # except a wait the daemon gave up on (nothing could be written then).
            lines.append(f"ledger: {shorten(live if live and live != 'ok' else ledger.health(), 300)}")
            lines += _section("last files", ledger.recent(8))
            lines += _section("last errors", ledger.recent(5, errors_only=True))
        finally:
            ledger.close()
    except LedgerError as exc:
        lines.append(f"ledger: {shorten(str(exc), 300)}")
    return lines


def _section(title: str, records: list[Record]) -> list[str]:
    if not records:
        return []
    out = [f"{title}:"]
    for r in records:
        detail = f" -> {shown(r.output)}" if r.output else ""
        detail += f" ({', '.join(r.categories)})" if r.categories else ""
        detail += f": {shorten(r.reason, 300)}" if r.reason else ""
        out.append(f"  {_when(r.at)}  {r.outcome.value:<9} {shown(r.path)}{detail}")
    return out


def vision_problem() -> str | None:
    """Why the vision extra cannot be used here ('not installed', 'does not load: ...'), or
    None. It is imported in a child process: this one never loads the models' libraries."""
    if not vision_installed():
        return "the vision extra is not installed"
    import os
    import subprocess
    import sys

    probe = "import " + ", ".join(("numpy", *REQUIRED))
    env = {**os.environ, "ORT_DISABLE_TELEMETRY": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"the vision extra could not be checked ({type(exc).__name__})"
    if proc.returncode == 0:
        return None
    last = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
    return f"the vision extra does not load ({shorten(last, 160)})"


def config_lines(config: Config) -> list[str]:
    """The effective configuration, as TOML a user could paste into their config file."""
    lines = [
        f"# configuration file: {shown(config.source) if config.source else 'none (built-in defaults)'}",
        f"# state (ledger, lock): {shown(paths.state_dir())}",
        f"# logs: {shown(paths.log_dir())}",
        "",
        f"output = {_toml(config.output)}",
    ]
    for name in ("clean", "daemon", "notify", "vision"):
        lines += ["", f"[{name}]"]
        section = getattr(config, name)
        lines += [f"{f.name} = {_toml(getattr(section, f.name))}" for f in dataclasses.fields(section)]
    problem = vision_problem() if config.vision.enabled else None
    if problem:  # what is configured cannot happen: said, not shown as on
        at = lines.index("enabled = true", lines.index("[vision]"))
        lines[at] = f"enabled = false  # unavailable: {problem}"
        if config.vision.redact:
            lines.append(f"# redact cannot be done ({problem}): `clean` and the daemon refuse to run")
        lines.append(f"# to look at pictures: {INSTALL}")
    for watch in config.watch:
        lines += ["", "[[watch]]"] + [
            f"{f.name} = {_toml(getattr(watch, f.name))}" for f in dataclasses.fields(watch)
        ]
    return lines


def _toml(value: object) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + "".join(_toml_char(ch) for ch in str(value)) + '"'


def _toml_char(ch: str) -> str:
    """One character of a TOML basic string: escaped when TOML requires it, and when it could
    hide, break or add a line on a terminal (what `printable` escapes), so that the output
    reads back as the same value and shows what it holds."""
    if ch in ('"', "\\"):
        return "\\" + ch
    if printable(ch) == ch:
        return ch
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:  # an undecodable byte in a path: TOML cannot hold it
        return "\\uFFFD"
    return f"\\u{code:04X}" if code <= 0xFFFF else f"\\U{code:08X}"
