"""A batch on every core (procpool): the same copies, names and reports as one process; a
worker that dies costs its one file, said so; nothing staged is left behind or unlocked.

The batch-level tests run `clean_all` in a fresh interpreter (as `safeshare clean` does),
so that no thread of another test stops the workers from being forked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from safeshare import procpool
from tests.conftest import json_lines, run_cli
from tests.helpers import CORPUS

ROOT = Path(__file__).resolve().parent.parent

# Runs clean_all on argv[1] (a folder) into argv[2]; what each test adds goes in {setup}.
SCRIPT = """
import json, os, signal, sys
from pathlib import Path
from safeshare import batch, procpool
from safeshare.config import CleanConfig
from safeshare.pipeline import Pipeline
forked = []
real_init = procpool.ForkPool.__init__
def counting(self, task, workers, *rest):
    forked.append(workers)
    real_init(self, task, workers, *rest)
procpool.ForkPool.__init__ = counting
{setup}
jobs, _ = batch.collect([Path(sys.argv[1])], Path(sys.argv[2]))
pipeline = Pipeline(batch.pipeline_settings(CleanConfig(), None, None, 2))
results = batch.clean_all(jobs, pipeline, Path(sys.argv[2]), batch.workers_for(jobs))
for n, result in enumerate(results):
    print(json.dumps([result.source.name, result.status.value, result.output and result.output.name,
                      result.reason, result.notes]))
    if n + 1 == int(os.environ.get("STOP_AFTER", "0")):
        results.close()
        break
print(json.dumps(["forked", forked]))
"""


def _rows(text: str) -> list[list[Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(folder: Path, out: Path, setup: str = "", **env: str) -> tuple[list[list[Any]], list[int]]:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=setup), str(folder), str(out)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **env},
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rows = _rows(proc.stdout)
    forked = rows.pop()
    assert forked[0] == "forked"
    return rows, forked[1]


def procpool_workers() -> int:
    cores = len(os.sched_getaffinity(0))
    if cores < 2:
        pytest.skip("one core: a batch is cleaned in-process, there is no worker to test")
    return min(8, cores)


def _photos(folder: Path, count: int = 12) -> Path:
    folder.mkdir()
    sources = (
        sorted((CORPUS / "jpeg").glob("*.jpg"))[: count - 2] + sorted((CORPUS / "png").glob("*.png"))[:2]
    )
    for path in sources:
        shutil.copyfile(path, folder / path.name)
    return folder


def _temp_files(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.name.startswith(".safeshare-")]


def test_chunks_cover_every_index_once_in_order_and_shrink_towards_the_end() -> None:
    for count in (1, 4, 7, 107, 1000):
        for workers in (1, 2, 8):
            chunks = procpool.chunked(count, workers)
            assert [i for chunk in chunks for i in chunk] == list(range(count))
            sizes = [len(chunk) for chunk in chunks]
            assert sizes == sorted(sizes, reverse=True) and max(sizes) <= 16
    assert procpool.chunked(1000, 2)[-1] == [999]


def test_a_batch_in_worker_processes_writes_what_one_process_writes(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "in")
    rows, forked = _run(folder, tmp_path / "out")
    assert forked == [procpool_workers()]
    for path in sorted(folder.iterdir()):  # the same files one by one, each cleaned in-process
        single = run_cli("clean", str(path), "--output", str(tmp_path / "single"))
        assert single.returncode in (0, 1), single.stderr
    assert [row[0] for row in rows] == sorted(p.name for p in folder.iterdir())  # in the batch's order
    for name, status, output, _reason, _notes in rows:
        mine, alone = tmp_path / "out" / str(output), tmp_path / "single" / str(output)
        assert (status == "cleaned") == alone.exists(), name
        if status == "cleaned":
            assert mine.read_bytes() == alone.read_bytes(), name
    assert _temp_files(tmp_path / "out") == []


def test_names_are_given_in_the_batch_order_whichever_worker_finishes_first(tmp_path: Path) -> None:
    """Many inputs wanting one name: the first in the batch gets it, the next '(2)', ..."""
    folder = tmp_path / "in"
    big = CORPUS / "jpeg" / "exif-samples__HMD_Nokia_8.3_5G.jpg"
    small = sorted((CORPUS / "jpeg").glob("*.jpg"))[0]
    for n in range(8):  # big and small alternate: the small ones are staged first
        sub = folder / f"d{n}"
        sub.mkdir(parents=True)
        shutil.copyfile(big if n % 2 == 0 else small, sub / "IMG.jpg")
    out = tmp_path / "out"
    proc = run_cli(
        "clean", *(str(folder / f"d{n}" / "IMG.jpg") for n in range(8)), "--output", str(out), "--json"
    )
    assert proc.returncode == 0, proc.stderr
    records = json_lines(proc.stdout)
    assert [Path(r["output"]).name for r in records] == ["IMG.jpg"] + [f"IMG ({n}).jpg" for n in range(2, 9)]
    for n, record in enumerate(records):
        assert Path(record["input"]).parent.name == f"d{n}"
        assert (
            Path(record["output"]).stat().st_size
            == (out / ("IMG.jpg" if n % 2 == 0 else "IMG (2).jpg")).stat().st_size
        )


KILL_ONE = """
from safeshare import pipeline as pipeline_mod
real_prepare = pipeline_mod.Pipeline.prepare
def prepare(self, source, opener=pipeline_mod.open_path):
    if source.name == os.environ["KILL_AT"]:
        os.kill(os.getpid(), signal.SIGKILL)  # the worker dies as the OOM killer would kill it
    return real_prepare(self, source, opener)
