"""Coverage-guided fuzzing of the parsers, the cleaner and the verifier (atheris).

    make fuzz                      # 100,000 inputs, seeded from the corpus and synthetic files
    python tests/fuzz_clean.py -atheris_runs=N -max_len=65536 [seed folders...]

Seeds: every file of tests/corpus under 64 KB plus synthetic files from tests/synth.py
(written to the seed folder on first run). A crash (any exception that is not a refusal,
or a broken invariant, see fuzz_target.py) stops the run and leaves a crash-* file; each
one found is kept as a regression test in tests/test_fuzz_regressions.py.
"""

from __future__ import annotations

import atexit
import sys
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

with atheris.instrument_imports(include=["safeshare"]):
    from tests.fuzz_target import Tally, fuzz_one

TALLY = Tally()


def test_one_input(data: bytes) -> None:
    fuzz_one(data, TALLY)


def write_seeds(folder: Path) -> None:
    from tests import synth
    from tests.helpers import CORPUS

    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(CORPUS.rglob("*")):
        if path.is_file() and path.suffix not in (".json", ".tsv", ".md") and path.stat().st_size < 65536:
            (folder / path.name).write_bytes(path.read_bytes())
    small = {
        "s.jpg": synth.jpeg(size=(24, 16)),
        "s.png": synth.png(size=(24, 16)),
        "s.webp": synth.webp("lossless"),
        "a.webp": synth.webp("animated"),
        "s.gif": synth.gif(),
        "s.tif": synth.tiff(pages=2),
        "s.heic": synth.heic(),
        "s.avif": synth.avif(),
    }
    for name, data in small.items():
        (folder / name).write_bytes(data)


def report() -> None:
    print(
        f"\nfuzz tally: {TALLY.inputs} inputs, {TALLY.cleaned} cleaned, {TALLY.refused} refused, "
        f"{TALLY.unverified} refused by the verifier",
        file=sys.stderr,
    )
    for example in TALLY.examples[:10]:
        print(f"  verifier: {example}", file=sys.stderr)


if __name__ == "__main__":
    seeds = Path(__file__).resolve().parent.parent / "build" / "fuzz-seeds"
    if not seeds.exists():
        write_seeds(seeds)
    atexit.register(report)
    args = sys.argv if any(not a.startswith("-") for a in sys.argv[1:]) else [*sys.argv, str(seeds)]
    atheris.Setup(args, test_one_input)
    atheris.Fuzz()
