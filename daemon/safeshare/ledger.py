"""What the daemon has processed (sqlite3 in the state folder).

One row per input path with its size, mtime, content hash, outcome, output path and the
*categories* removed (never the removed values), plus a short history for `status`.
An intent row ('working', with the chosen output) is written before an output is
published, so a crash between publishing and recording cannot produce a second copy.
Paths are stored as bytes: file names need not be valid UTF-8.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from safeshare.errors import SafeshareError

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha256 TEXT,
    outcome TEXT NOT NULL, output BLOB, format TEXT, categories TEXT, reason TEXT,
    updated_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_output ON files(output);
CREATE TABLE IF NOT EXISTS folders (path BLOB PRIMARY KEY, baselined_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS history (
    id INTEGER PRIMARY KEY, at REAL NOT NULL, path BLOB NOT NULL, outcome TEXT NOT NULL,
    output BLOB, categories TEXT, reason TEXT);
"""
HISTORY_KEPT = 500
# Outcomes after which an unchanged file is never looked at again.
FINAL = ("cleaned", "refused", "baseline", "duplicate", "skipped")


@dataclass(frozen=True)
class Record:
    path: Path
    size: int
    mtime_ns: int
    sha256: str | None
    outcome: str
    output: Path | None
    categories: tuple[str, ...]
    reason: str
    at: float


def _b(path: Path | None) -> bytes | None:
    return None if path is None else os.fsencode(path)


def _p(raw: bytes | None) -> Path | None:
    return None if raw is None else Path(os.fsdecode(raw))


class Ledger:
    """Thread-safe: the daemon's threads share one connection behind a lock."""

    def __init__(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise SafeshareError(f"{path}: cannot open the ledger: {exc}") from exc
        self._lock = threading.Lock()
        self.path = path

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # -- files ---------------------------------------------------------------------------
    def get(self, path: Path) -> Record | None:
        rows = self._run("SELECT * FROM files WHERE path = ?", (_b(path),))
        return _record(rows[0]) if rows else None

    def is_done(self, path: Path, size: int, mtime_ns: int) -> bool:
        """True when this exact file (same size and mtime) already has a final outcome."""
        record = self.get(path)
        return (
            record is not None
            and record.outcome in FINAL
            and (record.size, record.mtime_ns) == (size, mtime_ns)
        )

    def content_seen(self, sha256: str) -> Record | None:
        """A file with this content that was cleaned or refused (so it is not done again)."""
        rows = self._run(
            "SELECT * FROM files WHERE sha256 = ? AND outcome IN ('cleaned', 'refused') LIMIT 1", (sha256,)
        )
        return _record(rows[0]) if rows else None

    def owner_of(self, output: Path) -> Path | None:
        rows = self._run("SELECT path FROM files WHERE output = ? LIMIT 1", (_b(output),))
        return _path_or_none(rows[0][0]) if rows else None

    def record(
        self,
        path: Path,
        outcome: str,
        *,
        size: int | None = None,
        mtime_ns: int | None = None,
        sha256: str | None = None,
        output: Path | None = None,
        fmt: str = "",
        categories: list[str] | tuple[str, ...] = (),
        reason: str = "",
        history: bool = True,
    ) -> None:
        now = time.time()
        cats = ",".join(categories)
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_b(path), size, mtime_ns, sha256, outcome, _b(output), fmt, cats, reason, now),
            )
            if history:
                self._db.execute(
                    "INSERT INTO history (at, path, outcome, output, categories, reason) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (now, _b(path), outcome, _b(output), cats, reason),
                )
                self._db.execute(
                    "DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?", (HISTORY_KEPT,)
                )
            self._db.execute("COMMIT")

    def unfinished(self) -> list[Record]:
        """Files whose processing was interrupted (an intent without an outcome)."""
        return [_record(r) for r in self._run("SELECT * FROM files WHERE outcome IN ('working', 'failed')")]

    # -- folders ---------------------------------------------------------------------------
    def is_baselined(self, folder: Path) -> bool:
        return bool(self._run("SELECT 1 FROM folders WHERE path = ?", (_b(folder),)))

    def mark_baselined(self, folder: Path) -> None:
        self._run("INSERT OR REPLACE INTO folders VALUES (?, ?)", (_b(folder), time.time()))

    # -- status ------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        rows = self._run("SELECT outcome, COUNT(*) FROM files GROUP BY outcome")
        return {str(outcome): _int(count) for outcome, count in rows}

    def recent(self, limit: int = 10, errors_only: bool = False) -> list[Record]:
        where = "WHERE outcome IN ('refused', 'failed')" if errors_only else "WHERE outcome != 'working'"
        columns = "path, NULL, NULL, NULL, outcome, output, '', categories, reason, at"
        rows = self._run(f"SELECT {columns} FROM history {where} ORDER BY id DESC LIMIT ?", (limit,))
        return [_record(r) for r in rows]


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _path_or_none(value: object) -> Path | None:
    return _p(value) if isinstance(value, bytes) else None


def _record(row: tuple[object, ...]) -> Record:
    path, size, mtime_ns, sha, outcome, output, _fmt, cats, reason, at = row
    return Record(
        path=_path_or_none(path) or Path(),
        size=_int(size),
        mtime_ns=_int(mtime_ns),
        sha256=sha if isinstance(sha, str) else None,
        outcome=str(outcome),
        output=_path_or_none(output),
        categories=tuple(c for c in str(cats or "").split(",") if c),
        reason=str(reason or ""),
        at=float(at) if isinstance(at, int | float) else 0.0,
    )


def open_readonly(path: Path) -> Ledger | None:
    """For `safeshare status`: the ledger if it exists, without creating one."""
    return Ledger(path) if path.exists() else None