pipeline_mod.Pipeline.prepare = prepare
"""


def test_a_worker_killed_costs_the_file_it_was_on_said_so_and_the_rest_are_cleaned(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "in")
    names = sorted(p.name for p in folder.iterdir())
    victim = names[1]  # in the first chunk: the files after it were given to the same worker
    rows, forked = _run(folder, tmp_path / "out", KILL_ONE, KILL_AT=victim)
    assert forked == [procpool_workers()]
    by_name = {row[0]: row for row in rows}
    assert sorted(by_name) == names
    _, status, output, reason, _ = by_name[victim]
    assert status == "failed" and output is None
    assert reason == "the cleaning process stopped (killed by SIGKILL); nothing was written for this file"
    for name in names:
        if name != victim and by_name[name][1] == "failed":
            pytest.fail(f"{name} failed with its worker: {by_name[name][3]}")
    assert sum(row[1] == "cleaned" for row in rows) >= len(names) - 2  # one truncated file may be refused
    assert _temp_files(tmp_path / "out") == []


def test_stopping_a_batch_early_publishes_nothing_more_and_leaves_no_temp_file(tmp_path: Path) -> None:
    folder = _photos(tmp_path / "in", 16)
    out = tmp_path / "out"
    rows, forked = _run(folder, out, STOP_AFTER="3")
    assert forked == [procpool_workers()] and len(rows) == 3
    published = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert published == sorted(str(row[2]) for row in rows if row[2])
    assert _temp_files(out) == []


LOCK_CHECK = """
from safeshare.fsops import in_use
real_publish = batch.RunNames.publish
def publish(self, ready):
    print(json.dumps(["locked", in_use(ready.staged.path), ready.staged.lock_fd >= 0]))
    return real_publish(self, ready)
batch.RunNames.publish = publish
"""


def test_a_staged_copy_stays_locked_while_it_passes_from_worker_to_parent(tmp_path: Path) -> None:
    """A daemon starting meanwhile must not take a staged copy for a crash's leftover."""
    folder = _photos(tmp_path / "in", 6)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(setup=LOCK_CHECK), str(folder), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=True,
    )
    checks = [row for row in _rows(proc.stdout) if row[0] == "locked"]
    assert checks and all(row == ["locked", True, True] for row in checks)


