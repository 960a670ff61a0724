"""`safeshare pause [--for]` / `resume`: photos that arrive meanwhile are noted, never cleaned
later, and the pause is said when it begins and ends (exact times from an injected clock)."""

from __future__ import annotations

import datetime
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from safeshare import pause as pause_mod
from safeshare.announce import Announcer
from tests.daemon_harness import DaemonRun, wait_until
from tests.dbus_session import notification_server

CORPUS = Path(__file__).parent / "corpus" / "jpeg"


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "safeshare", *args], env=env, capture_output=True, text=True)


def test_durations() -> None:
    assert [pause_mod.parse_duration(t) for t in ("90s", "30m", "1h", "1h30m", "2d", "1.5h")] == [
        90,
        1800,
        3600,
        5400,
        172800,
        5400,
    ]
    for bad in ("", "h", "1x", "1h 30", "-1h", "0m", "31d", "soon"):
        with pytest.raises(ValueError):
            pause_mod.parse_duration(bad)


def test_a_pause_is_said_when_it_begins_and_when_it_ends(tmp_path: Path) -> None:
    now = [1_000_000.0]
    said: list[tuple[str, str]] = []

    def inform(title: str, body: str) -> bool:
        said.append((title, body))
        return True

    announce = Announcer(tmp_path, inform, clock=lambda: now[0])
    announce.count_paused = lambda since: 3 if since == 1_000_000.0 else -1
    announce.check()
    assert said == [] and not announce.paused()
    pause_mod.write(tmp_path, pause_mod.Pause(now[0], now[0] + 3600))
    assert announce.paused()
    # a file that landed before the pause began (it was settling) is cleaned; one after is not
    assert not announce.paused(landed=now[0] - 0.5) and announce.paused(landed=now[0])
    announce.check()
    end = datetime.datetime.fromtimestamp(now[0] + 3600).strftime("%H:%M")
    assert said == [
        ("safeshare is paused", f"New photos in the watched folders are noted, not cleaned, until {end}.")
    ]
    now[0] += 3599
    announce.check()
    assert len(said) == 1 and announce.paused()
    now[0] += 1  # the hour is over: it ends by itself
    assert not announce.paused()
    announce.check()
    assert said[1] == (
        "safeshare is cleaning again",
        "New photos are cleaned again. 3 photos that arrived while it was paused were not cleaned; "
        "`safeshare clean` makes copies of any you need.",
    )
    announce.check()
    assert len(said) == 2
    pause_mod.write(tmp_path, pause_mod.Pause(now[0], None))
    announce.check()
    assert said[2][1].endswith("not cleaned, until you run `safeshare resume`.")
    assert pause_mod.clear(tmp_path) and not pause_mod.clear(tmp_path)
    announce.count_paused = lambda since: 0
    announce.check()
    assert said[3][1] == "New photos are cleaned again. No new photos arrived while it was paused."


def test_news_that_could_not_be_shown_is_said_later(tmp_path: Path) -> None:
    """No notification service yet (an early login): the first-start notice and a pause are
    said at the next chance, not marked as said."""
    shown, said = [False], []

    def inform(title: str, body: str) -> bool:
        said.append(title)
        return shown[0]

    announce = Announcer(tmp_path, inform, clock=lambda: 5.0)
    announce.resumed = lambda: 2
    announce.first_start([], tmp_path / "out", 0)
    assert not (tmp_path / "first-start-said").exists()
    pause_mod.write(tmp_path, pause_mod.Pause(1.0, None))
    announce.check()
    announce.check()
    assert said == ["safeshare is watching your pictures", "safeshare is paused", "safeshare is paused"]
    shown[0] = True
    announce.first_start([], tmp_path / "out", 0)
    announce.check()
    assert (tmp_path / "first-start-said").exists()
    announce.check()
    assert said.count("safeshare is paused") == 3
    pause_mod.clear(tmp_path)
    shown[0] = False
    announce.check()
    shown[0] = True
    messages: list[str] = []
    announce.inform = lambda title, body: bool(messages.append(body)) or True
    announce.check()  # held photos are handed back once, said with the retried news
    assert messages == [
        "New photos are cleaned again. No new photos arrived while it was paused. "
        "2 photos with a copy changed meanwhile: updated now."
    ]


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        '{"since": 0, "until": 1e20}',  # no calendar holds it: `status` and the daemon must not crash
        '{"since": 1e400, "until": null}',
        '{"since": 10, "until": 5}',
        '{"since": 0, "until": 1e9}',  # longer than 30 days
        '{"until": 5}',
        "[1, 2]",
    ],
)
def test_an_unreadable_pause_is_no_pause(tmp_path: Path, caplog: pytest.LogCaptureFixture, text: str) -> None:
    (tmp_path / pause_mod.PAUSE_NAME).write_text(text)
    assert pause_mod.current(tmp_path, 1.0) is None
    assert pause_mod.pause_line(tmp_path, 1.0) is None
    assert "cannot be read" in caplog.text


