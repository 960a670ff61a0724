"""The command line's arguments and exit statuses (cli.py hands them to the modules that do the work)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from safeshare import __version__
from safeshare.printable import printable

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def say(text: str) -> None:
    """An error on stderr as one line: paths and reasons may hold control characters."""
    print(printable(text), file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="safeshare", description="Clean copies of your photos, without the metadata that gives you away."
    )
    parser.add_argument("--version", action="version", version=f"safeshare {__version__}")
    parser.add_argument(
        "--config", type=Path, help="configuration file (default: SAFESHARE_CONFIG or the user config)"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log what happens to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    clean = sub.add_parser("clean", help="write clean copies of images or folders")
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

    inspect = sub.add_parser("inspect", help="show what images carry, changing nothing")
    inspect.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    inspect.add_argument("--json", action="store_true", help="one JSON object per file")
    inspect.add_argument("--no-vision", action="store_true", help="do not look for faces, text and codes")

    sub.add_parser("run", help="watch the configured folders in the foreground (what the service starts)")
    service = sub.add_parser("service", help="start safeshare at login: install, uninstall or status")
    service.add_argument("action", choices=("install", "uninstall", "status"))
    service.add_argument(
        "--dry-run", action="store_true", help="print the files and commands, change nothing"
    )
    integrate = sub.add_parser(
        "integrate", help='"Clean a copy with safeshare" in the file manager: install, uninstall or status'
    )
    integrate.add_argument("action", choices=("install", "uninstall", "status"))
    integrate.add_argument(
        "--dry-run", action="store_true", help="print the files and commands, change nothing"
    )
    pause = sub.add_parser("pause", help="note new photos without cleaning them, until `resume`")
    pause.add_argument("--for", dest="duration", metavar="DURATION", help="e.g. 30m, 1h, 2h30m, 1d")
    sub.add_parser("resume", help="clean new photos again")
    sub.add_parser("status", help="whether the daemon runs, what it watches, the last files and errors")
    # Started by `clean --notify`: shows one notification and answers its buttons (stdin: JSON).
    sub.add_parser("notify-wait")
    sub.add_parser("config", help="print the effective configuration and the paths in use")
    return parser
