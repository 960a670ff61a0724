"""Notifications through the freedesktop service (org.freedesktop.Notifications) over D-Bus,
with buttons that work.

One connection to the session bus is kept open while there are notifications to answer: the
server sends its replies (`ActionInvoked`, `NotificationClosed`) to the connection that sent
the notification, so that connection (notify_session.Session, whose receiver thread blocks
on the socket: no polling) must live. Each button press runs in a thread of its own, so a
slow file manager never holds the next reply up. Buttons are offered only when the server says it has them
("actions" capability) and only those that can work here (`desktop.Desktop.offered`); the
clean copy is the notification's image (the "image-path" hint) when the server shows images
("icon-static"). A notification whose buttons can no longer be answered (safeshare stops,
or too many are open) is closed, so that no button does nothing. The body is escaped for
servers that read markup (see notify_session).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safeshare.desktop import LABELS, Desktop, DesktopError, desktop_for_this_os
from safeshare.errors import SafeshareError
from safeshare.notify_base import APP_NAME, TIMEOUT, Backend, DeliveryError, markup_escaped
from safeshare.notify_session import Session, _address
from safeshare.notify_session import _capabilities as _capabilities
from safeshare.notify_session import body_for_server as body_for_server

log = logging.getLogger(__name__)
OPEN_MAX = 50  # notifications with buttons kept answerable; older ones are closed
IMAGE_CAPABILITIES = ("icon-static", "icon-multi", "body-images")
Failed = Callable[[str, str], object]  # (title, body): an action that could not be done
Stamp = tuple[int, int, int, int] | None  # a copy's device, inode, size and mtime; None: gone


def stamp(path: Path) -> Stamp:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def _icon() -> str:
    from safeshare.icon import icon_path

    try:
        path = icon_path()
    except (OSError, ModuleNotFoundError):
        return ""
    return str(path) if path.is_file() else ""


def _signature() -> Any:
    from jeepney import HeaderFields

    return HeaderFields.signature


class FreedesktopBackend(Backend):
    """org.freedesktop.Notifications.Notify on the session bus; the server's reply confirms it.

    Two locks: `_calls` keeps one notification (or close) at a time; `_state` guards what
    the receiver thread changes (open notifications, actions running), and is never held
    while waiting for a reply, so the receiver can always hand a reply over."""

    name = "D-Bus notification service"

    def __init__(self, desktop: Desktop | None = None, failed: Failed | None = None) -> None:
        self.desktop = desktop or desktop_for_this_os()
        self.failed = failed or (lambda title, body: None)  # said when a button's action fails
        self.icon = _icon()  # app_icon: safeshare's own, shipped in the wheel
        self._session: Session | None = None
        # id -> its copies, each with what it was when notified (a button acts on that file only)
        self._open: OrderedDict[int, tuple[tuple[Path, Stamp], ...]] = OrderedDict()
        self._acting = 0  # actions running now
        self._closed = False  # close() was called: nothing more is sent
        self._calls = threading.RLock()
        self._state = threading.Condition(threading.Lock())

    def show(self, title: str, body: str, error: bool) -> None:
        self._notify(title, body, error, ())

    def show_copies(self, title: str, body: str, error: bool, copies: tuple[Path, ...]) -> None:
        self._notify(title, body, error, copies)

    def _notify(self, title: str, body: str, error: bool, copies: tuple[Path, ...]) -> None:
        from jeepney import DBusErrorResponse, new_method_call

        hints: dict[str, tuple[str, Any]] = {"urgency": ("y", 2 if error else 1)}
        stamps = tuple((copy, stamp(copy)) for copy in copies)
        with self._calls:
            if self._closed:
                raise DeliveryError("safeshare is stopping")
            try:
                before = self._session.server if self._session is not None else ""
                session = self._connect()
                (capabilities,) = session.call(new_method_call(_address(), "GetCapabilities"))
                text = body if "body-markup" not in capabilities else markup_escaped(body)
                keys = self.desktop.offered(copies) if "actions" in capabilities else []
                actions = [part for key in keys for part in (key, LABELS[key])]
                if len(copies) == 1 and any(c in capabilities for c in IMAGE_CAPABILITIES):
                    hints["image-path"] = ("s", copies[0].absolute().as_uri())
                call = new_method_call(
                    _address(),
                    "Notify",
                    "susssasa{sv}i",
                    (APP_NAME, 0, self.icon, title, text, actions, hints, -1),
                )
                (number,) = session.call(call)
            except DBusErrorResponse as exc:
                raise DeliveryError(f"the notification service refused it: {exc.name}") from exc
            except (OSError, KeyError, ValueError, TimeoutError, TypeError) as exc:
                raise DeliveryError(
                    f"no D-Bus session or notification service ({type(exc).__name__})"
                ) from exc
            with self._state:
                if before and session.server != before:  # another server now: its ids are new
                    self._open.clear()
                if actions:
                    self._open[int(number)] = stamps
                old = [self._open.popitem(last=False)[0] for _ in range(len(self._open) - OPEN_MAX)]
                keep = bool(self._open) or self._acting > 0
            for number in old:
                self._close_one(number)
            if not keep:
                self._disconnect()  # nothing to answer: the connection is not kept

    def _connect(self) -> Session:
        session = self._session
        if session is None or not session.alive:
            session = Session(self._signal, self._lost)
            with self._state:
                self._session = session
        return session

    def _disconnect(self) -> None:
        with self._state:
            session, self._session = self._session, None
            self._open.clear()
            self._state.notify_all()
        if session is not None:
            session.close()

    def _lost(self, session: Session) -> None:
        with self._state:
            if self._session is not session:
                return
            self._session = None
            if self._open:
                log.info("the notification service went away; %d notification(s) unanswered", len(self._open))
            self._open.clear()
            self._state.notify_all()

    def _signal(self, message: Any) -> None:
        """In the receiver thread: a button pressed, or a notification closed."""
        from jeepney import HeaderFields

        member = message.header.fields.get(HeaderFields.member)
        sender = message.header.fields.get(HeaderFields.sender)
        with self._state:
            session = self._session
            if session is None or (session.server and sender != session.server):
                return  # only the server that took the notification answers for it
            if member == "ActionInvoked" and message.header.fields.get(_signature()) == "us":
                number, key = message.body
                copies = self._open.get(int(number))
                if copies is None or str(key) not in LABELS:
                    return
                self._acting += 1
                threading.Thread(target=self._act, args=(str(key), copies), daemon=True).start()
            elif member == "NotificationClosed" and message.header.fields.get(_signature()) == "uu":
                self._open.pop(int(message.body[0]), None)
                self._state.notify_all()

    def _act(self, key: str, copies: tuple[tuple[Path, Stamp], ...]) -> None:
        try:
            same = tuple(path for path, was in copies if stamp(path) == was)
            if not same:  # deleted, or replaced by another photo's copy (or its update)
                raise DesktopError(f"the clean copy {copies[0][0]} was removed or replaced since")
            self.desktop.perform(key, same)
        except (SafeshareError, OSError) as exc:
            log.warning("%s: %s", LABELS[key], exc)
            self.failed(f"Couldn't {LABELS[key].lower()}", f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
        except Exception:  # an action outlives nothing: logged, safeshare goes on
            log.exception("%s failed", LABELS[key])
        finally:
            with self._state:
                self._acting -= 1
                self._state.notify_all()

    def _close_one(self, number: int) -> None:
        from jeepney import new_method_call

        session = self._session
        if session is not None:
            try:
                session.call(new_method_call(_address(), "CloseNotification", "u", (number,)))
            except Exception as exc:  # noqa: BLE001 - the server may be gone: nothing to close
                log.debug("could not close notification %d: %s", number, exc)

    def waiting(self) -> int:
        """Notifications whose buttons are still answered, and actions running."""
        with self._state:
            return len(self._open) + self._acting

    def wait_answered(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Until every notification with buttons was closed and its action done, or `seconds`
        passed (a `safeshare clean --notify` started from a file manager stays this long)."""
        self._wait(lambda: not self._open and not self._acting, seconds, clock)

    def close(self) -> None:
        """Notifications still open are closed: their buttons could not be answered any more.
        An action still running is given a moment to finish."""
        self._wait(lambda: not self._acting, TIMEOUT)
        with self._calls:
            self._closed = True
            with self._state:
                numbers = list(self._open)
            for number in numbers:
                self._close_one(number)
            self._disconnect()

    def _wait(
        self, done: Callable[[], bool], seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """Until `done()` (read under the state lock) or `seconds` passed."""
        deadline = clock() + seconds
        with self._state:
            while not done() and clock() < deadline:
                self._state.wait(deadline - clock())
