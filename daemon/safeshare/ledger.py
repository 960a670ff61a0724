"""What the daemon has processed (sqlite3 in the state folder).

One row per input path with its size, mtime, content hash, outcome (a `Disposition`), output
path, the key of the settings the copy was made with and the *categories* removed (never the
removed values), plus a short history for `status`.
An intent row (WORKING, with the chosen output) is written before an output is published,
so a crash between publishing and recording cannot produce a second copy.
Paths are stored as bytes: file names need not be valid UTF-8.

The ledger never stops the daemon:
- every write is one transaction (BEGIN IMMEDIATE ... COMMIT) that is rolled back on any
  error, so a failed call leaves the connection usable;
- another process holding the ledger delays a call up to `busy_wait` seconds (waiting in
  short slices, so the daemon's other threads keep reading meanwhile); after that
  `LedgerError` is raised, nothing is recorded, and the caller tries the file later;
- a damaged ledger (not a database, malformed pages, a folder or an unreadable file in its
  place) is moved aside with its -wal/-shm (`ledger.sqlite3.corrupt-<time>`), a new one is
  started and the user is told in plain words (`notices`, `on_notice`, `open_ledger`), at
  start or when the damage shows up later in a query; the next start opens the new one.
The ledger and its side files are 0600 in a 0700 folder (`paths.private_dir`).
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TypeVar

from safeshare.disposition import FINAL, LEGACY, Disposition
from safeshare.errors import LedgerError, describe_os_error
from safeshare.paths import private_dir, private_open, tighten

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

log = logging.getLogger(__name__)
T = TypeVar("T")

LEDGER_NAME = "ledger.sqlite3"
# 0: the first ledgers (outcome 'cleaned', no settings column, no meta table);
# 2: `Disposition` values, a settings key per row, notes for `health()` in `meta`.
SCHEMA_VERSION = 2
BUSY_WAIT = 30.0  # seconds a call waits for another process holding the ledger, then LedgerError
BUSY_SLICE = 0.25  # sqlite's own busy timeout per attempt; other threads use the ledger in between
BUSY_NOTED = 1.0  # a wait at least this long shows in `health()` (and so in `safeshare status`)
NOTE_SECONDS = 24 * 3600  # how long `health()` mentions a replaced ledger or a long wait
READONLY_WAIT = 5.0  # `safeshare status` does not hang on a busy ledger
HISTORY_KEPT = 500
SIDE_FILES = ("-wal", "-shm", "-journal")

TABLES = (
    "CREATE TABLE IF NOT EXISTS files ("
    " path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT,"
    " outcome TEXT NOT NULL, output BLOB, format TEXT, categories TEXT, reason TEXT,"
    " updated_at REAL NOT NULL, settings TEXT)",
    "CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256)",
    "CREATE INDEX IF NOT EXISTS files_output ON files(output)",
    "CREATE TABLE IF NOT EXISTS folders (path BLOB PRIMARY KEY, baselined_at REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS history ("
    " id INTEGER PRIMARY KEY, at REAL NOT NULL, path BLOB NOT NULL, outcome TEXT NOT NULL,"
    " output BLOB, categories TEXT, reason TEXT)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)",
)
COLUMNS = "path, size, mtime_ns, sha256, outcome, output, categories, reason, updated_at, settings"
OLD_COLUMNS = COLUMNS.replace("settings", "NULL")  # a ledger not migrated yet, read by `status`
HISTORY_COLUMNS = "path, NULL, NULL, NULL, outcome, output, categories, reason, at, NULL"


def _sql_list(outcomes: frozenset[Disposition] | set[Disposition]) -> str:
    return ", ".join(sorted(f"'{d.value}'" for d in outcomes))


FINAL_SQL = _sql_list(FINAL)
ERRORS_SQL = _sql_list({Disposition.REFUSED, Disposition.FAILED, Disposition.RETRY_OUTPUT})
SEEN_SQL = _sql_list({Disposition.PUBLISHED, Disposition.REFUSED})

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED
_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


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


class _Damage(Exception):
    """The file in the ledger's place is not a usable ledger."""


