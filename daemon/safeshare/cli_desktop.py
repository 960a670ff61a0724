"""The commands for the desktop: `clean --notify`, `integrate`, `pause`, `resume`, and the
hidden `notify-wait` that `clean --notify` starts.

`clean --notify` says what it cleaned in the daemon's words. On Linux its buttons are answered
by the process that sent the notification (the server replies to that connection), and the
file manager that ran `clean` does not wait for it: so the notification is handed to a
detached `safeshare notify-wait`, which shows it, answers its buttons for up to LINGER
seconds, and then closes it rather than leave buttons that do nothing.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from safeshare import config as config_mod
from safeshare import paths
from safeshare import pause as pause_mod
from safeshare.cli_parser import EXIT_FAILED, EXIT_OK, EXIT_USAGE, say
from safeshare.messages import Message
from safeshare.pipeline import Result

if TYPE_CHECKING:
    from safeshare.service_plan import Installable

LINGER = 900.0  # seconds the buttons of a notification from `clean --notify` are answered


def notify_results(results: list[Result], config: config_mod.Config, output: Path) -> None:
    """`clean --notify`: one notification for what was cleaned, as the daemon says it."""
    from safeshare.notify import Notifier
    from safeshare.places import describe_position

    settings = config.notify
    said = [r for r in results if settings.when == "all" or (settings.when == "errors" and not r.ok)]
    if not said:
        return
    place = describe_position if settings.place_names else None
    notifier = Notifier(settings, output, place=place, start=False)
    message = notifier.compose(said)
    if message.copies and sys.platform not in ("darwin", "win32") and server_answers():
        hand_over(message)
    elif not notifier.deliver(message):
        say("safeshare: the notification could not be shown (no notification service answered)")


def server_answers() -> bool:
    """A freedesktop notification server answers on the session bus now."""
    from safeshare.notify_session import _capabilities

    try:
        _capabilities(None)
    except Exception:  # noqa: BLE001 - no bus, no server, no jeepney: it does not answer
        return False
    return True


def hand_over(message: Message) -> None:
    """To a detached `safeshare notify-wait` (see the module docstring)."""
    data = {"title": message.title, "body": message.body, "error": message.error}
    data["copies"] = [str(p) for p in message.copies]
    command = [sys.executable, "-m", "safeshare", "notify-wait"]
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert child.stdin is not None
        child.stdin.write(json.dumps(data).encode())
        child.stdin.close()
    except OSError as exc:
        say(f"safeshare: the notification could not be shown: {exc.strerror or exc}")


def run_notify_wait(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare.notify import Notifier
    from safeshare.notify_dbus import FreedesktopBackend

    try:
        data = json.loads(sys.stdin.read())
        message = Message(
            str(data["title"]), str(data["body"]), bool(data["error"]), tuple(Path(p) for p in data["copies"])
        )
    except (ValueError, KeyError, TypeError) as exc:
        say(f"safeshare: notify-wait: not a message ({type(exc).__name__})")
        return EXIT_USAGE
    notifier = Notifier(config.notify, config.output, start=False)
    if not notifier.deliver(message):
        return EXIT_FAILED
    for backend in notifier.backends:
        if isinstance(backend, FreedesktopBackend):
            backend.wait_answered(LINGER)
        backend.close()
    return EXIT_OK


def run_integrate(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare.integrate import choose_integration, status_lines

    integration = choose_integration()
    return carry(integration, args, lambda: status_lines(integration))


def carry(thing: Installable, args: argparse.Namespace, status: Callable[[], list[str]]) -> int:
    """`install`, `uninstall` (with --dry-run) or `status` of a login service or of entries."""
    from safeshare.service_plan import ServiceError

    try:
        if args.action == "status":
            print("\n".join(status()))
        elif args.action == "install":
            print(f"{'dry run: ' if args.dry_run else ''}installing the {thing.name}")
            thing.install(args.dry_run, sys.stdout)
        else:
            print(f"{'dry run: ' if args.dry_run else ''}removing the {thing.name}")
            thing.uninstall(args.dry_run, sys.stdout)
    except (ServiceError, OSError) as exc:
        say(f"safeshare: {exc}")
        return EXIT_FAILED
    return EXIT_OK


def run_pause(args: argparse.Namespace, config: config_mod.Config) -> int:
    from safeshare import instance

    now = time.time()
    try:
        until = now + pause_mod.parse_duration(args.duration) if args.duration else None
    except ValueError as exc:
        say(f"safeshare: pause --for {exc}")
        return EXIT_USAGE
    pause = pause_mod.Pause(now, until)
    try:
        pause_mod.write(paths.state_dir(), pause)
    except OSError as exc:
        say(f"safeshare: cannot pause: {paths.state_dir()}: {exc.strerror or exc}")
        return EXIT_FAILED
    print(f"paused {pause.describe()}: new photos are noted, not cleaned (`safeshare resume` cleans again)")
    if instance.running_pid(paths.state_dir()) is None:
        print("the daemon is not running; the pause holds when it starts")
    return EXIT_OK


def run_resume(args: argparse.Namespace, config: config_mod.Config) -> int:
    state = paths.state_dir()
    was = pause_mod.current(state, time.time())
    try:
        pause_mod.clear(state)
    except OSError as exc:
        say(f"safeshare: cannot resume: {state / pause_mod.PAUSE_NAME}: {exc.strerror or exc}")
        return EXIT_FAILED
    print("new photos are cleaned again" if was else "safeshare was not paused")
    return EXIT_OK
