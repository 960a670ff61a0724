"""`make bench`: every benchmark in one run, printed and written to bench/RESULTS.md.

Each number stands next to a baseline measured in the same run on the same machine, and
the ratio between them; the targets come from the issues.
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import daemon_bench
from bench.common import machine, table

RESULTS = Path(__file__).with_name("RESULTS.md")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 s of idle instead of 60 (for a smoke run)")
    args = parser.parse_args()
    sections = [
        (
            "Daemon",
            ["daemon", "safeshare", "bare watchdog copier", "ratio", "target"],
            daemon_bench.run(10 if args.quick else 60),
        ),
    ]
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    text = [f"# Benchmark results\n\nMeasured {stamp} on {machine()}.\n", "Run again with `make bench`.\n"]
    for title, headers, rows in sections:
        text += [f"## {title}\n", table(headers, rows), ""]
    output = "\n".join(text)
    print(output)
    RESULTS.write_text(output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