def test_the_daemon_pauses_and_resumes(tmp_path: Path) -> None:
    with notification_server(tmp_path) as (address, recorder):
        run = DaemonRun(tmp_path / "d", extra="[notify]\nburst_seconds = 0.3\n")
        run.env["DBUS_SESSION_BUS_ADDRESS"] = address
        run.pictures.mkdir(parents=True)
        with run:
            shutil.copyfile(CORPUS / "exif-samples__DSCN0021.jpg", run.pictures / "shared.jpg")
            wait_until(lambda: (run.output / "shared.jpg").exists(), timeout=30)
            first_copy = (run.output / "shared.jpg").read_bytes()
            bad = cli("pause", "--for", "forever", env=run.env)
            assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "not a duration" in bad.stderr
            paused = cli("pause", "--for", "1h", env=run.env)
            assert paused.returncode == 0 and paused.stdout.startswith("paused until ")
            assert oct((run.state / pause_mod.PAUSE_NAME).stat().st_mode & 0o777) == "0o600"
            wait_until(lambda: [n for n in recorder.received() if n["summary"] == "safeshare is paused"])
            shutil.copyfile(CORPUS / "exif-samples__Canon_40D.jpg", run.pictures / "import.jpg")
            wait_until(lambda: outcome(run, "import.jpg") == "paused", timeout=30)
            (run.pictures / "shared.jpg").write_bytes((CORPUS / "exif-samples__DSCN0029.jpg").read_bytes())
            wait_until(lambda: "shared.jpg arrived while paused" in run.log.read_text(), timeout=30)
            assert (run.output / "shared.jpg").read_bytes() == first_copy  # not while paused
            status = cli("status", env=run.env).stdout
            assert "paused: new photos are noted, not cleaned, until " in status

            resumed = cli("resume", env=run.env)
            assert resumed.stdout == "new photos are cleaned again\n"
            again = wait_until(
                lambda: [n for n in recorder.received() if n["summary"] == "safeshare is cleaning again"]
            )
            assert "1 photo that arrived while it was paused was not cleaned" in again[0]["body"]
            # the photo that was shared before and changed during the pause: its copy, same name
            assert again[0]["body"].endswith("1 photo with a copy changed meanwhile: updated now.")
            wait_until(lambda: (run.output / "shared.jpg").read_bytes() != first_copy, timeout=30)
            shutil.copyfile(CORPUS / "exif-samples__DSCN0010.jpg", run.pictures / "after.jpg")
            wait_until(lambda: (run.output / "after.jpg").exists(), timeout=30)
            assert not (run.output / "import.jpg").exists()  # noted while paused: never cleaned later
            assert "paused:" not in cli("status", env=run.env).stdout
            assert cli("resume", env=run.env).stdout == "safeshare was not paused\n"
            with (run.pictures / "import.jpg").open("ab") as changed:  # changed since: cleaned
                changed.write(b"\0")
            wait_until(lambda: (run.output / "import.jpg").exists(), timeout=30)
        assert sorted(p.name for p in run.output.iterdir()) == ["after.jpg", "import.jpg", "shared.jpg"]


def outcome(run: DaemonRun, name: str) -> str | None:
    if not (run.state / "ledger.sqlite3").exists():
        return None
    with sqlite3.connect(run.state / "ledger.sqlite3") as db:
        row = db.execute(
            "SELECT outcome FROM files WHERE path = ?", (os.fsencode(run.pictures / name),)
        ).fetchone()
    return str(row[0]) if row else None
