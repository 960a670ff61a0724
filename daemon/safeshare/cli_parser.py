"""The command line's arguments and exit statuses (cli.py hands them to the modules that do the work)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from safeshare import __version__
from safeshare.printable import printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def say(text: str) -> None:
    """An error on stderr as one line: paths and reasons may hold control characters."""
    print(printable(text), file=sys.stderr)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The command line. With `command`, the first argument when it names one, only that
    command's parser is built: it is the only one the arguments can reach, and building all
    of them costs a few ms at every start (`clean` of one photo counts them, issue 17)."""
    parser = argparse.ArgumentParser(
        prog="safeshare", description="Clean copies of your photos, without the metadata that gives you away."
    )
    parser.add_argument("--version", action="version", version=f"safeshare {__version__}")
    parser.add_argument(
        "--config", type=Path, help="configuration file (default: SAFESHARE_CONFIG or the user config)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (help_text, define) in COMMANDS.items():
        if command in (None, name):
            define(sub.add_parser(name, help=help_text) if help_text else sub.add_parser(name))
    return parser


def _clean(clean: argparse.ArgumentParser) -> None:
    clean.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    clean.add_argument(
        "-o",
        "--output",
        type=Path,
        help="folder for the clean copies (default: the configured safe-share folder)",
    )
    clean.add_argument("--json", action="store_true", help="one JSON object per file")
    names = clean.add_mutually_exclusive_group()
    names.add_argument(
        "--rename", action="store_true", default=None, help="write neutral names (image-<hash>.jpg)"
    )
    names.add_argument("--keep-names", dest="rename", action="store_false", help="keep the original names")
    clean.add_argument(
        "--convert-to", choices=("jpeg", "png"), help="what HEIC/HEIF/AVIF become (default jpeg)"
    )
    clean.add_argument("--no-vision", action="store_true", help="do not look for faces, text and codes")
    clean.add_argument(
        "--notify",
        action="store_true",
        help="also show the daemon's notification (what the file-manager entries use)",
    )


def _inspect(inspect: argparse.ArgumentParser) -> None:
    inspect.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    inspect.add_argument("--json", action="store_true", help="one JSON object per file")
    inspect.add_argument("--no-vision", action="store_true", help="do not look for faces, text and codes")


def _install_action(command: argparse.ArgumentParser) -> None:
    command.add_argument("action", choices=("install", "uninstall", "status"))
    command.add_argument(
        "--dry-run", action="store_true", help="print the files and commands, change nothing"
    )


def _pause(pause: argparse.ArgumentParser) -> None:
    pause.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 1h, 2h30m, 1d")


def _nothing(_: argparse.ArgumentParser) -> None:
    pass


# Each command: its help line (none: not listed) and what defines its arguments, in the order
# `safeshare --help` lists them.
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "clean": ("write clean copies of images or folders", _clean),
    "inspect": ("show what images carry, changing nothing", _inspect),
    "run": ("watch the configured folders in the foreground (what the service starts)", _nothing),
    "service": ("start safeshare at login: install, uninstall or status", _install_action),
    "integrate": (
        '"Clean a copy with safeshare" in the file manager: install, uninstall or status',
        _install_action,
    ),
    "pause": ("note new photos without cleaning them, until `resume`", _pause),
    "resume": ("clean new photos again", _nothing),
    "status": ("whether the daemon runs, what it watches, the last files and errors", _nothing),
    # Started by `clean --notify`: shows one notification and answers its buttons (stdin: JSON).
    "notify-wait": ("", _nothing),
    "config": ("print the effective configuration and the paths in use", _nothing),
}
