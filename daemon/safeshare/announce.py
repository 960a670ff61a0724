"""What the daemon tells the user that is news, not a problem: at the very first start, what
it watches and where the copies go; when a pause begins and ends (a restart during a pause
says it again, so a paused daemon never looks like a working one).

`check` is called by housekeeping and `paused` by the handler before each file; both take
the time from an injected clock, so tests are exact.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import pause as pause_mod
from safeshare.disposition import Disposition
from safeshare.folders import Folder, shown
from safeshare.paths import private_open
from safeshare.report import shown as shown_path

if TYPE_CHECKING:
    from safeshare.handling import FileHandler
    from safeshare.ledger import Ledger
    from safeshare.settle import Settler

FIRST_START_SAID = "first-start-said"  # in the state folder, once the first start was announced
Inform = Callable[[str, str], bool]  # (title, body) -> shown (or not wanted); False: say it later


def watched(folders: list[Folder]) -> str:
    """'~/Pictures and the folders in it, ~/Desktop (once it exists)'."""
    parts = []
    for folder in folders:
        text = shown(folder) + (" and the folders in it" if folder.config.recursive else "")
        parts.append(text if folder.active else f"{text} (once it exists)")
    return ", ".join(parts)


class Announcer:
    def __init__(self, state_dir: Path, inform: Inform, clock: Callable[[], float] = time.time) -> None:
        self.state_dir = state_dir
        self.inform = inform
        self.clock = clock
        # Files the ledger noted as 'paused' since a time (a restart during a pause counts them too).
        self.count_paused: Callable[[float], int] = lambda since: 0
        # At the end of a pause: photos with a copy that changed meanwhile are cleaned now (count).
        self.resumed: Callable[[], int] = lambda: 0
        self._updating: int | None = None
        self._pause: pause_mod.Pause | None = None  # the pause last announced

    def first_start(self, folders: list[Folder], output: Path, already: int, cleaning: bool = False) -> None:
        """Said once per user: what is watched, where copies go, what was left alone (or,
        with `first_start = "clean"`, that what is there is cleaned too)."""
        marker = self.state_dir / FIRST_START_SAID
        if marker.exists():
            return
        lines = [f"Watching {watched(folders)}.", f"Clean copies of new photos go to {shown_path(output)}."]
        if cleaning:
            lines.append('The pictures already there are cleaned too (first_start = "clean").')
        elif already:
            were = (
                "1 picture already there was left as it is"
                if already == 1
                else (f"The {already} pictures already there were left as they are")
            )
            lines.append(f"{were} (`safeshare clean` makes copies of any you need).")
        if not self.inform("safeshare is watching your pictures", "\n".join(lines)):
            return  # no notification service yet (an early login): said at the next start
        with contextlib.suppress(OSError):  # cannot remember it: it is said again next time
            os.close(private_open(marker, os.O_WRONLY | os.O_CREAT))

    def attach(self, ledger: Ledger, handler: FileHandler, settler: Settler) -> None:
        """The daemon's: each file is checked against the pause, the ledger counts what was
        noted, and at the end photos with a copy that changed meanwhile are handed back."""
        handler.paused = self.paused
        self.count_paused = lambda since: ledger.count_since(Disposition.PAUSED, since)

        def resumed() -> int:
            held = list(handler.held)
            handler.held.clear()
            for path in held:
                settler.touch(path, complete=True)
            return len(held)

        self.resumed = resumed

    def paused(self, landed: float | None = None) -> bool:
        """A pause is in force now (read afresh: `safeshare pause` takes effect at once) and
        began before the file `landed` there (its ctime: written or renamed into place, which
        no copying tool sets back). A file that was settling when the pause began is cleaned."""
        pause = pause_mod.current(self.state_dir, self.clock())
        return pause is not None and (landed is None or landed >= pause.since)

    def check(self) -> None:
        """A pause that began or ended since the last look is said."""
        now = self.clock()
        pause = pause_mod.current(self.state_dir, now)
        if pause == self._pause:
            return
        if pause is not None:
            shown = self.inform(
                "safeshare is paused",
                f"New photos in the watched folders are noted, not cleaned, {pause.describe()}.",
            )
        elif self._pause is not None:
            ended = self.count_paused(self._pause.since)
            if self._updating is None:  # once per pause, however often the news is tried
                self._updating = self.resumed()
            what = (
                f"{ended} {'photo' if ended == 1 else 'photos'} that arrived while it was paused "
                f"{'was' if ended == 1 else 'were'} not cleaned; "
                "`safeshare clean` makes copies of any you need."
                if ended
                else "No new photos arrived while it was paused."
            )
            if self._updating:
                n = self._updating
                what += f" {n} {'photo' if n == 1 else 'photos'} with a copy changed meanwhile: updated now."
            shown = self.inform("safeshare is cleaning again", f"New photos are cleaned again. {what}")
        else:
            shown = True
        if shown:  # not shown: tried again at the next check
            self._pause, self._updating = pause, None
