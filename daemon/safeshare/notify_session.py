"""The connection to the freedesktop notification service that safeshare keeps open while
its notifications have buttons: a receiver thread blocked on the socket (no polling) hands
replies to the calls that wait for them and signals to the backend (notify_dbus); what the
server can do (`_capabilities`), and the body escaped for servers that read markup.

On Linux the body is markup-escaped for every server that reads markup in it ("body-markup"):
a camera model '<a href="http://ev.il">Tap to undo</a>' stays text. The summary is plain text
by the spec, and servers show it so: it is not escaped, or '&' would show as '&amp;'.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from safeshare.notify_base import TIMEOUT, markup_escaped

log = logging.getLogger(__name__)
SERVICE = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


def _address() -> Any:
    from jeepney import DBusAddress

    return DBusAddress(PATH, bus_name=SERVICE, interface=SERVICE)


def _capabilities(connection: Any) -> list[str]:
    """What the notification server says it can do ('body', 'body-markup', 'actions', ...)."""
    from jeepney import MessageType, new_method_call
    from jeepney.io.blocking import open_dbus_connection

    ask = new_method_call(_address(), "GetCapabilities")
    if connection is None:
        with open_dbus_connection(bus="SESSION") as own:
            reply = own.send_and_get_reply(ask, timeout=TIMEOUT)
    else:
        reply = connection.send_and_get_reply(ask, timeout=TIMEOUT)
    if reply.header.message_type == MessageType.error:
        raise ValueError("the server did not say what it can do")
    return [str(c) for c in reply.body[0]]


def body_for_server(body: str, connection: Any = None) -> str:
    """The body escaped, unless the server says it shows the body as plain text (no
    "body-markup" capability: it would show '&amp;'). A server that cannot be asked gets it
    escaped: a link shown as text is better than a name shown as a link."""
    try:
        plain = "body-markup" not in _capabilities(connection)
    except (ImportError, OSError, ValueError, KeyError, IndexError, TypeError, TimeoutError):
        plain = False
    return body if plain else markup_escaped(body)


class Session:
    """An open connection, its receiver thread, and replies awaited by serial number."""

    def __init__(self, on_signal: Callable[[Any], None], on_lost: Callable[[Session], None]) -> None:
        from jeepney.bus_messages import MatchRule, message_bus
        from jeepney.io.threading import open_dbus_connection

        self.connection = open_dbus_connection(bus="SESSION")
        self._replies: dict[int, Future[Any]] = {}
        self._lock = threading.Lock()
        self._on_signal, self._on_lost = on_signal, on_lost
        self.server = ""  # the unique name of the server that took our last notification
        self._thread = threading.Thread(target=self._receive, name="notify-replies", daemon=True)
        self._thread.start()
        rule = MatchRule(type="signal", interface=SERVICE, path=PATH)
        self.call(message_bus.AddMatch(rule))

    def call(self, message: Any) -> Any:
        """Send a method call and wait for its reply (an error reply raises)."""
        from jeepney.wrappers import unwrap_msg

        serial = next(self.connection.outgoing_serial)
        future: Future[Any] = Future()
        with self._lock:
            self._replies[serial] = future
        try:
            self.connection.send(message, serial=serial)
            reply = future.result(timeout=TIMEOUT)
        finally:
            with self._lock:
                self._replies.pop(serial, None)
        if message.header.fields.get(_destination()) == SERVICE:
            self.server = str(reply.header.fields.get(_sender(), self.server))
        return unwrap_msg(reply)

    def _receive(self) -> None:
        from jeepney import HeaderFields, MessageType

        try:
            while True:
                message = self.connection.receive()
                kind = message.header.message_type
                if kind in (MessageType.method_return, MessageType.error):
                    with self._lock:
                        future = self._replies.get(message.header.fields.get(HeaderFields.reply_serial, -1))
                    if future is not None:
                        future.set_result(message)
                elif kind == MessageType.signal:
                    try:
                        self._on_signal(message)
                    except Exception:  # one odd signal must not end the session
                        log.exception("a notification signal could not be handled")
        except Exception as exc:  # noqa: BLE001 - closed, interrupted or broken: this session ends
            log.debug("notification replies no longer heard: %s", type(exc).__name__)
        finally:
            with self._lock:
                for future in self._replies.values():
                    if not future.done():
                        future.set_exception(OSError("the D-Bus connection was closed"))
            self._on_lost(self)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def close(self) -> None:
        self.connection.interrupt()
        self._thread.join(timeout=5)
        self.connection.close()


def _sender() -> Any:
    from jeepney import HeaderFields

    return HeaderFields.sender


def _destination() -> Any:
    from jeepney import HeaderFields

    return HeaderFields.destination
