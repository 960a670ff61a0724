"""The ledger never stops the daemon: a failed write is rolled back, another process holding
the ledger delays writes without losing them (or, past a bounded wait, says so with
LedgerError), a damaged ledger is moved aside and a new one started, at start or later; and
a copy is keyed by content and settings. Real sqlite files, real second processes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from safeshare import config as config_mod
from safeshare.disposition import Disposition
from safeshare.ledger import Ledger, LedgerError, open_ledger, open_readonly
from safeshare.status import status_lines
from tests import synth
from tests.daemon_harness import DaemonRun, wait_until

NOTICE = "The safeshare ledger was damaged and was moved aside to "

# The schema of the first ledgers (before outcomes were `Disposition` values and rows had a
# settings key), as they exist on users' disks.
OLD_SCHEMA = """
CREATE TABLE files (
    path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    outcome TEXT NOT NULL, output BLOB, format TEXT, categories TEXT, reason TEXT,
    updated_at REAL NOT NULL);
CREATE INDEX files_sha256 ON files(sha256);
CREATE INDEX files_output ON files(output);
CREATE TABLE folders (path BLOB PRIMARY KEY, baselined_at REAL NOT NULL);
CREATE TABLE history (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, path BLOB NOT NULL, outcome TEXT NOT NULL,
    output BLOB, categories TEXT, reason TEXT);
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "ledger.sqlite3"


def _filled(path: Path, rows: int = 300) -> None:
    """A ledger of several pages, all in the main file (closed, so the WAL is checkpointed)."""
    with Ledger(path) as ledger:
        for n in range(rows):
            ledger.record(
                Path(f"/pictures/IMG_{n:04}.jpg"),
                Disposition.PUBLISHED,
                size=n,
                mtime_ns=n,
                sha256=f"{n:064x}",
                output=Path(f"/safe/IMG_{n:04}.jpg"),
                categories=["gps", "device"],
                settings="k1",
            )
    assert not Path(f"{path}-wal").exists()


