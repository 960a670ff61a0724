"""Crash consistency: `kill -9` at a random moment during a 200-file burst, then a restart.
Every input must be published exactly once, no temp file may remain, and the ledger must
agree with the output folder. `make reliability` runs 25 trials; `make test` runs 2."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

import pytest

from tests.daemon_harness import DaemonRun, wait_until
from tests.test_daemon import photo

TRIALS = int(os.environ.get("SAFESHARE_CRASH_TRIALS", "2"))
BURST = 200


@pytest.mark.parametrize("trial", range(TRIALS))
def test_kill_9_at_a_random_moment_then_restart(tmp_path: Path, trial: int) -> None:
    rng = random.Random(1000 + trial)
    run = DaemonRun(tmp_path, settle=0.2)
    run.pictures.mkdir(parents=True)
    run.start()
    names = [f"t{trial}_{i:03d}.jpg" for i in range(BURST)]
    # Half the trials die while the files are still being written, half while they are being
    # cleaned, after a random number of them has been published.
    kill_at_write = rng.randrange(BURST) if trial % 2 == 0 else None
    kill_at_published = rng.randrange(1, BURST)
    for i, name in enumerate(names):
        (run.pictures / name).write_bytes(photo(trial * 1000 + i))
        if i == kill_at_write:
            run.stop(signal.SIGKILL)
    if kill_at_write is None:
        wait_until(lambda: len(run.outputs()) >= kill_at_published, timeout=120, step=0.001)
        run.stop(signal.SIGKILL)
    moment = f"while writing file {kill_at_write}" if kill_at_write is not None else "while cleaning"
    at_kill = len(run.outputs())
    with run:
        wait_until(lambda: len([p for p in run.outputs() if not p.name.startswith(".")]) >= BURST, 180)
        wait_until(lambda: "working" not in run.outcomes().values(), timeout=60)
        time.sleep(0.5)
        assert run.temp_files() == []
    outputs = sorted(p.name for p in run.outputs())
    assert outputs == sorted(names), f"trial {trial}: killed {moment} with {at_kill} published"
    rows = run.ledger("SELECT path, outcome, output FROM files")
    assert len(rows) == BURST and {outcome for _, outcome, _ in rows} == {"published"}
    assert all(Path(os.fsdecode(output)).is_file() for _, _, output in rows)
    print(f"trial {trial}: killed {moment}, {at_kill}/{BURST} published then; all {BURST} after restart")