def _code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and (_code(exc) in _BUSY_CODES or "database is locked" in str(exc))


def _is_damage(exc: BaseException) -> bool:
    if isinstance(exc, _Damage):
        return True
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        _code(exc) in _DAMAGE_CODES or "malformed" in text or "not a database" in text
    )


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _rollback(db: sqlite3.Connection) -> bool:
    """Roll back whatever is open; False when the connection is still inside a transaction."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
    return not db.in_transaction


def _clock(timestamp: float) -> str:
    when = datetime.datetime.fromtimestamp(timestamp)
    return when.strftime("%H:%M" if when.date() == datetime.date.today() else "%Y-%m-%d %H:%M")


class Ledger:
    """Thread-safe: the daemon's threads share one connection behind a lock.

    `Ledger(path)` opens (creating it, migrating an older ledger, replacing a damaged one) or
    raises `LedgerError`. `readonly=True` (see `open_readonly`) never writes, migrates or
    moves anything: damage is reported as `LedgerError`.
    """

    def __init__(
        self,
        path: Path,
        *,
        busy_wait: float = BUSY_WAIT,
        on_notice: Callable[[str], None] | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = path
        self.busy_wait = busy_wait
        self.readonly = readonly
        self.on_notice = on_notice
        self.notices: list[str] = []  # plain-words notices for the user (also logged), oldest first
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        self._closed = False
        self._columns = COLUMNS
        self._replaced: tuple[float, Path] | None = None  # when, where the damaged one went
        self._busy: tuple[float, float, bool] | None = None  # when, seconds waited, gave up
        self._unsaved: set[str] = set()  # notes not yet in the meta table
        self._call(lambda db: None, write=False)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._disconnect()

    # -- files ---------------------------------------------------------------------------
    def get(self, path: Path) -> Record | None:
        rows = self._read(f"SELECT {self._columns} FROM files WHERE path = ?", (_b(path),))
        return _record(rows[0]) if rows else None

    def is_done(self, path: Path, size: int, mtime_ns: int) -> bool:
        """True when this exact file (same size and mtime) already has a final outcome."""
        record = self.get(path)
        return (
            record is not None and record.outcome.final and (record.size, record.mtime_ns) == (size, mtime_ns)
        )

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
    ) -> None:
        """Record the outcome of `path` (one transaction). Raises LedgerError, with nothing
        recorded, when the ledger stays busy or cannot be written: try the file later."""
        if not isinstance(outcome, Disposition):
            raise TypeError(f"outcome must be a Disposition, not {outcome!r}")
        now = time.time()
        cats = ",".join(categories)
        row = (_b(path), size, mtime_ns, sha256, outcome.value, _b(output), fmt, cats, reason, now, settings)

        def write(db: sqlite3.Connection) -> None:
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
    def is_baselined(self, folder: Path) -> bool:
        return bool(self._read("SELECT 1 FROM folders WHERE path = ?", (_b(folder),)))

    def mark_baselined(self, folder: Path) -> None:
        now = time.time()
        self._call(
            lambda db: db.execute("INSERT OR REPLACE INTO folders VALUES (?, ?)", (_b(folder), now)),
            write=True,
        )

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

    # -- machinery ---------------------------------------------------------------------------
    def _read(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        return self._call(lambda db: db.execute(sql, args).fetchall(), write=False)

    def _call(self, work: Callable[[sqlite3.Connection], T], *, write: bool) -> T:
        """`work` on the connection (in a write transaction when `write`), waiting out another
        process up to `busy_wait`, replacing a damaged ledger once; else LedgerError."""
        started = time.monotonic()
        replaced = False
        while True:
            with self._lock:
                try:
                    db = self._connection()
                    return self._attempt(db, work, write, started)
                except (sqlite3.InterfaceError, sqlite3.ProgrammingError):
                    raise  # a mistake of ours (a value sqlite cannot store), not the ledger's state
                except (sqlite3.Error, _Damage) as exc:
                    waited = time.monotonic() - started
                    if _is_busy(exc):
                        if waited >= self.busy_wait:
                            self._note_busy(waited, gave_up=True)
                            raise LedgerError(
                                f"the ledger {self.path} is busy: another process has held it for"
                                f" {waited:.0f} s; nothing was recorded, try again later"
                            ) from exc
                    elif _is_damage(exc) and self.readonly:
                        raise LedgerError(
                            f"damaged ({exc}): the daemon moves it aside and starts a new one"
                            " when it next uses it"
                        ) from exc
                    elif _is_damage(exc) and not replaced:
                        self._replace(exc)
                        replaced = True
                        continue
                    else:
                        raise LedgerError(f"the ledger {self.path} cannot be used: {exc}") from exc
            time.sleep(0.01)  # outside the lock: the daemon's other threads use the ledger meanwhile

    def _attempt(
        self, db: sqlite3.Connection, work: Callable[[sqlite3.Connection], T], write: bool, started: float
    ) -> T:
        if not write:
            return work(db)
        if self.readonly:
            raise LedgerError(f"the ledger {self.path} was opened read-only")
        db.execute("BEGIN IMMEDIATE")  # the write lock now: no busy surprise in the middle
        try:
            waited = time.monotonic() - started
            if waited >= BUSY_NOTED:
                self._note_busy(waited, gave_up=False)
            saved = self._save_notes(db)
            result = work(db)
            db.execute("COMMIT")
        except BaseException as exc:
            if not _rollback(db) and not _is_damage(exc):
                self._disconnect()  # never left inside a transaction: the next call reconnects
            raise
        self._unsaved -= saved
        return result

    def _connection(self) -> sqlite3.Connection:
        if self._closed:
            raise LedgerError(f"the ledger {self.path} is closed")
        return self._db if self._db is not None else self._connect()

    def _disconnect(self) -> None:
        if self._db is not None:
            with contextlib.suppress(sqlite3.Error):
                self._db.close()
            self._db = None

    def _connect(self) -> sqlite3.Connection:
        """Open, check and migrate: raises _Damage or sqlite3.Error (the caller sorts them)."""
        path = self.path
        if os.path.lexists(path):
            try:
                st = path.stat()
            except OSError as exc:
                raise _Damage(f"it cannot be read: {describe_os_error(exc)}") from exc
            if not stat.S_ISREG(st.st_mode):
                raise _Damage("it is not a file")
            if not os.access(path, os.R_OK if self.readonly else os.R_OK | os.W_OK):
                raise _Damage("it cannot be read" if self.readonly else "it cannot be read and written")
        for suffix in ("", *SIDE_FILES):
            tighten(_side(path, suffix))  # sqlite gives -wal and -shm the mode of the ledger
        timeout = max(0.0, min(BUSY_SLICE, self.busy_wait))
        if self.readonly:
            uri = path.absolute().as_uri() + "?mode=ro"
            db = sqlite3.connect(
                uri, uri=True, timeout=timeout, isolation_level=None, check_same_thread=False
            )
        else:
            try:
                private_dir(path.parent)
                os.close(private_open(path, os.O_RDWR | os.O_CREAT))  # sqlite would create it 0644
            except OSError as exc:
                raise LedgerError(f"cannot create the ledger {path}: {describe_os_error(exc)}") from exc
            db = sqlite3.connect(path, timeout=timeout, isolation_level=None, check_same_thread=False)
        self._db = db
        try:
            if self.readonly:
                columns = {row[1] for row in db.execute("PRAGMA table_info(files)")}
                self._columns = COLUMNS if "settings" in columns else OLD_COLUMNS
            else:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                check = db.execute("PRAGMA quick_check(1)").fetchone()
                if not check or check[0] != "ok":
                    raise _Damage(str(check[0]) if check else "it does not pass sqlite's check")
                self._migrate(db)
            self._load_notes(db)
            if self._unsaved and not self.readonly:
                db.execute("BEGIN IMMEDIATE")
                try:
                    saved = self._save_notes(db)
                    db.execute("COMMIT")
                except BaseException:
                    _rollback(db)
                    raise
                self._unsaved -= saved
        except BaseException as exc:
            # A damaged ledger's connection is closed only once it has been moved aside:
            # closing it first would let sqlite delete its -wal, which may hold the last rows.
            if self.readonly or not _is_damage(exc):
                self._disconnect()
            raise
        return db

    @staticmethod
    def _migrate(db: sqlite3.Connection) -> None:
        """Tables of this version; an older ledger gets the settings column (NULL: matches no
        settings key, so those files are cleaned again) and `Disposition` values."""
        if _int(db.execute("PRAGMA user_version").fetchone()[0]) >= SCHEMA_VERSION:
            return
        db.execute("BEGIN IMMEDIATE")
        try:
            for statement in TABLES:
                db.execute(statement)
            if "settings" not in {row[1] for row in db.execute("PRAGMA table_info(files)")}:
                db.execute("ALTER TABLE files ADD COLUMN settings TEXT")
            for old, new in LEGACY.items():
                db.execute("UPDATE files SET outcome = ? WHERE outcome = ?", (new, old))
                db.execute("UPDATE history SET outcome = ? WHERE outcome = ?", (new, old))
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise

    def _replace(self, exc: BaseException) -> None:
        """Move the damaged ledger and its side files aside, then close its connection (sqlite
        deletes the -wal of a connection it closes last); the next connection starts anew."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target, n = self.path.with_name(f"{self.path.name}.corrupt-{stamp}"), 1
        while any(os.path.lexists(_side(target, s)) for s in ("", *SIDE_FILES)):
            n += 1
            target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        try:
            for suffix in ("", *SIDE_FILES):
                if os.path.lexists(_side(self.path, suffix)):
                    _side(self.path, suffix).rename(_side(target, suffix))
                    tighten(_side(target, suffix))
        except OSError as error:
            self._disconnect()
            raise LedgerError(
                f"the ledger {self.path} is damaged ({exc}) and cannot be moved aside:"
                f" {describe_os_error(error)}"
            ) from error
        self._disconnect()
        self._replaced = (time.time(), target)
        self._unsaved.add("replaced")
        notice = (
            f"The safeshare ledger was damaged and was moved aside to {target}; "
            "files already cleaned may be cleaned again."
        )
        log.warning("%s (%s)", notice, exc)
        self.notices.append(notice)
        if self.on_notice is not None:
            try:
                self.on_notice(notice)
            except Exception:  # telling the user must not stop the ledger
                log.exception("cannot pass on the ledger notice")

    def _note_busy(self, waited: float, gave_up: bool) -> None:
        self._busy = (time.time(), waited, gave_up)
        self._unsaved.add("busy")
        log.info(
            "the ledger was busy: waited %.1f s for another process%s",
            waited,
            ", gave up for now" if gave_up else "",
        )

    def _save_notes(self, db: sqlite3.Connection) -> set[str]:
        """Notes for `health()` into `meta`, inside the caller's transaction; the names saved."""
        rows: list[tuple[str, object]] = []
        if "replaced" in self._unsaved and self._replaced is not None:
            rows += [("replaced_at", self._replaced[0]), ("replaced_to", os.fsencode(self._replaced[1]))]
        if "busy" in self._unsaved and self._busy is not None:
            at, waited, gave_up = self._busy
            rows += [("busy_at", at), ("busy_seconds", waited), ("busy_gave_up", int(gave_up))]
        db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
        return set(self._unsaved)

    def _load_notes(self, db: sqlite3.Connection) -> None:
        try:
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            return  # an older ledger read by `status`: no notes yet
        at, moved = meta.get("replaced_at"), meta.get("replaced_to")
        if (
            isinstance(at, float)
            and isinstance(moved, bytes)
            and (self._replaced is None or self._replaced[0] < at)
        ):
            self._replaced = (at, Path(os.fsdecode(moved)))
        at, waited, gave_up = meta.get("busy_at"), meta.get("busy_seconds"), meta.get("busy_gave_up")
        if isinstance(at, float) and isinstance(waited, float) and (self._busy is None or self._busy[0] < at):
            self._busy = (at, waited, bool(gave_up))


def _b(path: Path | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


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
