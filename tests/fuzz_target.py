"""One fuzz input through every format parser, the cleaner and the verifier.

Used by the coverage-guided fuzzer (tests/fuzz_clean.py, `make fuzz`) and by the smoke run
in the normal test suite. The invariants: every input ends in a clean output or a clear
refusal (an InputError, or a VerificationError, which publishes nothing); an output that
passes verification carries nothing, ends where its format ends, and cleaning it again
gives the same bytes.
"""

from __future__ import annotations

import os
import random
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from safeshare.errors import InputError, VerificationError
from safeshare.formats import HEAD_SIZE, CleanOptions, detect
from safeshare.verify import pillow_view, verify_output

OPTIONS = CleanOptions(max_pixels=4_000_000)  # fuzzed headers must not make us decode giants
SCRATCH = Path(
    os.environ.get(
        "SAFESHARE_FUZZ_SCRATCH", "/dev/shm" if Path("/dev/shm").is_dir() else tempfile.gettempdir()
    )
)


class InvariantBroken(AssertionError):
    """The cleaner produced something it must never produce: a real bug."""


@dataclass
class Tally:
    inputs: int = 0
    cleaned: int = 0
    refused: int = 0
    unverified: int = 0  # refused by the verifier: failed closed, but worth a look
    examples: list[str] = field(default_factory=list)


def fuzz_one(data: bytes, tally: Tally | None = None) -> None:
    tally = tally if tally is not None else Tally()
    tally.inputs += 1
    try:
        fmt = detect(data[:HEAD_SIZE])
        fmt.inspect(data)
        cleaned = fmt.clean(data, OPTIONS)
        output = b"".join(bytes(p) for p in cleaned.parts)
        with tempfile.NamedTemporaryFile(dir=SCRATCH, suffix=".fuzz") as handle:
            handle.write(output)
            handle.flush()
            expected = pillow_view(data, fmt.name, OPTIONS.max_pixels) if fmt.lossless else None
            verify_output(handle.fileno(), cleaned, expected, OPTIONS.max_pixels)
    except VerificationError as exc:
        tally.unverified += 1
        if len(tally.examples) < 20:
            tally.examples.append(f"{exc}")
        return
    except InputError:
        tally.refused += 1
        return
    tally.cleaned += 1
    _check_clean(output, cleaned.format)


def _check_clean(output: bytes, format_name: str) -> None:
    again = detect(output[:HEAD_SIZE])
    if again.name != format_name:
        raise InvariantBroken(f"output detected as {again.name}, made as {format_name}")
    findings = again.inspect(output).findings
    if findings:
        raise InvariantBroken(f"verified output still carries {findings.items[0].what}")
    if again.lossless:
        repeat = b"".join(bytes(p) for p in again.clean(output, OPTIONS).parts)
        if repeat != output:
            raise InvariantBroken("cleaning a clean output changed it (not idempotent)")


def mutate(data: bytes, rng: random.Random) -> bytes:
    """A few random edits of the kinds that break parsers: flips, cuts, inserts, copies."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        if not out:
            break
        choice = rng.random()
        pos = rng.randrange(len(out))
        if choice < 0.35:
            out[pos] ^= 1 << rng.randrange(8)
        elif choice < 0.5:
            out[pos] = rng.choice((0x00, 0xFF, 0x7F, 0x80, 0xFE))
        elif choice < 0.65:
            del out[pos : pos + rng.randint(1, 64)]
        elif choice < 0.8:
            out[pos:pos] = rng.randbytes(rng.randint(1, 32))
        elif choice < 0.9:
            start = rng.randrange(len(out))
            out[pos:pos] = out[start : start + rng.randint(1, 256)]
        else:
            del out[pos:]
    return bytes(out)
