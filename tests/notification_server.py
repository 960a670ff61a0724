"""A recording org.freedesktop.Notifications service for the tests (run as a process).

It owns the well-known name on the private session bus it is started on, answers Notify
like a real server (with an id), and appends every notification it receives to a JSONL
file. It says it reads markup in the body ("body-markup"), as dunst, GNOME and KDE do.
Tests press a button by calling its extra methods `PressAction(u id, s key)` and
`Dismiss(u id)`: it then emits `ActionInvoked` / `NotificationClosed` to the connection that
sent that notification, as dunst does, and closes a notification whose button was pressed.
With a FILE_MANAGER_RECORD it also owns org.freedesktop.FileManager1 and records ShowItems.
Usage: python notification_server.py RECORD_FILE [CAPABILITIES [FILE_MANAGER_RECORD]]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jeepney import DBusAddress, HeaderFields, MessageType, new_error, new_method_return, new_signal
from jeepney.bus_messages import message_bus
from jeepney.io.blocking import open_dbus_connection

NAME = "org.freedesktop.Notifications"
CAPABILITIES = "body,body-markup"
# What a real server (GDBus, libdbus) answers to Introspect: dbus-python (plyer's way) reads
# the signatures from it, and cannot guess one for an empty list of actions without it.
INTROSPECTION = """<node><interface name="org.freedesktop.Notifications">
<method name="Notify"><arg type="s" direction="in"/><arg type="u" direction="in"/>
<arg type="s" direction="in"/><arg type="s" direction="in"/><arg type="s" direction="in"/>
<arg type="as" direction="in"/><arg type="a{sv}" direction="in"/><arg type="i" direction="in"/>
<arg type="u" direction="out"/></method>
<method name="GetCapabilities"><arg type="as" direction="out"/></method>
<method name="GetServerInformation"><arg type="s" direction="out"/><arg type="s" direction="out"/>
<arg type="s" direction="out"/><arg type="s" direction="out"/></method>
</interface></node>"""


FILE_MANAGER = "org.freedesktop.FileManager1"
EMITTER = DBusAddress("/org/freedesktop/Notifications", interface=NAME)


def _emit(connection: object, to: str, member: str, signature: str, body: tuple[object, ...]) -> None:
    signal = new_signal(EMITTER, member, signature, body)
    signal.header.fields[HeaderFields.destination] = to
    connection.send(signal)  # type: ignore[attr-defined]


def main(record_path: str, capabilities: str = CAPABILITIES, file_manager: str = "") -> None:
    connection = open_dbus_connection(bus="SESSION")
    connection.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    if file_manager:
        connection.send_and_get_reply(message_bus.RequestName(FILE_MANAGER, 4))
    print("ready", flush=True)
    count = 0
    senders: dict[int, str] = {}  # notification id -> the connection that sent it
    with Path(record_path).open("a", encoding="utf-8") as record:
        while True:
            message = connection.receive()
            if message.header.message_type != MessageType.method_call:
                continue
            member = message.header.fields.get(HeaderFields.member)
            if member == "Notify":
                app, _replaces, icon, summary, body, actions, hints, timeout = message.body
                count += 1
                senders[count] = message.header.fields[HeaderFields.sender]
                urgency = hints.get("urgency", ("y", 1))[1]
                entry = {
                    "id": count,
                    "app": app,
                    "icon": icon,
                    "summary": summary,
                    "body": body,
                    "urgency": urgency,
                    "timeout": timeout,
                    "actions": dict(zip(actions[::2], actions[1::2], strict=False)),
                    "hints": {k: v[1] for k, v in hints.items() if isinstance(v[1], str | int)},
                }
                record.write(json.dumps(entry, ensure_ascii=False) + "\n")
                record.flush()
                connection.send(new_method_return(message, "u", (count,)))
            elif member == "PressAction":
                number, key = message.body
                _emit(connection, senders[number], "ActionInvoked", "us", (number, key))
                _emit(connection, senders[number], "NotificationClosed", "uu", (number, 2))
                connection.send(new_method_return(message))
            elif member in ("Dismiss", "CloseNotification"):
                (number,) = message.body
                if member == "CloseNotification":
                    record.write(json.dumps({"closed": number}) + "\n")
                    record.flush()
                _emit(connection, senders.get(number, ""), "NotificationClosed", "uu", (number, 2))
                connection.send(new_method_return(message))
            elif member == "ShowItems" and file_manager:
                uris, _startup = message.body
                with Path(file_manager).open("a", encoding="utf-8") as shown:
                    shown.write(json.dumps({"ShowItems": uris}) + "\n")
                connection.send(new_method_return(message))
            elif member == "GetCapabilities":
                connection.send(new_method_return(message, "as", (capabilities.split(","),)))
            elif member == "Introspect":
                connection.send(new_method_return(message, "s", (INTROSPECTION,)))
            elif member == "GetServerInformation":
                connection.send(
                    new_method_return(message, "ssss", ("recorder", "safeshare-tests", "1", "1.2"))
                )
            else:
                connection.send(new_error(message, "org.freedesktop.DBus.Error.UnknownMethod"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
