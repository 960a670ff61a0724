"""`safeshare pause [--for 1h]` and `resume`: new photos noted, not cleaned, for a while.

For the import of thousands of pictures the user will not share. The pause is a small file
in the state folder (0600), so it holds across restarts and reaches a running daemon at
once: the daemon reads it before each file (a stat and a few bytes), and a file that arrives
while it holds is recorded as 'paused' in the ledger and never cleaned later, unless it
changes or the user runs `safeshare clean` on it. A pause with an end ends by itself. A
pause file that cannot be read, or holds times no pause can have, is no pause (said in the
log): cleaning goes on.
"""

from __future__ import annotations

import datetime
import json
import logging
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from safeshare.paths import private_dir, private_open

log = logging.getLogger(__name__)
PAUSE_NAME = "pause.json"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DURATION = re.compile(r"(?:(\d+(?:\.\d+)?)\s*([smhd]))+?", re.IGNORECASE)
LONGEST = 30 * 86400.0  # a pause of more than 30 days is refused: it would be forgotten


@dataclass(frozen=True)
class Pause:
    since: float
    until: float | None  # None: until `safeshare resume`

    def active(self, now: float) -> bool:
        return self.until is None or now < self.until

    def describe(self) -> str:
        if self.until is None:
            return "until you run `safeshare resume`"
        when = datetime.datetime.fromtimestamp(self.until)
        today = datetime.datetime.fromtimestamp(self.since).date() == when.date()
        return f"until {when.strftime('%H:%M' if today else '%Y-%m-%d %H:%M')}"


def parse_duration(text: str) -> float:
    """'90s', '30m', '1h', '1h30m', '2d' -> seconds; ValueError with a reason otherwise."""
    compact = text.strip().replace(" ", "")
    parts = DURATION.findall(compact)
    if not compact or "".join(n + u for n, u in parts).lower() != compact.lower():
        raise ValueError(f"{text!r} is not a duration (examples: 90s, 30m, 1h, 1h30m, 2d)")
    seconds = sum(float(n) * UNITS[u.lower()] for n, u in parts)
    if not 0 < seconds <= LONGEST:
        raise ValueError(f"{text!r}: a pause lasts more than 0 seconds and at most 30 days")
    return seconds


def read(state_dir: Path) -> Pause | None:
    """The pause on record, ended or not; None when there is none (or it cannot be read)."""
    path = state_dir / PAUSE_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        until = data.get("until")
        pause = Pause(float(data["since"]), None if until is None else float(until))
        pause.describe()  # a time no calendar holds (1e20, NaN) is no pause either
        if not math.isfinite(pause.since) or (pause.until is not None and not pause.since < pause.until):
            raise ValueError("not a time span")
        if pause.until is not None and pause.until - pause.since > LONGEST:
            raise ValueError("longer than 30 days")
        return pause
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, OverflowError) as exc:
        log.warning("%s cannot be read (%s); safeshare is not paused", path, exc)
        return None


def current(state_dir: Path, now: float) -> Pause | None:
    """The pause in force now, if any."""
    pause = read(state_dir)
    return pause if pause is not None and pause.active(now) else None


def write(state_dir: Path, pause: Pause) -> None:
    private_dir(state_dir)
    temp = state_dir / (PAUSE_NAME + ".tmp")
    fd = private_open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with open(fd, "w", encoding="utf-8") as handle:  # noqa: PTH123 (a descriptor)
        json.dump({"since": pause.since, "until": pause.until}, handle)
    temp.replace(state_dir / PAUSE_NAME)


def clear(state_dir: Path) -> bool:
    """Resume; True when a pause was on record."""
    try:
        (state_dir / PAUSE_NAME).unlink()
    except FileNotFoundError:
        return False
    return True


def pause_line(state_dir: Path, now: float) -> str | None:
    """For `safeshare status`: the pause in force, if any."""
    pause = current(state_dir, now)
    if pause is None:
        return None
    return f"paused: new photos are noted, not cleaned, {pause.describe()}"
