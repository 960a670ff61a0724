"""Give a pip-less virtual environment its pip, fetched from PyPI.

Debian and Ubuntu ship Python without `ensurepip` unless python3-venv is installed, so
`python3 -m venv` fails there. `make` then creates the venv without pip and runs this
script with the venv's interpreter: it downloads the pip wheel and installs pip from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path


def main() -> int:
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as response:
        release = json.load(response)
    wheel = next(u for u in release["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / wheel["filename"]
        urllib.request.urlretrieve(wheel["url"], target)  # noqa: S310 - fixed https URL
        # A pip wheel can run itself: python pip.whl/pip install pip.whl
        return subprocess.call([sys.executable, f"{target}/pip", "install", "--quiet", str(target)])


if __name__ == "__main__":
    sys.exit(main())
