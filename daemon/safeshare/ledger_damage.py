"""A damaged ledger: telling damage from other errors, and moving the damaged ledger aside with
its -wal/-shm, with the notice for the user. When is up to `safeshare.ledger_store`."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from pathlib import Path

from safeshare.errors import LedgerError, describe_os_error
from safeshare.paths import tighten

log = logging.getLogger("safeshare.ledger")  # the ledger's messages keep the name they always had
SIDE_FILES = ("-wal", "-shm", "-journal")

_DAMAGE_CODES = (11, 26)  # SQLITE_CORRUPT, SQLITE_NOTADB


class _Damage(Exception):
    """The file in the ledger's place is not a usable ledger."""


def _code(exc: sqlite3.Error) -> int:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else -1


def _is_damage(exc: BaseException) -> bool:
    if isinstance(exc, _Damage):
        return True
    text = str(exc)
    return isinstance(exc, sqlite3.DatabaseError) and (
        _code(exc) in _DAMAGE_CODES or "malformed" in text or "not a database" in text
    )


def _side(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def ledger_files(path: Path) -> list[Path]:
    """The ledger at `path` and its side files, which go wherever it goes."""
    return [_side(path, suffix) for suffix in ("", *SIDE_FILES)]


def check_file(path: Path, readonly: bool) -> None:
    """Before connecting: _Damage when what is at `path` cannot be a ledger, LedgerError when
    safeshare may not use it; nothing when there is none yet."""
    if os.path.lexists(path):
        try:
            st = path.stat()
        except OSError as exc:
            raise _Damage(f"it cannot be read: {describe_os_error(exc)}") from exc
        if not stat.S_ISREG(st.st_mode):
            raise _Damage("it is not a file")
        if not os.access(path, os.R_OK if readonly else os.R_OK | os.W_OK):
            # Its permissions, not its content: the user's file is left as it is, and said.
            need = "read" if readonly else "read and written"
            raise LedgerError(
                f"the ledger {path} cannot be {need} by safeshare (its permissions); "
                f"`chmod 600 {path}` gives it back"
            )


def move_aside(path: Path, exc: BaseException) -> tuple[Path, str]:
    """Move the damaged ledger at `path` (damaged by `exc`) and its side files to a free
    `.corrupt-<time>` name; where they went and the notice for the user, else LedgerError.
    The caller closes the ledger's connection only afterwards (see `LedgerStore._replace`)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    target, n = path.with_name(f"{path.name}.corrupt-{stamp}"), 1
    while any(os.path.lexists(file) for file in ledger_files(target)):
        n += 1
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    try:
        for old, new in zip(ledger_files(path), ledger_files(target), strict=True):
            if os.path.lexists(old):
                old.rename(new)
                tighten(new)
    except OSError as error:
        raise LedgerError(
            f"the ledger {path} is damaged ({exc}) and cannot be moved aside: {describe_os_error(error)}"
        ) from error
    notice = (
        f"The safeshare ledger was damaged and was moved aside to {target}; "
        "files already cleaned may be cleaned again."
    )
    return target, notice


def tell(
    notice: str, exc: BaseException, notices: list[str], on_notice: Callable[[str], None] | None
) -> None:
    """The notice logged (with the damage), added to `notices` and passed to `on_notice`."""
    log.warning("%s (%s)", notice, exc)
    notices.append(notice)
    if on_notice is not None:
        try:
            on_notice(notice)
        except Exception:  # telling the user must not stop the ledger
            log.exception("cannot pass on the ledger notice")
