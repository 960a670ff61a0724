"""What the daemon has processed (sqlite3 in the state folder).

One row per input path with its size, mtime, content hash, outcome (a `Disposition`), output
path, the key of the settings the copy was made with and the *categories* removed (never the
removed values), plus a short history for `status`.
An intent row (WORKING, with the chosen output) is written before an output is published,
so a crash between publishing and recording cannot produce a second copy.
Paths are stored as bytes: file names need not be valid UTF-8.
The ledger never stops the daemon: a busy ledger delays a call, then raises `LedgerError`
with nothing recorded; a damaged one is moved aside and replaced, and the user is told
(`notices`, `on_notice`, `open_ledger`). How is in `safeshare.ledger_store`.
"""

from __future__ import annotations

import datetime
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from safeshare.disposition import FINAL, Disposition
from safeshare.errors import LedgerError
from safeshare.ledger_store import BUSY_WAIT, LedgerStore

__all__ = [
    "BUSY_WAIT",
    "HISTORY_KEPT",
    "LEDGER_NAME",
    "Ledger",
    "LedgerError",
    "Record",
    "open_ledger",
    "open_readonly",
]


LEDGER_NAME = "ledger.sqlite3"
NOTE_SECONDS = 24 * 3600  # how long `health()` mentions a replaced ledger or a long wait
READONLY_WAIT = 5.0  # `safeshare status` does not hang on a busy ledger
HISTORY_KEPT = 500
HISTORY_COLUMNS = "path, NULL, NULL, NULL, outcome, output, categories, reason, at, NULL"


def _sql_list(outcomes: frozenset[Disposition] | set[Disposition]) -> str:
    return ", ".join(sorted(f"'{d.value}'" for d in outcomes))


FINAL_SQL = _sql_list(FINAL)
ERRORS_SQL = _sql_list({Disposition.REFUSED, Disposition.FAILED, Disposition.RETRY_OUTPUT})
SEEN_SQL = _sql_list({Disposition.PUBLISHED, Disposition.REFUSED})


@dataclass(frozen=True)
class Record:
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None
    outcome: Disposition
    output: Path | None
    categories: tuple[str, ...]
    reason: str
    at: float
    settings: str | None = None  # the caller's key for the settings the output was made with

    def done(self, size: int, mtime_ns: int) -> bool:
        """This exact file (same size and mtime) already has a final outcome."""
        return self.outcome.final and (self.size, self.mtime_ns) == (size, mtime_ns)


def _clock(timestamp: float) -> str:
    when = datetime.datetime.fromtimestamp(timestamp)
    return when.strftime("%H:%M" if when.date() == datetime.date.today() else "%Y-%m-%d %H:%M")


