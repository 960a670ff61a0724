"""A recording org.freedesktop.Notifications service for the tests (run as a process).

It owns the well-known name on the private session bus it is started on, answers Notify
like a real server (with an id), and appends every notification it receives to a JSONL
file. It says it reads markup in the body ("body-markup"), as dunst, GNOME and KDE do.
Usage: python notification_server.py RECORD_FILE [CAPABILITIES]   (comma-separated)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from jeepney import HeaderFields, MessageType, new_error, new_method_return
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


def main(record_path: str, capabilities: str = CAPABILITIES) -> None:
    connection = open_dbus_connection(bus="SESSION")
    connection.send_and_get_reply(message_bus.RequestName(NAME, 4))  # 4: do not queue
    print("ready", flush=True)
    count = 0
    with Path(record_path).open("a", encoding="utf-8") as record:
        while True:
            message = connection.receive()
            if message.header.message_type != MessageType.method_call:
                continue
            member = message.header.fields.get(HeaderFields.member)
            if member == "Notify":
                app, _replaces, _icon, summary, body, _actions, hints, timeout = message.body
                count += 1
                urgency = hints.get("urgency", ("y", 1))[1]
                entry = {"app": app, "summary": summary, "body": body, "urgency": urgency, "timeout": timeout}
                record.write(json.dumps(entry, ensure_ascii=False) + "\n")
                record.flush()
                connection.send(new_method_return(message, "u", (count,)))
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
    main(*sys.argv[1:3])