def test_replies_longer_than_one_socket_message_arrive_whole_with_their_descriptors(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    marker.write_bytes(b"x")

    def task(index: int) -> procpool.Reply:
        fd = os.open(marker, os.O_RDONLY)
        return procpool.Reply(("payload", index, b"\x01" * (index * 50_000)), [fd])

    pool = procpool.ForkPool(task, 2)
    try:
        got = {}
        for index, payload, fds in pool.results(procpool.chunked(6, 2)):
            assert len(fds) == 1 and os.fstat(fds[0]).st_ino == marker.stat().st_ino
            os.close(fds[0])
            got[index] = payload
    finally:
        pool.close()
    assert got == {i: ("payload", i, b"\x01" * (i * 50_000)) for i in range(6)}


def test_a_worker_that_dies_between_files_loses_nothing_it_had_not_begun() -> None:
    def task(index: int) -> procpool.Reply:
        if index == 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return procpool.Reply(index)

    pool = procpool.ForkPool(task, 1)
    try:
        got = list(pool.results([[0, 1, 2], [3]]))
    finally:
        pool.close()
    lost = {index: payload for index, payload, _ in got}
    assert lost[0] == procpool.Lost(
        "the cleaning process stopped (killed by SIGKILL); nothing was written for this file", started=True
    )
    assert all(lost[i] == procpool.Lost(lost[i].reason, started=False) for i in (1, 2, 3))  # type: ignore[attr-defined]


def test_no_worker_runs_further_ahead_of_a_slow_file_than_the_window(tmp_path: Path) -> None:
    """One slow file (a big HEIC, a decoder near its time limit) while the other workers
    race on: the parent, which publishes in order, would hold every staged file meanwhile,
    two descriptors each, up to the open-file limit."""
    release = tmp_path / "release"

    def task(index: int) -> procpool.Reply:
        if index == 0:
            for _ in range(400):  # until the parent has seen what it can, at most 2 s
                if release.exists():
                    break
                time.sleep(0.005)
        return procpool.Reply(index)

    pool = procpool.ForkPool(task, 2)
    pool.window = 40
    ahead = []
    try:
        for index, _payload, _fds in pool.results(procpool.chunked(200, 2)):
            if index == 0:
                break
            ahead.append(index)
            if len(ahead) >= 16:  # what the window lets through: index 0 may go on
                release.touch()
    finally:
        pool.close()
    assert ahead and max(ahead) < 40 + 16  # without the window, the other worker would be near 199


def _many(folder: Path, count: int) -> Path:
    folder.mkdir()
    sources = sorted((CORPUS / "jpeg").glob("*.jpg"))[:40]
    for n in range(count):
        source = sources[n % len(sources)]
        shutil.copyfile(source, folder / f"{n:04d}_{source.name}")
    return folder


@pytest.mark.parametrize("cores", ["all", "one"])
@pytest.mark.parametrize("signame", ["SIGINT", "SIGTERM"])
def test_a_batch_stopped_by_a_signal_leaves_no_temp_file_and_reports_every_copy(
    tmp_path: Path, cores: str, signame: str
) -> None:
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM: exit 130,
    every copy on disk was reported, no temp file, no worker left running."""
    folder = _many(tmp_path / "in", 300)
    out = tmp_path / "out"
    affinity = {min(os.sched_getaffinity(0))} if cores == "one" else os.sched_getaffinity(0)
    command = [
        sys.executable,
        "-m",
        "safeshare",
        "clean",
        "--no-vision",
        "--json",
        str(folder),
        "-o",
        str(out),
    ]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,  # unbuffered: the first line is read alone, the rest by communicate()
        start_new_session=True,
        preexec_fn=lambda: os.sched_setaffinity(0, affinity),
    )
    assert proc.stdout is not None
    first = proc.stdout.readline().decode()  # it is working: stop it now
    assert first
    os.killpg(proc.pid, getattr(signal, signame)) if signame == "SIGINT" else proc.send_signal(signal.SIGTERM)
    out_bytes, err_bytes = proc.communicate(timeout=120)
    rest, errors = out_bytes.decode(), err_bytes.decode()
    assert proc.returncode == 130, errors
    reported = {Path(r["output"]).name for r in json_lines(first + rest) if r["output"]}
    on_disk = {p.name for p in out.iterdir()} if out.exists() else set()
    assert _temp_files(out) == [] if out.exists() else True
    assert on_disk == reported  # nothing published without a line saying so
    assert len(reported) < 300  # it did stop
    leftover = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True, check=False)
    assert leftover.stdout.strip() == "", "processes of the batch still running"


def test_a_reader_that_goes_away_stops_the_batch_in_one_line(tmp_path: Path) -> None:
    """`safeshare clean DIR | head -1`: no traceback, a non-zero exit, no temp file left."""
    folder = _many(tmp_path / "in", 200)
    out = tmp_path / "out"
    command = [sys.executable, "-m", "safeshare", "clean", "--no-vision", str(folder), "-o", str(out)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline().startswith(b"cleaned: ")
    proc.stdout.close()  # as `head -1` does once it has its line
    errors = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert errors.strip().splitlines() == [
        "safeshare: stopped: its output was closed (copies published so far stay)"
    ]
    assert _temp_files(out) == []