class Ledger(LedgerStore):
    """Thread-safe: the daemon's threads share one connection behind a lock.

    `Ledger(path)` opens (creating it, migrating an older ledger, replacing a damaged one) or
    raises `LedgerError`. `readonly=True` (see `open_readonly`) never writes, migrates or
    moves anything: damage is reported as `LedgerError`.
    """

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- files ---------------------------------------------------------------------------
    def get(self, path: Path) -> Record | None:
        rows = self._read(f"SELECT {self._columns} FROM files WHERE path = ?", (_b(path),))
        return _record(rows[0]) if rows else None

    def is_done(self, path: Path, size: int, mtime_ns: int) -> bool:
        """True when this exact file (same size and mtime) already has a final outcome."""
        record = self.get(path)
        return record is not None and record.done(size, mtime_ns)

    def content_seen(self, sha256: str, settings: str) -> Record | None:
        """A file with this content, handled with these settings, that was published (and
        whose copy is still there) or refused: it is not done again. Rows without a settings
        key (older ledgers) never match, nor does a copy the user deleted."""
        rows = self._read(
            f"SELECT {self._columns} FROM files WHERE sha256 = ? AND settings = ?"
            f" AND outcome IN ({SEEN_SQL}) ORDER BY updated_at DESC",
            (sha256, settings),
        )
        for row in rows:
            record = _record(row)
            if record.outcome is Disposition.PUBLISHED and (
                record.output is None or not os.path.lexists(record.output)
            ):
                continue
            return record
        return None

    def owner_of(self, output: Path) -> Path | None:
        rows = self._read("SELECT path FROM files WHERE output = ? LIMIT 1", (_b(output),))
        return _path_or_none(rows[0][0]) if rows else None

    def record(
        self,
        path: Path,
        outcome: Disposition,
        *,
        size: int | None = None,
        mtime_ns: int | None = None,
        sha256: str | None = None,
        output: Path | None = None,
        fmt: str = "",
        categories: list[str] | tuple[str, ...] = (),
        reason: str = "",
        settings: str | None = None,
        history: bool = True,
        timed_at_write: bool = False,
    ) -> None:
        """Record the outcome of `path` (one transaction). Raises LedgerError, with nothing
        recorded, when the ledger stays busy or cannot be written: try the file later. The
        row's time is when this was called (a published copy is the photo's since then), or,
        `timed_at_write`, when the ledger was ours (a 'publishing' row: its rename follows
        within seconds of that, however long the ledger was busy)."""
        if not isinstance(outcome, Disposition):
            raise TypeError(f"outcome must be a Disposition, not {outcome!r}")
        cats = ",".join(categories)
        called = time.time()

        def write(db: sqlite3.Connection) -> None:
            now = time.time() if timed_at_write else called
            row = (
                _b(path),
                size,
                mtime_ns,
                sha256,
                outcome.value,
                _b(output),
                fmt,
                cats,
                reason,
                now,
                settings,
            )
            db.execute(
                "INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256, outcome, output, format,"
                " categories, reason, updated_at, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if history:
                db.execute(
                    "INSERT INTO history (at, path, outcome, output, categories, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (now, _b(path), outcome.value, _b(output), cats, reason),
                )
                db.execute(
                    "DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?", (HISTORY_KEPT,)
                )

        self._call(write, write=True)

    def unfinished(self) -> list[Record]:
        """Files without a final outcome: interrupted (WORKING), failed or waiting for a retry."""
        rows = self._read(f"SELECT {self._columns} FROM files WHERE outcome NOT IN ({FINAL_SQL})")
        return [_record(r) for r in rows]

    # -- folders ---------------------------------------------------------------------------
    # A recursive watch has a baseline of its own: a folder first watched alone and then with
    # its subfolders finds the pictures already in them noted, not cleaned (NUL ends no path).
    def is_baselined(self, folder: Path, recursive: bool = False) -> bool:
        return bool(self._read("SELECT 1 FROM folders WHERE path = ?", (_folder_key(folder, recursive),)))

    def mark_baselined(self, folder: Path, recursive: bool = False) -> None:
        now, key = time.time(), _folder_key(folder, recursive)
        self._call(
            lambda db: db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (key, now)), write=True
        )

    def carry_over(self, origin: Path, path: Path, size: int, mtime_ns: int) -> bool:
        """`path` is `origin` renamed (same size and mtime): its final row moves with it, and
        with the row its copy's name. False (nothing changed) when there is no such row."""
        old = self.get(origin)
        if old is None or not old.outcome.final or (old.size, old.mtime_ns) != (size, mtime_ns):
            return False

        def move(db: sqlite3.Connection) -> None:
            db.execute("DELETE FROM files WHERE path = ?", (_b(path),))
            db.execute("UPDATE files SET path = ? WHERE path = ?", (_b(path), _b(origin)))

        self._call(move, write=True)
        return True

    def count_since(self, outcome: Disposition, since: float) -> int:
        """Files whose outcome is `outcome`, recorded at `since` or later."""
        sql = "SELECT COUNT(*) FROM files WHERE outcome = ? AND updated_at >= ?"
        rows = self._read(sql, (outcome.value, since))
        return _int(rows[0][0]) if rows else 0

    # -- status ------------------------------------------------------------------------------
    def counts(self) -> dict[Disposition, int]:
        counts: dict[Disposition, int] = {}
        for text, count in self._read("SELECT outcome, COUNT(*) FROM files GROUP BY outcome"):
            outcome = _outcome(text)
            if outcome is not None:
                counts[outcome] = counts.get(outcome, 0) + _int(count)
        return counts

    def recent(self, limit: int = 10, errors_only: bool = False) -> list[Record]:
        where = f"outcome IN ({ERRORS_SQL})" if errors_only else f"outcome != '{Disposition.WORKING.value}'"
        rows = self._read(
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE {where} ORDER BY id DESC LIMIT ?", (limit,)
        )
        return [_record(r) for r in rows]

    def gone_from_disk(self) -> bool:
        """True when the file it writes to was deleted or replaced under it (by the user or
        another program); `reopen` then starts on whatever is at its path now."""
        with self._lock:
            if self._db is None or self._identity is None:
                return False
            try:
                st = self.path.stat()
            except OSError:
                return True
            return (st.st_dev, st.st_ino) != self._identity

    def reopen(self) -> None:
        with self._lock:
            self._disconnect()
            self._identity = None

    def health(self) -> str:
        """One line for `safeshare status`: "ok", "replaced a damaged ledger at HH:MM (moved
        to ...)", "busy: waited N s for another process at HH:MM" (notes of the last 24 h,
        kept in the ledger so that another process sees them)."""
        now = time.time()
        with self._lock:
            replaced, busy = self._replaced, self._busy
        parts = []
        if replaced is not None and now - replaced[0] < NOTE_SECONDS:
            parts.append(f"replaced a damaged ledger at {_clock(replaced[0])} (moved to {replaced[1]})")
        if busy is not None and now - busy[0] < NOTE_SECONDS:
            text = f"busy: waited {busy[1]:.0f} s for another process at {_clock(busy[0])}"
            parts.append(text + (", then put files off to try them again later" if busy[2] else ""))
        return "; ".join(parts) or "ok"