@contextlib.contextmanager
def _write_lock_held(path: Path, seconds: float) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the ledger's write lock (BEGIN IMMEDIATE) for `seconds`."""
    script = textwrap.dedent(
        f"""
        import sqlite3, sys, time
        db = sqlite3.connect(sys.argv[1], isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        db.execute("INSERT OR REPLACE INTO folders VALUES (x'00', 0)")
        print("locked", flush=True)
        time.sleep({seconds})
        db.execute("COMMIT")
        """
    )
    holder = subprocess.Popen([sys.executable, "-c", script, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        yield holder
    finally:
        if holder.poll() is None:
            holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=60)


def _rows(path: Path) -> dict[str, str]:
    """path -> outcome, read by an independent connection."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        return {os.fsdecode(p): o for p, o in db.execute("SELECT path, outcome FROM files")}


# -- 1. transactions and busy ----------------------------------------------------------------
def test_a_failed_write_is_rolled_back_and_later_writes_work(path: Path) -> None:
    with Ledger(path) as ledger:
        with pytest.raises(OverflowError):  # fails between BEGIN and COMMIT (sqlite cannot store it)
            ledger.record(Path("/p/huge.jpg"), Disposition.FAILED, size=2**70)
        ledger.record(Path("/p/next.jpg"), Disposition.SKIPPED, size=1, mtime_ns=1)
        ledger.mark_baselined(Path("/p"))
        assert ledger.get(Path("/p/huge.jpg")) is None
        record = ledger.get(Path("/p/next.jpg"))
        assert record is not None and record.outcome is Disposition.SKIPPED
        # Nothing is left open: another process writes at once.
        with contextlib.closing(sqlite3.connect(path, timeout=0, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("COMMIT")
    assert _rows(path) == {"/p/next.jpg": "skipped"}


def test_outcomes_are_dispositions_not_strings(path: Path) -> None:
    with Ledger(path) as ledger:
        with pytest.raises(TypeError):
            ledger.record(Path("/p/a.jpg"), "cleaned")  # type: ignore[arg-type]
        ledger.record(Path("/p/a.jpg"), Disposition.RETRY_OUTPUT, size=1, mtime_ns=1)
        ledger.record(Path("/p/b.jpg"), Disposition.BASELINE, size=1, mtime_ns=1)
        assert ledger.counts() == {Disposition.RETRY_OUTPUT: 1, Disposition.BASELINE: 1}
        assert [r.path.name for r in ledger.unfinished()] == ["a.jpg"]  # not final: resumed
        assert ledger.is_done(Path("/p/b.jpg"), 1, 1) and not ledger.is_done(Path("/p/a.jpg"), 1, 1)
        assert [r.outcome for r in ledger.recent(errors_only=True)] == [Disposition.RETRY_OUTPUT]


def test_a_write_waits_for_another_process_and_is_not_lost(path: Path) -> None:
    """A write made while another process holds the lock succeeds once it is released within
    the wait; meanwhile the daemon's other threads still read."""
    ledger = Ledger(path, busy_wait=20)
    ledger.record(Path("/p/before.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            ledger.record(Path("/p/during.jpg"), Disposition.PUBLISHED, size=2, mtime_ns=2)
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    with _write_lock_held(path, 2.0) as holder:
        writer = threading.Thread(target=write)
        started = time.monotonic()
        writer.start()
        time.sleep(0.5)
        assert writer.is_alive()  # waiting for the lock
        read_started = time.monotonic()
        assert ledger.get(Path("/p/before.jpg")) is not None
        assert time.monotonic() - read_started < 1.0  # reads are not held up by the waiting write
        writer.join(timeout=30)
        assert holder.wait(timeout=10) == 0
    assert errors == [] and not writer.is_alive()
    assert time.monotonic() - started >= 1.0
    assert ledger.get(Path("/p/during.jpg")) is not None
    assert ledger.health().startswith("busy: waited ")
    ledger.close()
    assert "/p/during.jpg" in _rows(path)
    readonly = open_readonly(path)  # another process (`safeshare status`) sees the note
    assert readonly is not None and readonly.health().startswith("busy: waited ")
    readonly.close()


def test_a_lock_held_past_the_wait_raises_ledger_error_and_nothing_is_stuck(path: Path) -> None:
    ledger = Ledger(path, busy_wait=1.0)
    with _write_lock_held(path, 5.0):
        started = time.monotonic()
        with pytest.raises(LedgerError, match="busy"):
            ledger.record(Path("/p/a.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
        assert 1.0 <= time.monotonic() - started < 3.0  # a bounded wait
        assert "gave up" in ledger.health() or "put files off" in ledger.health()
    # The caller retries later: it works, and the ledger was never left in a transaction.
    ledger.record(Path("/p/a.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
    assert ledger.get(Path("/p/a.jpg")) is not None
    ledger.close()


def test_a_lock_held_15_s_delays_a_write_but_never_loses_it(path: Path) -> None:
    """The real thing, with the default wait: another process holds the ledger for 15 s,
    longer than sqlite's own busy timeout ever was (10 s)."""
    ledger, notice = open_ledger(path)
    assert notice is None
    with _write_lock_held(path, 15.0) as holder:
        started = time.monotonic()
        ledger.record(Path("/p/a.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1, settings="k")
        waited = time.monotonic() - started
        assert holder.wait(timeout=10) == 0
    assert waited >= 13.0
    assert ledger.health().startswith("busy: waited 1")
    ledger.close()
    assert _rows(path)["/p/a.jpg"] == "published"


# -- 2. damage ---------------------------------------------------------------------------------
def _garbage(path: Path) -> None:
    path.write_bytes(os.urandom(3 * 4096))


def _truncated(path: Path) -> None:
    _filled(path)
    size = path.stat().st_size
    with path.open("r+b") as handle:
        handle.truncate(size // 2 + 100)  # mid-page


def _garbage_inside(path: Path) -> None:
    """A valid header, damaged pages."""
    _filled(path)
    with path.open("r+b") as handle:
        handle.seek(3 * 4096)
        handle.write(os.urandom(4 * 4096))


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "something").write_text("x")


def _dangling_link(path: Path) -> None:
    path.symlink_to(path.parent / "nowhere")


@pytest.mark.parametrize("damage", [_garbage, _truncated, _garbage_inside, _folder, _dangling_link])
def test_a_damaged_ledger_is_moved_aside_and_a_new_one_started(
    path: Path, damage: Callable[[Path], None]
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    damage(path)
    Path(f"{path}-wal").write_bytes(b"stale wal")  # left by the damaged one
    Path(f"{path}-shm").write_bytes(b"stale shm")
    ledger, notice = open_ledger(path)
    assert notice is not None and notice.startswith(NOTICE)
    assert notice.endswith("files already cleaned may be cleaned again.")
    moved = [p for p in path.parent.iterdir() if ".corrupt-" in p.name]
    aside = [p for p in moved if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) == 1 and str(aside[0]) in notice
    assert Path(f"{aside[0]}-wal").read_bytes() == b"stale wal"  # kept: it may hold the last rows
    assert Path(f"{aside[0]}-shm").exists()  # an index sqlite rebuilds: only moved along
    assert ledger.notices == [notice]
    assert ledger.health().startswith("replaced a damaged ledger at ")
    ledger.record(Path("/p/new.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
    assert ledger.get(Path("/p/new.jpg")) is not None
    ledger.close()
    # The next start (systemd restarts on failure) opens the new ledger: no loop.
    again, notice = open_ledger(path)
    assert notice is None and again.get(Path("/p/new.jpg")) is not None
    assert again.health().startswith("replaced a damaged ledger at ")  # `status` still says so
    again.close()
    assert len([p for p in path.parent.iterdir() if ".corrupt-" in p.name]) == len(moved)


def _without_dac_override() -> None:
    """In the child: root without the capabilities to read files it may not read."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl")


@pytest.mark.skipif(sys.platform != "linux", reason="file modes and capabilities: Linux")
def test_an_unreadable_ledger_is_left_alone_and_said_in_one_line(path: Path) -> None:
    """A permission problem is not damage: the ledger is not moved aside (its records would
    be lost and the pictures already there baselined); the user is told how to fix it."""
    _filled(path, rows=3)
    path.chmod(0o000)
    script = (
        "import sys; from pathlib import Path; from safeshare.ledger import LedgerError, open_ledger\n"
        "try:\n    open_ledger(Path(sys.argv[1]))\nexcept LedgerError as exc:\n    print(exc)"
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_without_dac_override if os.geteuid() == 0 else None,
        check=False,
    )
    if os.geteuid() == 0 and "prctl" in run.stderr:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
    assert run.returncode == 0, run.stderr
    assert "cannot be read and written by safeshare (its permissions)" in run.stdout
    assert f"chmod 600 {path}" in run.stdout
    assert list(path.parent.glob("*.corrupt-*")) == [] and path.stat().st_mode & 0o777 == 0


def test_damage_found_later_is_moved_aside_and_the_write_kept(path: Path) -> None:
    _filled(path)
    told: list[str] = []
    ledger = Ledger(path, on_notice=told.append)
    assert ledger.get(Path("/pictures/IMG_0001.jpg")) is not None
    # The disk damages the file under the running daemon; another process's write makes
    # sqlite drop its cache, so the damage shows up in the next query.
    with path.open("r+b") as handle:
        handle.seek(4096)
        handle.write(os.urandom(path.stat().st_size - 4096))
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("PRAGMA application_id = 7")  # touches the header page only
    ledger.record(Path("/p/after.jpg"), Disposition.PUBLISHED, size=1, mtime_ns=1)
    assert len(told) == 1 and told[0].startswith(NOTICE) and ledger.notices == told
    assert ledger.get(Path("/p/after.jpg")) is not None
    assert ledger.get(Path("/pictures/IMG_0001.jpg")) is None  # a new ledger
    assert ledger.health().startswith("replaced a damaged ledger at ")
    assert len(list(path.parent.glob("ledger.sqlite3.corrupt-*"))) >= 1
    ledger.close()
    assert open_ledger(path)[1] is None


def test_status_shows_the_ledger_health_and_moves_nothing(path: Path) -> None:
    config = config_mod.defaults()
    state = path.parent
    assert "files: none yet" in status_lines(config, state)
    _filled(path, rows=2)
    lines = status_lines(config, state)
    assert "files: 2 published" in lines and "ledger: ok" in lines
    _garbage(path)
    damaged = path.read_bytes()
    line = next(x for x in status_lines(config, state) if x.startswith("ledger: "))
    assert line.startswith("ledger: damaged (")
    assert path.read_bytes() == damaged and not list(state.glob("*.corrupt-*"))  # status only reads
    open_ledger(path)[0].close()
    line = next(x for x in status_lines(config, state) if x.startswith("ledger: "))
    assert line.startswith("ledger: replaced a damaged ledger at ")


def test_the_daemon_starts_on_a_damaged_ledger(tmp_path: Path) -> None:
    run = DaemonRun(tmp_path)
    run.state.mkdir(parents=True)
    _garbage(run.state / "ledger.sqlite3")
    run.pictures.mkdir(parents=True)
    with run:
        (run.pictures / "IMG_1.jpg").write_bytes(synth.jpeg())
        wait_until(lambda: run.outcomes().get(str(run.pictures / "IMG_1.jpg")) == "published", timeout=30)
    assert NOTICE in run.log.read_text()
    assert len(list(run.state.glob("ledger.sqlite3.corrupt-*"))) == 1
    with run:  # restarted: the new ledger opens, nothing is moved again
        pass
    assert len(list(run.state.glob("ledger.sqlite3.corrupt-*"))) == 1


# -- 3. content and settings -------------------------------------------------------------------
def test_a_copy_counts_only_for_the_same_settings_and_while_it_exists(path: Path, tmp_path: Path) -> None:
    copy = tmp_path / "safe" / "IMG_1.jpg"
    copy.parent.mkdir()
    copy.write_bytes(b"clean")
    with Ledger(path) as ledger:
        ledger.record(
            Path("/p/IMG_1.jpg"), Disposition.PUBLISHED, sha256="a" * 64, output=copy, settings="k1"
        )
        ledger.record(Path("/p/bad.jpg"), Disposition.REFUSED, sha256="b" * 64, settings="k1")
        ledger.record(Path("/p/skip.txt"), Disposition.SKIPPED, sha256="c" * 64, settings="k1")
        seen = ledger.content_seen("a" * 64, "k1")
        assert seen is not None and seen.output == copy and seen.settings == "k1"
        assert ledger.content_seen("a" * 64, "k2") is None  # what the user asks for now differs
        refused = ledger.content_seen("b" * 64, "k1")
        assert refused is not None and refused.outcome is Disposition.REFUSED
        assert ledger.content_seen("c" * 64, "k1") is None
        copy.unlink()  # the user deleted the copy: the photo dropped again gets a new one
        assert ledger.content_seen("a" * 64, "k1") is None


def test_an_old_ledger_is_migrated_on_open(path: Path) -> None:
    path.parent.mkdir(parents=True)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(OLD_SCHEMA)
        for name, outcome in (("a.jpg", "cleaned"), ("b.jpg", "baseline"), ("c.jpg", "working")):
            raw = os.fsencode(f"/p/{name}")
            db.execute(
                "INSERT INTO files VALUES (?, 1, 1, ?, ?, ?, 'jpeg', 'gps', '', 0)",
                (raw, name[0] * 64, outcome, os.fsencode(f"{path.parent}/{name}")),
            )
            db.execute("INSERT INTO history (at, path, outcome) VALUES (1, ?, ?)", (raw, outcome))
        db.commit()
    (path.parent / "a.jpg").write_bytes(b"clean copy")
    readonly = open_readonly(path)  # `safeshare status` of a new version before the daemon restarts
    assert readonly is not None and readonly.counts()[Disposition.PUBLISHED] == 1
    readonly.close()
    with Ledger(path) as ledger:
        record = ledger.get(Path("/p/a.jpg"))
        assert record is not None and record.outcome is Disposition.PUBLISHED and record.settings is None
        assert ledger.content_seen("a" * 64, "k1") is None  # old rows match no settings: cleaned again
        assert [r.outcome for r in ledger.recent()] == [Disposition.BASELINE, Disposition.PUBLISHED]
        assert [r.path.name for r in ledger.unfinished()] == ["c.jpg"]
    with contextlib.closing(sqlite3.connect(path)) as db:
        assert db.execute("SELECT COUNT(*) FROM files WHERE outcome = 'cleaned'").fetchone() == (0,)
        assert db.execute("SELECT COUNT(*) FROM history WHERE outcome = 'cleaned'").fetchone() == (0,)
        assert "settings" in {row[1] for row in db.execute("PRAGMA table_info(files)")}
