"""How the ledger is kept in sqlite3: the connection, schema and migration, busy waiting,
damaged ledgers moved aside, and the notes `health()` reports (stored in the ledger itself).

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
What the rows mean, and the queries on them, are in `safeshare.ledger`; damage, in `safeshare.ledger_damage`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from safeshare.disposition import LEGACY
from safeshare.errors import LedgerError, describe_os_error
from safeshare.ledger_damage import _code, _Damage, _is_damage, check_file, ledger_files, move_aside, tell
from safeshare.paths import private_dir, private_open, tighten

log = logging.getLogger("safeshare.ledger")  # the ledger's messages keep the name they always had
T = TypeVar("T")

# 0: the first ledgers (outcome 'cleaned', no settings column, no meta table);
# 2: `Disposition` values, a settings key per row, notes for `health()` in `meta`.
SCHEMA_VERSION = 2
BUSY_WAIT = 30.0  # seconds a call waits for another process holding the ledger, then LedgerError
BUSY_SLICE = 0.25  # sqlite's own busy timeout per attempt; other threads use the ledger in between
BUSY_NOTED = 1.0  # a wait at least this long shows in `health()` (and so in `safeshare status`)

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

_BUSY_CODES = (5, 6)  # SQLITE_BUSY, SQLITE_LOCKED


def _is_busy(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.Error) and (_code(exc) in _BUSY_CODES or "database is locked" in str(exc))


def _rollback(db: sqlite3.Connection) -> bool:
    """Roll back whatever is open; False when the connection is still inside a transaction."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")
    return not db.in_transaction


class LedgerStore:
    """The ledger's sqlite connection, shared by threads behind a lock, opened by `__init__`
    (see `Ledger`); `Ledger` runs its queries through `_read` and `_call`."""

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
        self._identity: tuple[int, int] | None = None  # (st_dev, st_ino) of the file it opened
        self._closed = False
        self._columns = COLUMNS
        self._replaced: tuple[float, Path] | None = None  # when, where the damaged one went
        self._busy: tuple[float, float, bool] | None = None  # when, seconds waited, gave up
        self._unsaved: set[str] = set()  # notes not yet in the meta table
        self._call(lambda db: None, write=False)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._disconnect()

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
        check_file(path, self.readonly)
        for file in ledger_files(path):
            tighten(file)  # sqlite gives -wal and -shm the mode of the ledger
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
        with contextlib.suppress(OSError):
            opened = path.stat()
            self._identity = (opened.st_dev, opened.st_ino)
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
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if isinstance(version, int) and version >= SCHEMA_VERSION:
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
        try:
            target, notice = move_aside(self.path, exc)
        except LedgerError:
            self._disconnect()
            raise
        self._disconnect()
        self._replaced = (time.time(), target)
        self._unsaved.add("replaced")
        tell(notice, exc, self.notices, self.on_notice)

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