def _b(path: Path | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def _folder_key(folder: Path, recursive: bool) -> bytes:
    return os.fsencode(folder) + (b"\0recursive" if recursive else b"")


def _p(raw: bytes | None) -> Path | None:
    return None if raw is None else Path(os.fsdecode(raw))


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _path_or_none(value: object) -> Path | None:
    return _p(value) if isinstance(value, bytes) else None


def _outcome(text: object) -> Disposition | None:
    try:
        return Disposition.from_ledger(str(text))
    except ValueError:
        return None  # written by a newer safeshare


def _record(row: tuple[object, ...]) -> Record:
    path, size, mtime_ns, sha, outcome, output, cats, reason, at, settings = row
    return Record(
        path=_path_or_none(path) or Path(),
        size=_int(size),
        mtime_ns=_int(mtime_ns),
        sha256=sha if isinstance(sha, str) else None,
        outcome=_outcome(outcome) or Disposition.FAILED,  # unknown: not final, looked at again
        output=_path_or_none(output),
        categories=tuple(c for c in str(cats or "").split(",") if c),
        reason=str(reason or ""),
        at=float(at) if isinstance(at, int | float) else 0.0,
        settings=settings if isinstance(settings, str) else None,
    )


def open_ledger(
    path: Path, *, busy_wait: float = BUSY_WAIT, on_notice: Callable[[str], None] | None = None
) -> tuple[Ledger, str | None]:
    """The daemon's ledger and, when a damaged one was moved aside to open it, the plain-words
    notice for the user (also logged, and in `ledger.notices`). Raises LedgerError when no
    ledger can be opened at all (state folder not writable, ledger held past `busy_wait`)."""
    ledger = Ledger(path, busy_wait=busy_wait, on_notice=on_notice)
    return ledger, (ledger.notices[-1] if ledger.notices else None)


def open_readonly(path: Path) -> Ledger | None:
    """For `safeshare status`: the ledger if it exists, read-only (nothing is created, migrated
    or moved; a damaged ledger raises LedgerError)."""
    return Ledger(path, busy_wait=READONLY_WAIT, readonly=True) if os.path.lexists(path) else None
