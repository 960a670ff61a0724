"""What every notification backend shares: the base class, its error, and safe texts.

Texts come from file names and metadata, so every backend gets them made safe first (see
`Backend.send`): the title one line, no control characters or bytes that are not UTF-8.
A message may name the clean copies it is about (`copies`): a backend that can act on a
notification (the freedesktop service: "Show in folder", "Open", "Copy image"; a Windows
toast: "Show in folder", "Open") offers what can work here; the others show the texts only.
"""

from __future__ import annotations

import subprocess
from abc import ABC, abstractmethod
from pathlib import Path

from safeshare.errors import SafeshareError
from safeshare.printable import printable

APP_NAME = "safeshare"
TIMEOUT = 5  # seconds a helper or the D-Bus service may take to take a notification


class DeliveryError(SafeshareError):
    """This backend could not show the notification (the reason says why)."""


class Backend(ABC):
    name: str
    title_max = 100
    body_max = 500

    def send(self, title: str, body: str, error: bool = False, copies: tuple[Path, ...] = ()) -> None:
        """Show it, or raise DeliveryError. The title goes as one line and the body as its
        lines, each with control and bidi characters escaped and bytes that are not UTF-8
        shown as '\\xff' (see printable): nothing in a name adds a line or breaks the call."""
        safe_title = printable(title, self.title_max, "…")
        safe_body = printable(body, self.body_max, "…", "\n")
        if copies:
            self.show_copies(safe_title, safe_body, error, copies)
        else:
            self.show(safe_title, safe_body, error)

    @abstractmethod
    def show(self, title: str, body: str, error: bool) -> None:
        """Show texts already made safe by `send`, or raise DeliveryError."""

    def show_copies(self, title: str, body: str, error: bool, copies: tuple[Path, ...]) -> None:
        """A notification about these clean copies; backends that can act on them override it."""
        self.show(title, body, error)

    def close(self) -> None:
        """Nothing more will be sent (a backend that listens for replies stops)."""
        return None


def run_helper(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=TIMEOUT, env=env, check=False)
    except FileNotFoundError as exc:
        raise DeliveryError(f"{what} is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise DeliveryError(f"{what} did not answer within {TIMEOUT} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise DeliveryError(f"{what} failed (exit {proc.returncode}): {detail[0][:200] if detail else ''}")


def markup_escaped(text: str) -> str:
    """Freedesktop servers may read the body as markup: '<', '>' and '&' must be escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
