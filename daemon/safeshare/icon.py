"""safeshare's icon, shipped in the wheel (`safeshare.templates/icons/safeshare.svg`).

The file-manager entries show it beside "Clean a copy with safeshare", and notifications
use it as their app icon.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def icon_path() -> Path:
    """The installed SVG icon, as an absolute path."""
    return Path(str(resources.files("safeshare.templates").joinpath("icons", "safeshare.svg"))).absolute()
